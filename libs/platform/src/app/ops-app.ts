import { DynamicModule, LoggerService, LogLevel, Module } from '@nestjs/common';
import { APP_FILTER, NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance } from 'fastify';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { ErrorEnvelopeFilter } from '../errors/error-envelope.filter';
import { HealthController } from '../health/health.controller';
import { HEALTH_CHECKS } from '../health/health.module';
import { ReadinessChecks } from '../health/readiness-checks';
import { registerRequestContext } from '../logging/request-logging';
import { SecurityEventLog } from '../logging/security-event-log';
import { Metrics } from '../metrics/metrics';
import { MetricsController } from '../metrics/metrics.controller';
import { REDIS_CLIENT } from '../redis/redis-client.module';
import { RedisDurabilityReport } from '../redis/redis-durability';
import { createFastifyAdapter, optional, setupSwagger } from './create-app';

/** The operations listener's own small application, over the instances of the application it watches. */
@Module({})
class OpsModule {
  static of(main: NestFastifyApplication): DynamicModule {
    const shared = (token: string | symbol | (abstract new (...args: never[]) => unknown)) => ({
      provide: token,
      useValue: main.get<unknown>(token, { strict: false }),
    });
    return {
      module: OpsModule,
      imports: [HEALTH_CHECKS],
      controllers: [HealthController, MetricsController],
      providers: [
        shared(APP_CONFIG),
        shared(Metrics),
        shared(REDIS_CLIENT),
        shared(RedisDurabilityReport),
        shared(ReadinessChecks),
        shared(SecurityEventLog),
        { provide: APP_FILTER, useClass: ErrorEnvelopeFilter },
      ],
    };
  }
}

/**
 * Routes of their own an application adds to its operations listener (Bull Board: QueueDashboard), provided under
 * OPS_ROUTES. Registered on the listener's Fastify instance, outside Nest's guards and pipes: they bring their own.
 */
export interface OpsRoutes {
  /** The path served, or undefined when the configuration leaves them off (then register adds nothing). */
  served(): string | undefined;
  register(fastify: FastifyInstance): Promise<void>;
}

export const OPS_ROUTES = Symbol('OPS_ROUTES');

export interface OpsAppOptions {
  /** Serve Swagger UI and the OpenAPI document of `main` (when SWAGGER_ENABLED). */
  swagger: boolean;
  logger: LoggerService | LogLevel[];
}

/**
 * What operators use, kept off the players' port: /metrics, the application's OPS_ROUTES (Bull Board, with ADMIN_*), Swagger UI and the OpenAPI
 * document, and the health checks, on OPS_HOST:OPS_PORT (127.0.0.1 by default). The players' port keeps the health
 * checks for load balancers, and the docs only with DOCS_PUBLIC. Not listening yet: the caller listens (startApp) or
 * injects (the tests).
 */
export async function createOpsApp(main: NestFastifyApplication, { swagger, logger }: OpsAppOptions): Promise<NestFastifyApplication> {
  const config = main.get<AppConfig>(APP_CONFIG, { strict: false });
  const ops = await NestFactory.create<NestFastifyApplication>(OpsModule.of(main), createFastifyAdapter(config), {
    logger,
    abortOnError: false,
  });
  const fastify = ops.getHttpAdapter().getInstance();
  registerRequestContext(fastify);
  await optional<OpsRoutes>(main, OPS_ROUTES)?.register(fastify);
  if (swagger && config.swaggerEnabled) setupSwagger(ops, main);
  return ops;
}
