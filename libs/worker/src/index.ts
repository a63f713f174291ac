export { BatchWorkerModule } from './batch-worker.module';
export { WORKER_PROCESS_DEFAULTS } from './batch.worker';
export { ReceiptRetention } from './receipt-retention';
export { PartitionMaintenance } from './partition-maintenance';
