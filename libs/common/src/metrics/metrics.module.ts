import { Global, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { IngestQueueMonitorModule } from '../queue/ingest-queue-monitor';
import { registerHttpMetrics } from './http-metrics';
import { Metrics } from './metrics';
import { MetricsController } from './metrics.controller';
import { QueueGauges } from './queue-gauges';

/**
 * `GET /metrics` and the Metrics every module records into. Global: the producer, the worker and the error filter
 * inject Metrics wherever they run. Imported by HttpCoreModule, so every application serves it.
 */
@Global()
@Module({
  imports: [IngestQueueMonitorModule],
  controllers: [MetricsController],
  providers: [Metrics, QueueGauges],
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
