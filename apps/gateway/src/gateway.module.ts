import { Module } from '@nestjs/common';
import { AuthModule } from '#auth';
import { IngestModule } from '#ingest';
import { PersistenceModule } from '#persistence';
import { HttpCoreModule } from '#platform';

/**
 * HTTP only: validates, authenticates and queues batches, and answers receipts. Registers no processor. It reads
 * receipts from PostgreSQL but never migrates it and does not need it to start, be ready or accept events.
 */
@Module({
  imports: [HttpCoreModule, AuthModule, PersistenceModule.forRoot({ role: 'reader' }), IngestModule],
})
export class GatewayModule {}
