import { BullModule } from '@nestjs/bullmq';
import { Module, OnModuleInit } from '@nestjs/common';
import { useContainer } from 'class-validator';
import { INGEST_QUEUE } from '#contract';
import { PipelineModule } from '#pipeline';
import { API_DOCUMENT, APP_CONFIG, AppConfig, BullmqConnections, JSON_BODY_RULES, REFUSAL_OBSERVER } from '#platform';
import { BatchReceiptService } from './batch-receipt.service';
import { BatchesController } from './batches.controller';
import { ClientConfigController } from './client-config.controller';
import { ClientConfigService } from './client-config.service';
import { ingestBodyRules } from './dto/ingest-batch.dto';
import { INGEST_API_DOCUMENT } from './ingest-api.document';
import { IngestController } from './ingest.controller';
import { IngestQueues } from './ingest-queues';
import { IngestProducer } from './ingest.producer';
import { RejectedEventsCounter } from './rejected-events.counter';
import { SubjectMatchGuard } from './subject-match.guard';
import { SubjectRateLimitGuard } from './subject-rate-limit.guard';
import { CustomdataConstraint, TimestampConstraint } from './validation/constraints';

/**
 * The HTTP side of ingestion: validation, the per-player guards, the controllers, the producer, batch receipts, the
 * count of refused events, the client configuration and the API's document. Registers no processor. Receipts read BatchReceiptStore: the root
 * module imports `PersistenceModule.forRoot(...)` beside this one, and AuthModule, which authenticates the player.
 */
@Module({
  imports: [
    // The unsharded queue (today's key names): the only one with QUEUE_SHARDS=1, drained beside the shards otherwise.
    BullModule.forRootAsync({
      inject: [APP_CONFIG, BullmqConnections],
      useFactory: (config: AppConfig, connections: BullmqConnections) => ({
        connection: connections.for('command'),
        prefix: config.queue.prefix,
      }),
    }),
    BullModule.registerQueue({ name: INGEST_QUEUE }),
    PipelineModule,
  ],
  controllers: [IngestController, BatchesController, ClientConfigController],
  providers: [
    IngestQueues,
    IngestProducer,
    BatchReceiptService,
    ClientConfigService,
    SubjectMatchGuard,
    SubjectRateLimitGuard,
    RejectedEventsCounter,
    { provide: REFUSAL_OBSERVER, useExisting: RejectedEventsCounter },
    { provide: API_DOCUMENT, useValue: INGEST_API_DOCUMENT },
    TimestampConstraint,
    CustomdataConstraint,
    { provide: JSON_BODY_RULES, inject: [APP_CONFIG], useFactory: (config: AppConfig) => ingestBodyRules(config.limits) },
  ],
})
export class IngestModule implements OnModuleInit {
  constructor(
    private readonly timestamp: TimestampConstraint,
    private readonly customdata: CustomdataConstraint,
  ) {}

  /** Hands class-validator the configured constraint instances; it builds every other class itself. */
  onModuleInit(): void {
    const instances = new Map<unknown, object>([
      [TimestampConstraint, this.timestamp],
      [CustomdataConstraint, this.customdata],
    ]);
    useContainer({ get: (type: unknown) => instances.get(type) }, { fallback: true });
  }
}
