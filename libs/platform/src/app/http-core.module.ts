import { Module } from '@nestjs/common';
import { APP_FILTER, APP_PIPE } from '@nestjs/core';
import { ConfigModule } from '../config/config.module';
import { ErrorEnvelopeFilter } from '../errors/error-envelope.filter';
import { HealthModule } from '../health/health.module';
import { DtoValidationPipe } from '../http/dto-validation.pipe';
import { SecurityLogModule } from '../logging/security-log.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RateLimitModule } from '../rate-limit/rate-limit.module';
import { RedisClientModule } from '../redis/redis-client.module';

/**
 * What every deployable serves over HTTP: configuration, the error envelope, validation, rate limits, health, metrics
 * and the log of refusals.
 */
@Module({
  imports: [ConfigModule, RedisClientModule, RateLimitModule, HealthModule, MetricsModule, SecurityLogModule],
  providers: [
    { provide: APP_FILTER, useClass: ErrorEnvelopeFilter },
    { provide: APP_PIPE, useClass: DtoValidationPipe },
  ],
})
export class HttpCoreModule {}
