import { BullModule } from '@nestjs/bullmq';
import { Module, OnModuleInit } from '@nestjs/common';
import { useContainer } from 'class-validator';
import { APP_CONFIG, AppConfig, BufferedEvents, fastFailRedisOptions, INGEST_QUEUE, JSON_BODY_RULES } from '#common';
import { BatchReceiptService } from './batch-receipt.service';
import { BatchesController } from './batches.controller';
import { IngestController } from './ingest.controller';
import { IngestProducer } from './ingest.producer';
import { CustomdataConstraint, TimestampConstraint } from './validation/constraints';
import { ingestBodyRules } from './dto/ingest-batch.dto';
import { OPENAPI_AMENDMENT } from '#common';
import { EVENT_TYPES_IN_OPENAPI } from './event-types.openapi';

/**
 * The HTTP side of ingestion: validation, the controllers, the producer and batch receipts. Registers no processor.
 * Receipts read BatchReceiptStore: the root module imports `PersistenceModule.forRoot(...)` beside this one.
 */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        connection: fastFailRedisOptions(config.queue.redisUrl, config.queue.redisTlsCa),
        prefix: config.queue.prefix,
      }),
    }),
    BullModule.registerQueue({ name: INGEST_QUEUE }),
  ],
  controllers: [IngestController, BatchesController],
  providers: [
    IngestProducer,
    BufferedEvents,
    BatchReceiptService,
    TimestampConstraint,
    CustomdataConstraint,
    { provide: JSON_BODY_RULES, inject: [APP_CONFIG], useFactory: (config: AppConfig) => ingestBodyRules(config.limits) },
    { provide: OPENAPI_AMENDMENT, useValue: EVENT_TYPES_IN_OPENAPI },
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
