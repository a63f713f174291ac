import { Global, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Cluster } from 'ioredis';
import type { RedisOptions } from 'bullmq';
import { AppConfig } from '../config/app-config';
import { APP_CONFIG, InjectConfig } from '../config/config.module';
import { connectionOutageLogger, OutageLog } from '../logging/outage-log';
import { Metrics } from '../metrics/metrics';
import { RedisDurabilityReport } from './redis-durability';
import { bullmqConnection, closeBullmqConnection, createRedisConnection, describeRedis, RedisConnection } from './redis-connection';
import { RedisRole } from './redis-options';

/**
 * Reports a Redis client's connection: one line when it cannot connect (ioredis keeps retrying with backoff), a
 * reminder a minute, one line when it is back. Without an 'error' listener ioredis prints every failed attempt with
 * its stack trace. The other connections of the process (BullMQ's) log theirs at debug level: this one speaks for all.
 */
export function watchRedisConnection(redis: RedisConnection, where: string, logger = new Logger('Redis')): void {
  const outage = new OutageLog(connectionOutageLogger(logger), `${where} unreachable, retrying with backoff`);
  redis.on('error', (error: Error) => outage.failed(error));
  redis.on('ready', () => outage.recovered());
}

/**
 * BullMQ's connections (queues, workers), in the configured topology: see bullmqConnection. Closes those BullMQ was
 * handed (a Cluster's) at shutdown, after the queues and workers that use them.
 */
@Injectable()
export class BullmqConnections implements OnApplicationShutdown {
  private readonly handed = new Set<Cluster>();

  constructor(@InjectConfig() private readonly config: AppConfig) {}

  for(role: RedisRole): RedisOptions | Cluster {
    const connection = bullmqConnection(this.config.queue.redis, role);
    if (connection instanceof Cluster) this.handed.add(connection);
    return connection;
  }

  async onApplicationShutdown(): Promise<void> {
    await Promise.all([...this.handed].map((connection) => closeBullmqConnection(connection)));
  }
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
        const redis = createRedisConnection(config.queue.redis, 'command');
        watchRedisConnection(redis, describeRedis(config.queue.redis));
        return redis;
      },
    },
    {
      provide: RedisDurabilityReport,
      inject: [REDIS_CLIENT, Metrics],
      useFactory: (redis: RedisConnection, metrics: Metrics) => new RedisDurabilityReport(redis, metrics),
    },
    BullmqConnections,
  ],
  exports: [REDIS_CLIENT, RedisDurabilityReport, BullmqConnections],
})
export class RedisClientModule implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(@InjectRedis() private readonly redis: RedisConnection) {}

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
