import { Global, Inject, Module } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { AppConfig, loadConfig } from './app-config';

export const APP_CONFIG = Symbol('APP_CONFIG');

/** Injects the validated configuration: `constructor(@InjectConfig() config: AppConfig)`. */
export const InjectConfig = (): ParameterDecorator => Inject(APP_CONFIG);

let processConfig: AppConfig | undefined;

/** The one place that reads process.env. Tests override APP_CONFIG with `loadConfig({...})` instead. */
export function configFromProcessEnv(): AppConfig {
  // A local .env fills in what the real environment does not set; it never overrides it.
  if (processConfig === undefined && existsSync('.env')) process.loadEnvFile('.env');
  processConfig ??= loadConfig(process.env);
  return processConfig;
}

@Global()
@Module({
  providers: [{ provide: APP_CONFIG, useFactory: configFromProcessEnv }],
  exports: [APP_CONFIG],
})
export class ConfigModule {}
