export * from './batch-worker.module';
export * from './batch.processor';
export * from './batch.worker';
export * from './data-source.options';
export * from './event.entity';
export * from './event.store';
export * from './persistence.module';
export * from './typeorm-event.store';
