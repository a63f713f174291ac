import { Global, Module, OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { IngestQueueMonitorModule } from '../queue/ingest-queue-monitor';
import { registerHttpMetrics } from './http-metrics';
import { ActivitySummary } from './activity-summary';
import { Metrics } from './metrics';
import { QueueGauges } from './queue-gauges';

/**
 * The Metrics every module records into. Global: the producer, the worker and the error filter inject Metrics wherever
 * they run. Imported by HttpCoreModule; `GET /metrics` (MetricsController) is served by the operations listener.
 */
@Global()
@Module({
  imports: [IngestQueueMonitorModule],
  providers: [Metrics, QueueGauges, ActivitySummary],
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
