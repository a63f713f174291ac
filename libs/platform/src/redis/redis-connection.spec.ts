import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { loadConfig } from '../config/app-config';
import { bullmqConnection, closeBullmqConnection, createRedisConnection, describeRedis } from './redis-connection';

// The clients made here are closed before their first attempt to connect can reach anything.

// QUEUE_SHARDS: a Cluster needs the queue sharded (app-config.ts), which does not change how it connects.
const config = (env: Record<string, string>) => loadConfig({ NODE_ENV: 'test', QUEUE_SHARDS: '3', ...env }).queue.redis;
const SENTINEL = {
  REDIS_SENTINELS: 's1:26379,s2:26379',
  REDIS_SENTINEL_MASTER: 'mymaster',
  REDIS_USERNAME: 'ingest',
  REDIS_PASSWORD: 'pw',
};

describe('one way to connect to Redis, whatever the topology', () => {
  it('gives BullMQ options for one server and for Sentinel, by role, with credentials and TLS', () => {
    const single = bullmqConnection(config({ REDIS_URL: 'rediss://u:p@h:6380/2' }), 'command');
    assert.ok(!(single instanceof Cluster));
    assert.deepEqual(
      {
        host: single.host,
        port: single.port,
        db: single.db,
        username: single.username,
        tls: single.tls as unknown,
        offline: single.enableOfflineQueue,
      },
      { host: 'h', port: 6380, db: 2, username: 'u', tls: {}, offline: false },
    );
    const sentinel = bullmqConnection(config({ ...SENTINEL, REDIS_SENTINEL_PASSWORD: 'sp', REDIS_TLS: 'true' }), 'worker');
    assert.ok(!(sentinel instanceof Cluster));
    assert.deepEqual(sentinel.sentinels, [
      { host: 's1', port: 26379 },
      { host: 's2', port: 26379 },
    ]);
    assert.equal(sentinel.name, 'mymaster');
    assert.equal(sentinel.password, 'pw');
    assert.equal(sentinel.sentinelPassword, 'sp');
    assert.equal(sentinel.enableTLSForSentinelMode, true);
    assert.equal(sentinel.maxRetriesPerRequest, null, 'BullMQ workers need maxRetriesPerRequest null');
  });

  it('makes a Cluster for REDIS_CLUSTER_NODES, for BullMQ too, with the credentials on every node', async () => {
    const cluster = createRedisConnection(config({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_USERNAME: 'u', REDIS_PASSWORD: 'p' }), 'command');
    assert.ok(cluster instanceof Cluster);
    assert.equal(cluster.options.enableOfflineQueue, false);
    assert.equal(cluster.options.redisOptions?.password, 'p');
    assert.equal(cluster.options.redisOptions?.maxRetriesPerRequest, 1);
    cluster.disconnect();
    const forWorker = bullmqConnection(config({ REDIS_CLUSTER_NODES: 'a:7000' }), 'worker');
    assert.ok(forWorker instanceof Cluster);
    assert.equal(forWorker.options.redisOptions?.maxRetriesPerRequest, null);
    await closeBullmqConnection(forWorker);
    assert.match(forWorker.status, /^(disconnecting|end)$/);
  });

  it('makes a Redis for one server and for Sentinel', () => {
    for (const env of [{ REDIS_URL: 'redis://h:1' }, SENTINEL]) {
      const redis = createRedisConnection(config(env), 'command');
      assert.ok(redis instanceof Redis);
      redis.disconnect();
    }
  });

  it('describes where Redis is without its credentials', () => {
    assert.equal(describeRedis(config({ REDIS_URL: 'redis://u:secret@h:6380/3' })), 'Redis h:6380 db 3');
    assert.equal(describeRedis(config(SENTINEL)), 'Redis Sentinel master "mymaster" via s1:26379,s2:26379');
    assert.equal(describeRedis(config({ REDIS_CLUSTER_NODES: '[::1]:7000', REDIS_TLS: '1' })), 'Redis Cluster [::1]:7000 (TLS)');
  });
});
