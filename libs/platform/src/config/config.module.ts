import { Inject, Module } from '@nestjs/common';
import { ConfigModule as NestConfigModule, registerAs } from '@nestjs/config';
import { existsSync } from 'node:fs';
import { AppConfig, loadConfig } from './app-config';

let processConfig: AppConfig | undefined;

/**
 * The one place that reads process.env. Tests override APP_CONFIG with `loadConfig({...})` instead. `roleDefaults`,
 * given by the first call (a role's main.ts, through startApp), are what this role's process assumes for variables
 * that neither the environment nor .env sets.
 */
export function configFromProcessEnv(roleDefaults: Readonly<Record<string, string>> = {}): AppConfig {
  // A local .env fills in what the real environment does not set; it never overrides it.
  if (processConfig === undefined && existsSync('.env')) process.loadEnvFile('.env');
  processConfig ??= loadConfig({ ...roleDefaults, ...process.env });
  return processConfig;
}

/**
 * The validated configuration as a @nestjs/config namespace (`app`): `ConfigService.get('app')` and
 * `@Inject(appConfig.KEY)` give the same typed AppConfig. Its factory is our reader, run when the application is
 * created (after loadConfigOrExit has validated the environment, so it returns what that read).
 */
export const appConfig = registerAs('app', (): AppConfig => configFromProcessEnv());

/**
 * The token of the validated configuration: @nestjs/config's own for the namespace, so that a test's
 * `overrideProvider(APP_CONFIG).useValue(loadConfig({...}))` replaces the factory itself and process.env is never read.
 */
export const APP_CONFIG = appConfig.KEY;

/** Injects the validated configuration: `constructor(@InjectConfig() config: AppConfig)`. */
export const InjectConfig = (): ParameterDecorator => Inject(APP_CONFIG);

/**
 * @nestjs/config, global, over our typed reader (loadConfig: every problem at once, each naming its variable).
 *
 * - No `validate` option: @nestjs/config runs it inside forRoot(), that is when this file is imported, before
 *   loadConfigOrExit can print its plain-text message (a throw there is an unhandled rejection with a stack trace),
 *   in every process that imports the module (the tests and `npm run openapi`, whose environments are not a valid
 *   configuration), and it writes what it returns back into process.env. The reader runs as the `load` factory
 *   instead, when the application is created.
 * - `ignoreEnvFile`: .env is read as before, by configFromProcessEnv with Node's own loader, when the configuration
 *   is first read and never over a variable that is set; @nestjs/config would read it at import time, in every process.
 * - `skipProcessEnv`: ConfigService answers from the validated configuration only, never with a raw variable.
 */
@Module({
  imports: [NestConfigModule.forRoot({ isGlobal: true, ignoreEnvFile: true, skipProcessEnv: true, load: [appConfig] })],
})
export class ConfigModule {}
