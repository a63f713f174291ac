import { Module } from '@nestjs/common';
import { AuthModule } from '#auth';
import { HttpCoreModule } from '#common';
import { IngestModule } from '#ingest';

/** HTTP only: validates, authenticates and queues batches. Registers no processor and opens no database pool. */
@Module({
  imports: [HttpCoreModule, AuthModule, IngestModule],
})
export class GatewayModule {}
