import { Global, Inject, Module } from '@nestjs/common';
import { AppConfig, loadConfig } from './app-config';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Injects the validated configuration: `constructor(@InjectConfig() config: AppConfig)`. */
export const InjectConfig = (): ParameterDecorator => Inject(APP_CONFIG);

let processConfig: AppConfig | undefined;

/** The one place that reads process.env. Tests override APP_CONFIG with `loadConfig({...})` instead. */
export function configFromProcessEnv(): AppConfig {
  processConfig ??= loadConfig(process.env);
  return processConfig;
}

@Global()
@Module({
  providers: [{ provide: APP_CONFIG, useFactory: configFromProcessEnv }],
  exports: [APP_CONFIG],
})
export class ConfigModule {}
