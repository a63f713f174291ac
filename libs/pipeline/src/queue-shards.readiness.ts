import { Injectable, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig, InjectConfig, InjectRedis, ReadinessChecks } from '#platform';
import { queueShards } from './queue-shards';

/**
 * With QUEUE_SHARDS > 1, adds `queue_shards` to GET /health/ready: a read of a key of each shard, which a cluster
 * client sends to the node holding that shard's slot, so every node holding a shard is checked. With one shard the
 * `redis` check is that check already.
 */
@Injectable()
export class QueueShardsReadiness implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessChecks,
    @InjectRedis() private readonly redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    if (this.config.queue.shards === 1) return;
    const shards = queueShards(this.config.queue);
    this.readiness.add('queue_shards', () => Promise.all(shards.map((shard) => this.redis.exists(shard.counterKey))));
  }
}
