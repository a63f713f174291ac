import { Global, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { registerHttpMetrics } from './http-metrics';
import { Metrics } from './metrics';

/**
 * The application's metrics registry, which every library registers its metrics in. Global, so that any module can
 * inject it. Imported by HttpCoreModule; `GET /metrics` (MetricsController) is served by the operations listener.
 */
@Global()
@Module({
  providers: [Metrics],
  exports: [Metrics],
})
export class MetricsModule implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly metrics: Metrics,
  ) {}

  onModuleInit(): void {
    // Absent in a context without HTTP (an application context, an OpenAPI preview).
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify !== undefined) registerHttpMetrics(fastify, this.metrics);
  }
}
