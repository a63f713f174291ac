import { Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ConfigModule } from '../config/config.module';
import { ErrorEnvelopeFilter } from '../errors/error-envelope.filter';
import { HealthModule } from '../health/health.module';
import { RedisClientModule } from '../queue/redis-client.module';
import { DtoValidationPipe } from './dto-validation.pipe';

/** What every deployable serves over HTTP: configuration, the error envelope, validation and health. */
@Module({
  imports: [ConfigModule, RedisClientModule, HealthModule],
  providers: [
    { provide: APP_FILTER, useClass: ErrorEnvelopeFilter },
    { provide: APP_PIPE, useClass: DtoValidationPipe },
  ],
})
export class HttpCoreModule {}
