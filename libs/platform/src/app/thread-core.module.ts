import { DynamicModule, Module } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { HealthModule } from '../health/health.module';
import { MetricsModule } from '../metrics/metrics.module';
import { RedisClientModule } from '../redis/redis-client.module';

/**
 * What a worker thread of an application needs (the all-in-one's writer): the configuration its main thread
 * validated and sent it (a thread reads no environment), the Redis clients, a metrics registry (its counts reach
 * `/metrics` through the main thread: Metrics.addThread) and the readiness checks its modules register. No HTTP.
 */
@Module({})
export class ThreadCoreModule {
  static of(config: AppConfig): DynamicModule {
    return {
      module: ThreadCoreModule,
      global: true,
      imports: [RedisClientModule, HealthModule, MetricsModule],
      providers: [{ provide: APP_CONFIG, useValue: config }],
      exports: [APP_CONFIG],
    };
  }
}
