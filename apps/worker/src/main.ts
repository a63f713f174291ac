import 'reflect-metadata';
import { startApp } from '#common';
import { WorkerModule } from './worker.module';

void startApp(WorkerModule, 'Worker', { swagger: false });
