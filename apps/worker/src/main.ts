import 'reflect-metadata';
import { startApp } from '#platform';
import { WorkerModule } from './worker.module';

void startApp(WorkerModule, 'Worker', { role: 'worker: writes queued batches to PostgreSQL (no public HTTP)', swagger: false });
