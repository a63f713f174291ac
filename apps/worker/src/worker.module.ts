import { Module } from '@nestjs/common';
import { PersistenceModule } from '#persistence';
import { QueueDashboardModule } from '#pipeline';
import { HttpCoreModule } from '#platform';
import { BatchWorkerModule } from '#worker';

/** Queue processors only; its HTTP port serves health, /metrics and (with ADMIN_*) Bull Board. */
@Module({
  imports: [HttpCoreModule, PersistenceModule.forRoot({ role: 'writer' }), BatchWorkerModule, QueueDashboardModule],
})
export class WorkerModule {}
