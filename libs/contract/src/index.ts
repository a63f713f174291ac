export { EVENT_COLUMNS } from './accepted-event';
export type { AcceptedEvent, EventColumn, EventColumns, SameKeys } from './accepted-event';
export { BATCH_JOB_FORMAT, BatchJobFormatError, INGEST_BATCH_JOB, INGEST_QUEUE, decodeBatchJob, encodeBatchJob } from './batch-job';
export type { IngestBatch, IngestBatchJobData } from './batch-job';
export { BatchReceiptStore } from './batch-receipt.store';
export type { StoredBatchReceipt } from './batch-receipt.store';
export { EventStore, StoreConnection, StoreUnavailable } from './event.store';
export { EventPartitions } from './event-partitions';
export type { PartitionMaintenanceResult } from './event-partitions';
