import 'reflect-metadata';
import { startApp } from '#common';
import { WorkerModule } from './worker.module';

void startApp(WorkerModule, 'Worker', { role: 'worker: writes queued batches to PostgreSQL (no public HTTP)', swagger: false });
