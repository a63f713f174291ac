import { Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { fastFailRedisOptions } from './redis-options';

/** A fail-fast Redis client for small commands: health checks and the buffered-events counter. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

export const InjectRedis = (): ParameterDecorator => Inject(REDIS_CLIENT);

@Global()
@Module({
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [APP_CONFIG],
      useFactory: async (config: AppConfig) => {
        const redis = new Redis(fastFailRedisOptions(config.queue.redisUrl));
        // Without an offline queue, commands sent before the first connection fail: give it a moment. A Redis that
        // is down does not stop start-up; readiness reports it and requests answer 503 until it is back.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 2000);
          redis.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        return redis;
      },
    },
  ],
  exports: [REDIS_CLIENT],
})
export class RedisClientModule implements OnApplicationShutdown {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
