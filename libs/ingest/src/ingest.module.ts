import { BullModule } from '@nestjs/bullmq';
import { Module, OnModuleInit } from '@nestjs/common';
import { useContainer } from 'class-validator';
import { APP_CONFIG, AppConfig, fastFailRedisOptions, INGEST_QUEUE } from '#common';
import { IngestController } from './ingest.controller';
import { IngestProducer } from './ingest.producer';
import { CustomdataConstraint, TimestampConstraint } from './validation/constraints';

/** The HTTP side of ingestion: validation, the controller and the producer. Registers no processor. */
@Module({
  imports: [
    BullModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({ connection: fastFailRedisOptions(config.queue.redisUrl), prefix: config.queue.prefix }),
    }),
    BullModule.registerQueue({ name: INGEST_QUEUE }),
  ],
  controllers: [IngestController],
  providers: [IngestProducer, TimestampConstraint, CustomdataConstraint],
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
