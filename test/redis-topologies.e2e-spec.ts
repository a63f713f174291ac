import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { queueShards } from '#pipeline';
import { keySlot } from '#platform';
import { PrivateRedis, startService } from './support/processes';
import { makeCertificates, NO_PERSISTENCE, RedisClusterNodes, SentinelGroup } from './support/redis-topologies';
import { Answer, sendBatch as send, Traffic, writtenOnce } from './support/batch-traffic';
import { createTestDatabase, eventually, TEST_SECRET } from './support/test-app';

// The service on Redis Sentinel and on Redis Cluster, each run by this file on free ports, the service built and
// started as `npm run start:prod` does. Redis runs without persistence (appendonly no), as by default: only
// REDIS_WAIT_REPLICAS=1 keeps a failover from losing a batch already answered 202 (docs/guarantees.md#redis-failover).

describe('Redis Sentinel and Redis Cluster', { timeout: 240_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: Pool;
  const env = (extra: Record<string, string>) => ({
    DATABASE_URL: database.url,
    JWT_SECRET: TEST_SECRET,
    RATE_LIMIT_PER_SUB_PER_SECOND: '0',
    RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND: '0',
    RATE_LIMIT_PER_IP_PER_SECOND: '0',
    ...extra,
  });

  before(async () => {
    database = await createTestDatabase();
    db = new Pool({ connectionString: database.url, max: 1 });
  });
  after(async () => {
    await db.end();
    await database.drop();
  });

  it('Sentinel: killing the primary gives 503s, never a hang or a crash, then 202s again by themselves; every 202 is written once', async (t) => {
    const group = await SentinelGroup.start();
    const service = await startService(
      'all-in-one',
      env({
        REDIS_SENTINELS: group.addresses,
        REDIS_SENTINEL_MASTER: SentinelGroup.MASTER,
        REDIS_WAIT_REPLICAS: '1',
        QUEUE_PREFIX: `sentinel-${randomUUID().slice(0, 8)}`,
      }),
    );
    try {
      await eventually(async () => ((await send(service.url)).status === 202 ? true : undefined), 15_000);
      const traffic = new Traffic([service.url]);
      const { answers } = traffic;
      await traffic.until(() => answers.length >= 40, 10_000);
      const killedAt = Date.now();
      const primary = await group.currentPrimaryPort();
      assert.equal(primary, group.primary.port);
      await group.primary.kill();
      const resumed = () => {
        const after = answers.filter((answer) => answer.at > killedAt);
        const lastRefused = Math.max(0, ...after.filter((answer) => answer.status !== 202).map((answer) => answer.at));
        return lastRefused > 0 && after.filter((answer) => answer.at > lastRefused && answer.status === 202).length >= 20;
      };
      await traffic.until(resumed, 60_000);

      const statuses = new Set(answers.map((answer) => answer.status));
      assert.ok(
        [...statuses].every((status) => status === 202 || status === 503),
        `answers: ${[...statuses].join(', ')} (0: no answer within 2.5 s)`,
      );
      assert.ok(resumed(), '202s come back by themselves after the failover');
      assert.notEqual(await group.currentPrimaryPort(), group.primary.port, 'a replica was promoted');
      const refused = answers.filter((answer) => answer.status === 503);
      const firstRefused = Math.min(...refused.map((answer) => answer.at));
      const lastRefused = Math.max(...refused.map((answer) => answer.at));
      t.diagnostic(
        `${answers.length} batches; after the kill, 503s from +${firstRefused - killedAt} ms to +${lastRefused - killedAt} ms ` +
          `(${refused.length} of them); slowest answer ${Math.round(Math.max(...answers.map((answer) => answer.ms)))} ms`,
      );
      assert.ok((await fetch(`${service.url}/health/live`)).ok, 'the service is still running');

      const accepted = answers.filter((answer) => answer.status === 202).map((answer) => answer.batchId!);
      await writtenOnce(db, accepted);
    } finally {
      await service.stop();
      await group.stop();
    }
  });

  it('Sentinel with passwords: REDIS_PASSWORD for the data nodes, REDIS_SENTINEL_PASSWORD for the sentinels, never logged; a wrong one stays not ready', async () => {
    const group = await SentinelGroup.start({ password: 'data-s3cret', sentinelPassword: 'watch-s3cret' });
    const sentinel = {
      REDIS_SENTINELS: group.addresses,
      REDIS_SENTINEL_MASTER: SentinelGroup.MASTER,
      QUEUE_PREFIX: `sentinel-${randomUUID().slice(0, 8)}`,
    };
    const good = await startService(
      'all-in-one',
      env({ ...sentinel, REDIS_PASSWORD: 'data-s3cret', REDIS_SENTINEL_PASSWORD: 'watch-s3cret' }),
    );
    const wrong = await startService('gateway', env({ ...sentinel, REDIS_PASSWORD: 'wrong', REDIS_SENTINEL_PASSWORD: 'watch-s3cret' }));
    try {
      const answer = await eventually(async () => {
        const sent = await send(good.url);
        return sent.status === 202 ? sent : undefined;
      }, 15_000);
      await writtenOnce(db, [answer.batchId!]);
      assert.equal((await fetch(`${wrong.url}/health/ready`)).status, 503);
      assert.match(wrong.logs, /Redis Sentinel master \\?"mymaster\\?" via [^ ]+ unreachable, retrying with backoff: WRONGPASS/);
      for (const service of [good, wrong]) assert.ok(!/s3cret/.test(service.logs), 'no password is logged');
    } finally {
      await Promise.all([good.stop(), wrong.stop()]);
      await group.stop();
    }
  });

  it('Sentinel over TLS: REDIS_TLS with REDIS_TLS_CA_FILE reaches sentinels and primary; without the CA it stays not ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'playsmart-tls-'));
    const tls = makeCertificates(dir);
    const group = await SentinelGroup.start({ tls });
    const sentinel = {
      REDIS_SENTINELS: group.addresses,
      REDIS_SENTINEL_MASTER: SentinelGroup.MASTER,
      QUEUE_PREFIX: `sentinel-${randomUUID().slice(0, 8)}`,
    };
    const verified = await startService('all-in-one', env({ ...sentinel, REDIS_TLS: 'true', REDIS_TLS_CA_FILE: tls.ca }));
    const unverified = await startService('gateway', env({ ...sentinel, REDIS_TLS: 'true' }));
    try {
      const answer = await eventually(async () => {
        const sent = await send(verified.url);
        return sent.status === 202 ? sent : undefined;
      }, 15_000);
      await writtenOnce(db, [answer.batchId!]);
      assert.equal((await fetch(`${unverified.url}/health/ready`)).status, 503, 'a server signed by an unknown CA is not trusted');
    } finally {
      await Promise.all([verified.stop(), unverified.stop()]);
      await group.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Cluster with QUEUE_SHARDS=6: the shards spread over every primary, two each; 202 with REDIS_WAIT_REPLICAS=1, written once', async () => {
    const cluster = await RedisClusterNodes.start();
    // Each shard's keys share its own hash tag; the tags are chosen so that the shards spread over the primaries.
    const prefix = `cluster-${randomUUID().slice(0, 8)}`;
    const shards = queueShards({ prefix, shards: 6 });
    const service = await startService(
      'all-in-one',
      env({ REDIS_CLUSTER_NODES: cluster.addresses, REDIS_WAIT_REPLICAS: '1', QUEUE_PREFIX: prefix, QUEUE_SHARDS: '6' }),
    );
    try {
      const answers: Answer[] = [];
      await eventually(async () => {
        const answer = await send(service.url);
        return answer.status === 202 ? answers.push(answer) : undefined;
      }, 15_000);
      for (let i = 0; i < 11; i++) answers.push(await send(service.url));
      assert.deepEqual(
        answers.map((answer) => answer.status),
        Array.from({ length: 12 }, () => 202),
      );
      await writtenOnce(
        db,
        answers.map((answer) => answer.batchId!),
      );
      const primaries = await Promise.all(shards.map((shard) => cluster.primaryOf(shard.slot!)));
      const perPrimary = new Map<number, number>();
      for (const primary of primaries) perPrimary.set(primary.port, (perPrimary.get(primary.port) ?? 0) + 1);
      assert.deepEqual([...perPrimary.values()], [2, 2, 2], `shards per primary: ${JSON.stringify([...perPrimary])}`);
      assert.equal((await fetch(`${service.url}/health/ready`)).status, 200);
    } finally {
      await service.stop();
      await cluster.stop();
    }
  });

  it('Cluster with a password and TLS: REDIS_PASSWORD, REDIS_TLS and REDIS_TLS_CA_FILE reach every node, never logged; a wrong password stays not ready', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'playsmart-tls-'));
    const tls = makeCertificates(dir);
    const cluster = await RedisClusterNodes.start({ password: 'cluster-s3cret', tls });
    const common = { REDIS_CLUSTER_NODES: cluster.addresses, REDIS_TLS: 'true', REDIS_TLS_CA_FILE: tls.ca, QUEUE_SHARDS: '3' };
    const good = await startService(
      'all-in-one',
      env({ ...common, REDIS_PASSWORD: 'cluster-s3cret', QUEUE_PREFIX: `cluster-${randomUUID().slice(0, 8)}` }),
    );
    const wrong = await startService(
      'gateway',
      env({ ...common, REDIS_PASSWORD: 'wrong-s3cret', QUEUE_PREFIX: `cluster-${randomUUID().slice(0, 8)}` }),
    );
    try {
      const answers: Answer[] = [];
      await eventually(async () => {
        const answer = await send(good.url);
        return answer.status === 202 ? answers.push(answer) : undefined;
      }, 15_000);
      // Round the three shards, one per primary.
      for (let i = 0; i < 5; i++) answers.push(await send(good.url));
      assert.deepEqual(
        answers.map((answer) => answer.status),
        [202, 202, 202, 202, 202, 202],
      );
      await writtenOnce(
        db,
        answers.map((answer) => answer.batchId!),
      );
      assert.equal((await fetch(`${good.url}/health/ready`)).status, 200);
      assert.equal((await fetch(`${wrong.url}/health/ready`)).status, 503);
      for (const service of [good, wrong]) assert.ok(!/s3cret/.test(service.logs), 'no password is logged');
    } finally {
      await Promise.all([good.stop(), wrong.stop()]);
      await cluster.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Cluster: killing the primary of the queue slot gives 503s, never a hang; 202s resume once the promoted replica has a replica again; every 202 is written once', async (t) => {
    const cluster = await RedisClusterNodes.start();
    const prefix = `{cluster-${randomUUID().slice(0, 8)}}`;
    const service = await startService(
      'all-in-one',
      env({ REDIS_CLUSTER_NODES: cluster.addresses, REDIS_WAIT_REPLICAS: '1', QUEUE_PREFIX: prefix }),
    );
    try {
      await eventually(async () => ((await send(service.url)).status === 202 ? true : undefined), 15_000);
      const traffic = new Traffic([service.url]);
      const { answers } = traffic;
      await traffic.until(() => answers.length >= 40, 10_000);
      const slot = keySlot(prefix);
      const primary = await cluster.primaryOf(slot);
      const killedAt = Date.now();
      await primary.kill();
      // The replica is promoted; it has no replica of its own until the old primary comes back as one (WAIT 1 fails).
      const survivor = cluster.nodes.find((node) => node !== primary)!;
      // Batches keep coming during the failover (cluster-node-timeout 1 s, then the replica's election).
      await traffic.until(() => false, 4000);
      const promoted = await cluster.primaryOf(slot, survivor.port);
      assert.notEqual(promoted, primary, 'a replica was promoted');
      const restartedAt = Date.now();
      await primary.restart();
      const resumed = () => answers.filter((answer) => answer.at > restartedAt && answer.status === 202).length >= 20;
      await traffic.until(resumed, 60_000);

      const slow = answers
        .filter((answer) => answer.ms > 2000)
        .map((answer) => `${answer.status} at +${answer.at - killedAt} ms took ${Math.round(answer.ms)} ms`);

      const statuses = new Set(answers.map((answer) => answer.status));
      assert.ok(
        [...statuses].every((status) => status === 202 || status === 503),
        `answers: ${[...statuses].join(', ')} (0: no answer within 2.5 s); slower than 2 s: ${slow.join('; ')}`,
      );
      assert.ok(resumed(), '202s come back by themselves once the new primary has a replica');
      const refused = answers.filter((answer) => answer.status === 503);
      t.diagnostic(
        `${answers.length} batches; ${refused.length} 503s from +${Math.min(...refused.map((a) => a.at)) - killedAt} ms to ` +
          `+${Math.max(...refused.map((a) => a.at)) - killedAt} ms after the kill (old primary restarted at +${restartedAt - killedAt} ms); ` +
          `slowest answer ${Math.round(Math.max(...answers.map((answer) => answer.ms)))} ms`,
      );
      assert.ok((await fetch(`${service.url}/health/live`)).ok, 'the service is still running');
      await writtenOnce(
        db,
        answers.filter((answer) => answer.status === 202).map((answer) => answer.batchId!),
      );
    } finally {
      await service.stop();
      await cluster.stop();
    }
  });

  it('REDIS_WAIT_REPLICAS=1 costs a replication round trip: 202 latency with N=0 and N=1 on a primary and its replica', async (t) => {
    const primary = await PrivateRedis.start(undefined, NO_PERSISTENCE);
    const replica = await PrivateRedis.start(undefined, [...NO_PERSISTENCE, '--replicaof', '127.0.0.1', String(primary.port)]);
    const percentile = (sorted: number[], p: number) =>
      sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))].toFixed(2);
    try {
      // WAIT alone, on one connection: a write, then WAIT 1 (or not), one after the other.
      const direct = new Redis(primary.url);
      await eventually(async () => ((await direct.wait(1, 100)) === 1 ? true : undefined), 10_000);
      for (const replicas of [0, 1, 0, 1]) {
        const ms: number[] = [];
        for (let i = 0; i < 2000; i++) {
          const clock = performance.now();
          await direct.set(`wait-cost-${i % 10}`, 'x');
          if (replicas > 0) await direct.wait(replicas, 500);
          ms.push(performance.now() - clock);
        }
        ms.sort((a, b) => a - b);
        t.diagnostic(`SET${replicas > 0 ? ' + WAIT 1' : ''}: p50 ${percentile(ms, 50)} ms, p99 ${percentile(ms, 99)} ms (2000 in a row)`);
      }
      await direct.del(...Array.from({ length: 10 }, (_, i) => `wait-cost-${i}`));
      direct.disconnect();
      for (const replicas of ['0', '1']) {
        const service = await startService(
          'gateway',
          env({ REDIS_URL: primary.url, REDIS_WAIT_REPLICAS: replicas, QUEUE_PREFIX: `wait-${randomUUID().slice(0, 8)}` }),
        );
        try {
          await eventually(async () => ((await send(service.url)).status === 202 ? true : undefined), 15_000);
          // Warmed up first, so that both settings are measured on compiled code.
          for (let i = 0; i < 300; i++) await send(service.url);
          for (const concurrency of [1, 16]) {
            const answers: Answer[] = [];
            const started = Date.now();
            await Promise.all(
              Array.from({ length: concurrency }, async () => {
                while (answers.length < 800) answers.push(await send(service.url));
              }),
            );
            const seconds = (Date.now() - started) / 1000;
            assert.deepEqual([...new Set(answers.map((answer) => answer.status))], [202]);
            const ms = answers.map((answer) => answer.ms).sort((a, b) => a - b);
            t.diagnostic(
              `REDIS_WAIT_REPLICAS=${replicas}, ${concurrency} at a time: ${Math.round(answers.length / seconds)} batches/s, ` +
                `p50 ${percentile(ms, 50)} ms, p99 ${percentile(ms, 99)} ms, max ${ms[ms.length - 1].toFixed(1)} ms`,
            );
          }
        } finally {
          await service.stop();
        }
      }
    } finally {
      await replica.stop();
      await primary.stop();
    }
  });
});
