import { INestApplication, Logger, Type } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppConfig, ConfigValidationError } from '../config/app-config';
import { APP_CONFIG, configFromProcessEnv } from '../config/config.module';
import { answerClientError } from '../errors/error-envelope.filter';
import { registerIpRateLimit } from '../rate-limit/ip-rate-limit';
import { RateLimiter } from '../rate-limit/token-bucket';
import { installGracefulShutdown } from './graceful-shutdown';
import { registerJsonBodyParser } from './json-body.parser';
import { createPinoLogger, PinoLoggerService } from '../logging/pino-logger';
import { requestIdFrom } from '../logging/request-context';
import { registerRequestContext } from '../logging/request-logging';

/** Believe the last `hops` proxies, as Fastify's numeric trustProxy does. */
function hopsOf(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  return new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    // Which X-Forwarded-For hops to believe for the client address (the per-IP rate limit): see TRUST_PROXY.
    trustProxy: typeof config.trustProxy === 'number' ? hopsOf(config.trustProxy) : config.trustProxy,
    // X-Request-Id is taken from the client when it is plain and short, generated otherwise.
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => requestIdFrom(request.headers['x-request-id']),
    // Access lines are written by registerRequestContext, with the request id and without headers.
    disableRequestLogging: true,
    // Bodies are parsed by registerJsonBodyParser; these guard the other paths Fastify parses itself.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // A request Node's HTTP parser refuses is answered in the error envelope too.
    clientErrorHandler: answerClientError,
  });
}

export interface ConfigureOptions {
  /** Serve Swagger UI at /docs and the OpenAPI document at /docs-json. */
  swagger: boolean;
}

/** Everything an application needs beyond its module: used by every main.ts and by the end-to-end tests. */
export function configureApp(app: NestFastifyApplication, options: ConfigureOptions): void {
  const config = app.get<AppConfig>(APP_CONFIG);
  registerRequestContext(app.getHttpAdapter().getInstance());
  // The first onRequest hook after the request context: a flood from one address is refused before anything else, body checks included.
  registerIpRateLimit(app.getHttpAdapter().getInstance(), app.get(RateLimiter, { strict: false }));
  registerJsonBodyParser(app.getHttpAdapter().getInstance(), { bodyLimit: config.bodyLimitBytes });
  if (options.swagger && config.swaggerEnabled) setupSwagger(app);
}

/**
 * The OpenAPI document, built from the controllers' metadata only: the running service serves it (setupSwagger) and
 * `npm run openapi` writes it to openapi.json from an app created with `preview: true`, so there is one builder.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  return SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('PlaySmart Ingest')
      .setDescription(
        'Send gameplay events in batches of up to 200. A 202 means the batch is safely queued; a worker writes it to ' +
          'the database within seconds. Use `npm run token -- <player-id>` for a development token.',
      )
      .setVersion('1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .build(),
  );
}

export function setupSwagger(app: NestFastifyApplication): void {
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}

/** Validates the environment first, so that a bad variable stops start-up with a message naming it. */
export function loadConfigOrExit(): AppConfig {
  try {
    return configFromProcessEnv();
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/**
 * Creates, configures and starts an application, as every main.ts does. Never rejects (its callers do not wait for
 * it): a failure to start is written to stderr and ends the process with status 1.
 */
export async function startApp(rootModule: Type<unknown>, name: string, options: ConfigureOptions): Promise<NestFastifyApplication> {
  const config = loadConfigOrExit();
  try {
    const app = await NestFactory.create<NestFastifyApplication>(rootModule, createFastifyAdapter(config), {
      logger: new PinoLoggerService(createPinoLogger(config, name)),
      // Bodies are read by registerJsonBodyParser, not by Nest's default parsers.
      bodyParser: false,
    });
    configureApp(app, options);
    installGracefulShutdown(app, config.shutdownTimeoutMs);
    await app.listen(config.port, config.host);
    new Logger(name).log(
      `listening on http://${config.host}:${config.port}${options.swagger && config.swaggerEnabled ? ' (Swagger UI at /docs)' : ''}`,
    );
    return app;
  } catch (error) {
    process.stderr.write(`${name} could not start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
}
