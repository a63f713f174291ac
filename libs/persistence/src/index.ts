export { dataSourceOptions } from './data-source.options';
export { EmbeddedDatabase } from './embedded-database';
export { initializeAndMigrate } from './migration-runner';
export { MIGRATIONS } from './migrations';
export { PersistenceModule } from './persistence.module';
export { insertBatchesParameters, insertBatchesStatement } from './typeorm-event.store';
