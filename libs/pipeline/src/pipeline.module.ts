import { Module } from '@nestjs/common';
import { ActivitySummary } from './activity-summary';
import { BufferedEvents } from './buffered-events';
import { IngestQueueMonitor } from './ingest-queue-monitor';
import { PipelineMetrics } from './pipeline-metrics';
import { QueueGauges } from './queue-gauges';
import { QueueShardsReadiness } from './queue-shards.readiness';

/**
 * What the gateway and the worker share at run time: the buffered-events counters, the pipeline's metrics and its line a
 * minute, the queue's gauges on /metrics and the readiness of the shards' nodes. Imported by IngestModule and
 * BatchWorkerModule; one instance in a process that runs both.
 */
@Module({
  providers: [BufferedEvents, PipelineMetrics, ActivitySummary, IngestQueueMonitor, QueueGauges, QueueShardsReadiness],
  exports: [BufferedEvents, PipelineMetrics, IngestQueueMonitor],
})
export class PipelineModule {}
