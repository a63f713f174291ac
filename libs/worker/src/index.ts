export { BatchWorkerModule } from './batch-worker.module';
export { ReceiptRetention } from './receipt-retention';
export { PartitionMaintenance } from './partition-maintenance';
