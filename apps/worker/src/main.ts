import 'reflect-metadata';
import { startApp } from '#platform';
import { WORKER_PROCESS_DEFAULTS } from '#worker';
import { WorkerModule } from './worker.module';

void startApp(WorkerModule, 'Worker', {
  role: 'worker: writes queued batches to PostgreSQL (no public HTTP)',
  swagger: false,
  roleDefaults: WORKER_PROCESS_DEFAULTS,
});
