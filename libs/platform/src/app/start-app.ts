import { DynamicModule, Logger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { describeError } from '../logging/describe-error';
import { createPinoLogger, PinoLoggerService } from '../logging/pino-logger';
import { describeRedis } from '../redis/redis-connection';
import { configureApp, ConfigureOptions, createFastifyAdapter, loadConfigOrExit, optional } from './create-app';
import { installGracefulShutdown } from './graceful-shutdown';
import { createOpsApp, OPS_ROUTES, OpsRoutes } from './ops-app';

export interface StartOptions extends ConfigureOptions {
  /** What this process does, as its first log line says it: "all-in-one: HTTP API and queue worker". */
  role: string;
  /** Defaults of this role for variables the environment does not set (a worker process alone writes more at once). */
  roleDefaults?: Readonly<Record<string, string>>;
}

/**
 * Creates, configures and starts an application and its operations listener, as every main.ts does. Never rejects
 * (its callers do not wait for it): a failure to start is written to stderr and ends the process with status 1.
 */
export async function startApp(
  rootModule: Type<unknown> | DynamicModule,
  name: string,
  options: StartOptions,
): Promise<NestFastifyApplication> {
  const config = loadConfigOrExit(options.roleDefaults);
  try {
    const logger = new PinoLoggerService(createPinoLogger(config, name));
    logger.log(
      `${options.role}; ${config.env} mode, Node ${process.versions.node}, pid ${process.pid}; ` +
        `queues in ${describeRedis(config.queue.redis)}, ` +
        `prefix "${config.queue.prefix}"`,
      name,
    );
    const app = await NestFactory.create<NestFastifyApplication>(rootModule, createFastifyAdapter(config), {
      logger,
      // Bodies are read by registerJsonBodyParser, not by Nest's default parsers.
      bodyParser: false,
      // Errors reach the catch below (one line, status 1) instead of Nest's handler, which aborts the process on any,
      // including the absence of a provider configureApp looks for.
      abortOnError: false,
    });
    configureApp(app, options);
    const ops = await createOpsApp(app, { swagger: options.swagger, logger });
    installGracefulShutdown(app, config.shutdownTimeoutMs, ops);
    await app.listen(config.port, config.host);
    await ops.listen(config.ops.port, config.ops.host);
    const docs = options.swagger && config.swaggerEnabled;
    const opsRoutes = optional<OpsRoutes>(app, OPS_ROUTES)?.served();
    new Logger(name).log(
      `listening on http://${config.host}:${config.port}${docs && config.docsPublic ? ' (Swagger UI at /docs)' : ''}; ` +
        `operations on http://${config.ops.host}:${config.ops.port} (/metrics, /health${docs ? ', /docs' : ''}` +
        `${opsRoutes === undefined ? '' : `, ${opsRoutes}`})`,
    );
    return app;
  } catch (error) {
    process.stderr.write(`${name} could not start: ${describeError(error)}\n`);
    process.exit(1);
  }
}
