import { Module } from '@nestjs/common';
import { HttpCoreModule, QueueDashboardModule } from '#common';
import { BatchWorkerModule, PersistenceModule } from '#persistence';

/** Queue processors only; its HTTP port serves health, /metrics and (with ADMIN_*) Bull Board. */
@Module({
  imports: [HttpCoreModule, PersistenceModule.forRoot({ role: 'writer' }), BatchWorkerModule, QueueDashboardModule],
})
export class WorkerModule {}
