export { BufferedEvents } from './buffered-events';
export type { Reservation, ReservedBatch } from './buffered-events';
export { bufferedEventsKey, retryWindowMs } from './ingest-queue';
export { PipelineMetrics } from './pipeline-metrics';
export { PipelineModule } from './pipeline.module';
export { QueueDashboardModule } from './queue-dashboard.module';
export { ADMIN_LOGIN_FAILURES_PER_MINUTE } from './queue-dashboard';
