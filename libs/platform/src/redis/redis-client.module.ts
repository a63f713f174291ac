import { Global, Inject, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { OutageLog } from '../logging/outage-log';
import { Metrics } from '../metrics/metrics';
import { RedisDurabilityReport } from './redis-durability';
import { fastFailRedisOptions, redisOptionsFromUrl } from './redis-options';

/**
 * Reports a Redis client's connection: one line when it cannot connect (ioredis keeps retrying with backoff), a
 * reminder a minute, one line when it is back. Without an 'error' listener ioredis prints every failed attempt with
 * its stack trace. The other connections of the process (BullMQ's) log theirs at debug level: this one speaks for all.
 */
export function watchRedisConnection(redis: Redis, url: string, logger = new Logger('Redis')): void {
  const { host, port } = redisOptionsFromUrl(url);
  const outage = new OutageLog(logger, `Redis ${host}:${port} unreachable, retrying with backoff`);
  redis.on('error', (error: Error) => outage.failed(error));
  redis.on('ready', () => outage.recovered());
}

/** A fail-fast Redis client for small commands: health checks and the buffered-events counter. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');

export const InjectRedis = (): ParameterDecorator => Inject(REDIS_CLIENT);

@Global()
@Module({
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => {
        const redis = new Redis(fastFailRedisOptions(config.queue.redisUrl, config.queue.redisTlsCa));
        watchRedisConnection(redis, config.queue.redisUrl);
        return redis;
      },
    },
    {
      provide: RedisDurabilityReport,
      inject: [REDIS_CLIENT, Metrics],
      useFactory: (redis: Redis, metrics: Metrics) => new RedisDurabilityReport(redis, metrics),
    },
  ],
  exports: [REDIS_CLIENT, RedisDurabilityReport],
})
export class RedisClientModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@InjectRedis() private readonly redis: Redis) {}

  /**
   * Without an offline queue, commands sent before the first connection fail: give it a moment before the service
   * listens. Waited here rather than in the factory, so that every provider (and its error listeners) exists by then.
   * A Redis that is down does not stop start-up; readiness reports it and requests answer 503 until it is back.
   */
  async onApplicationBootstrap(): Promise<void> {
    if (this.redis.status === 'ready') return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.redis.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, 2000);
      this.redis.once('ready', done);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
