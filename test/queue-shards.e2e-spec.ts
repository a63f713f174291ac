import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { BATCH_JOB_FORMAT, encodeBatchJob, INGEST_QUEUE } from '#contract';
import { BufferedEvents, drainedShards, PipelineMetrics, queueShards, unshardedQueue } from '#pipeline';
import { loadConfig, Metrics } from '#platform';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { WorkerModule } from '../apps/worker/src/worker.module';
import { PrivateRedis } from './support/processes';
import {
  bootTestApp,
  createTestDatabase,
  deletePrefix,
  eventually,
  exampleBatch,
  postEvents,
  REDIS_URL,
  TestApp,
  tokenFor,
} from './support/test-app';

// QUEUE_SHARDS=6 on one Redis: the gateway spreads batches over six queues in six hash tags, a worker drains them all
// (and the unsharded queue of the version before shards), the buffered counters add up and return to zero, and the
// operators' tools see every shard. The shard that fails is one whose keys the gateway's Redis user may not touch.

const SHARDS = '6';
const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'correct horse battery staple' };
const AUTHORIZED = { authorization: `Basic ${Buffer.from(`${ADMIN.ADMIN_USER}:${ADMIN.ADMIN_PASSWORD}`).toString('base64')}` };

describe('a sharded queue (QUEUE_SHARDS=6) on one Redis', { timeout: 120_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  const prefix = `test-${randomUUID().slice(0, 8)}`;
  const env = { QUEUE_SHARDS: SHARDS, ...ADMIN };
  const config = loadConfig({ NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: prefix, QUEUE_SHARDS: SHARDS });
  const shards = queueShards(config.queue);
  let redis: Redis;
  let queues: Queue[];

  before(async () => {
    database = await createTestDatabase();
    redis = new Redis(REDIS_URL);
    queues = drainedShards(config.queue).map((shard) => new Queue(INGEST_QUEUE, { connection: redis, prefix: shard.prefix }));
  });
  after(async () => {
    await Promise.all(queues.map((queue) => queue.close()));
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await database.drop();
  });

  const counters = () => Promise.all(drainedShards(config.queue).map(async (shard) => Number((await redis.get(shard.counterKey)) ?? 0)));

  it('spreads batches over the shards, and a worker writes each exactly once; buffered returns to 0, never below', async (ctx) => {
    assert.equal(new Set(shards.map((shard) => shard.slot)).size, 6, 'six slots');
    const gateway = await bootTestApp({ rootModule: GatewayModule, env, shared: { databaseUrl: database.url, prefix } });
    let worker: TestApp | undefined;
    try {
      // A job an old gateway (unsharded, during a rolling upgrade) queued, counted in the unsharded counter.
      const old = new BufferedEvents(
        redis,
        loadConfig({ NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: prefix }),
        new PipelineMetrics(new Metrics()),
      );
      const oldBatch = randomUUID();
      await old.reserve(unshardedQueue(prefix), oldBatch, 3);
      const body = JSON.stringify({ ...exampleBatch('old-gateway') });
      await queues[6].add(
        'batch',
        encodeBatchJob({ batch_id: oldBatch, user_id: 'old-gateway', accepted: 3, received_at: new Date().toISOString(), body }),
        {
          jobId: oldBatch,
        },
      );

      const ids: string[] = [];
      const bufferedSeen: number[] = [];
      for (let i = 0; i < 30; i++) {
        const response = await postEvents(gateway, exampleBatch(`player-${i}`), tokenFor(`player-${i}`));
        assert.equal(response.statusCode, 202, response.body);
        const { batch_id, message } = response.json<{ batch_id: string; message: string }>();
        ids.push(batch_id);
        bufferedSeen.push(Number(/buffered:(\d+)/.exec(message)?.[1]));
      }
      const perShard = await Promise.all(queues.map((queue) => queue.getWaitingCount()));
      assert.deepEqual(perShard, [5, 5, 5, 5, 5, 5, 1], 'five batches in each shard, the old job in the unsharded queue');
      // The reserving shard's count exact, the others' as of ≤ 1 s ago: at least the former, at most the exact total.
      for (const [i, buffered] of bufferedSeen.entries()) {
        assert.ok(buffered >= 3 * (Math.floor(i / 6) + 1) && buffered <= 3 * (i + 2), `batch ${i}: buffered ${buffered}`);
      }
      assert.equal(bufferedSeen[0], 6, "the first answer read every shard's counter: the old gateway's 3 events and its own");
      assert.deepEqual(await counters(), [15, 15, 15, 15, 15, 15, 3]);
      // The job ids are the batch ids, and a receipt finds its batch in whichever shard it is.
      const receipt = await gateway.inject({
        method: 'GET',
        url: `/ingest/batches/${ids[4]}`,
        headers: { authorization: `Bearer ${tokenFor('player-4')}` },
      });
      assert.equal(receipt.json<{ status: string }>().status, 'queued', receipt.body);
      assert.ok(await queues[4].getJob(ids[4]));

      const ready = await gateway.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(ready.statusCode, 200, ready.body);
      assert.equal(ready.json<{ checks: Record<string, string> }>().checks.queue_shards, 'up');

      worker = await bootTestApp({ rootModule: WorkerModule, env, shared: { databaseUrl: database.url, prefix } });
      let lowest = Number.POSITIVE_INFINITY;
      await eventually(async () => {
        const values = await counters();
        lowest = Math.min(lowest, ...values);
        return values.every((value) => value === 0) ? true : undefined;
      }, 30_000);
      assert.ok(lowest >= 0, `a counter went to ${lowest}`);
      const { rows } = await gateway.db.query<{ batch_id: string; events: string }>(
        'SELECT batch_id::text, count(*) AS events FROM events GROUP BY batch_id',
      );
      assert.equal(rows.length, 31);
      assert.ok(
        rows.every((row) => row.events === '3'),
        'each batch written once, three events each',
      );
      assert.deepEqual(new Set(rows.map((row) => row.batch_id)), new Set([...ids, oldBatch]));
      assert.deepEqual(await Promise.all(queues.map((queue) => queue.count())), [0, 0, 0, 0, 0, 0, 0]);

      const metrics = await worker.opsInject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /playsmart_buffered_events\{queue="ingest-events"\} 0/);
      assert.match(metrics.body, /playsmart_queue_shard_jobs\{shard="shard-5",state="waiting"\} 0/);
      assert.match(metrics.body, /playsmart_queue_shard_jobs\{shard="ingest-events",state="waiting"\} 0/);
      ctx.diagnostic(`slots ${shards.map((shard) => `${shard.prefix}=${shard.slot}`).join(' ')}`);
    } finally {
      await worker?.close();
      await gateway.close();
    }
  });

  it('Bull Board and `npm run jobs:retry-failed` cover every shard', async () => {
    // Jobs of a format no worker knows fail at once and are kept as failed: one in shard 1, one in shard 4.
    const failing = [1, 4].map((index) => ({
      index,
      data: {
        ...encodeBatchJob({ batch_id: randomUUID(), user_id: 'u', accepted: 0, received_at: new Date().toISOString(), body: '' }),
        format: BATCH_JOB_FORMAT + 1,
      },
    }));
    const worker = await bootTestApp({ rootModule: WorkerModule, env, shared: { databaseUrl: database.url, prefix } });
    try {
      for (const { index, data } of failing) await queues[index].add('batch', data, { jobId: data.batch_id, attempts: 3 });
      await eventually(
        async () => ((await queues[1].getFailedCount()) + (await queues[4].getFailedCount()) === 2 ? true : undefined),
        10_000,
      );

      const api = await worker.opsInject({ method: 'GET', url: '/admin/queues/api/queues', headers: AUTHORIZED });
      assert.equal(api.statusCode, 200, api.body);
      const board = api.json<{ queues: Array<{ name: string; counts: Record<string, number> }> }>().queues;
      assert.deepEqual(
        board.map((queue) => queue.name).sort(),
        [...shards.map((shard) => `${shard.label}:ingest-events`), 'ingest-events'].sort(),
      );
      assert.equal(board.find((queue) => queue.name === 'shard-4:ingest-events')?.counts.failed, 1);

      const result = spawnSync(process.execPath, ['dist/scripts/retry-failed-jobs.js'], {
        cwd: `${__dirname}/../..`,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: prefix, QUEUE_SHARDS: SHARDS },
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /shard-1: 1 failed job\(s\)/);
      assert.match(result.stdout, /shard-4: 1 failed job\(s\)/);
      assert.match(result.stdout, /^2 failed job\(s\) moved back/m);
    } finally {
      await worker.close();
      for (const { index, data } of failing) await (await queues[index].getJob(data.batch_id))?.remove();
    }
  });

  it('`npm run jobs:reconcile-buffered` takes back a batch counted but not queued, in whichever shard it is', async () => {
    // A reservation whose job add and release both failed, in shard 3.
    const buffered = new BufferedEvents(redis, config, new PipelineMetrics(new Metrics()));
    await buffered.reserve(shards[3], randomUUID(), 5);
    assert.deepEqual(await counters(), [0, 0, 0, 5, 0, 0, 0]);
    const result = spawnSync(process.execPath, ['dist/scripts/reconcile-buffered.js', '--grace-ms', '100'], {
      cwd: `${__dirname}/../..`,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: prefix, QUEUE_SHARDS: SHARDS },
      encoding: 'utf8',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^released 1 batch\(es\) no longer queued \(5 events\); counter 0, reserved 0$/m);
    assert.deepEqual(await counters(), [0, 0, 0, 0, 0, 0, 0]);
  });

  it('a worker takes back by itself, every BUFFER_RECONCILE_INTERVAL_SECONDS, a batch counted and never queued; never one queued', async () => {
    const buffered = new BufferedEvents(redis, config, new PipelineMetrics(new Metrics()));
    // A gateway killed between counting a batch and queueing it, in shard 2; and a batch queued (due in a minute) in shard 5.
    await buffered.reserve(shards[2], randomUUID(), 7);
    const queued = randomUUID();
    await buffered.reserve(shards[5], queued, 3);
    const body = JSON.stringify(exampleBatch());
    await queues[5].add(
      'batch',
      encodeBatchJob({ batch_id: queued, user_id: 'u', accepted: 3, received_at: new Date().toISOString(), body }),
      { jobId: queued, delay: 60_000 },
    );
    const worker = await bootTestApp({
      rootModule: WorkerModule,
      env: { ...env, BUFFER_RECONCILE_INTERVAL_SECONDS: '1' },
      shared: { databaseUrl: database.url, prefix },
    });
    try {
      // Missing at one run, still missing ORPHAN_GRACE_MS later: released.
      await eventually(async () => ((await counters())[2] === 0 ? true : undefined), 15_000);
      assert.deepEqual(await counters(), [0, 0, 0, 0, 0, 3, 0], 'the queued batch stays counted');
    } finally {
      await worker.close();
      await (await queues[5].getJob(queued))?.remove();
      await buffered.release(shards[5], queued, 3);
    }
  });

  it('a shard whose node refuses commands is skipped before a 503, and readiness says so', async () => {
    // A Redis whose only user may touch every key of this prefix except shard 2's: its commands fail as they would on a
    // failing node of a cluster.
    const allowed = shards.filter((shard) => shard.index !== 2).map((shard) => `~${shard.prefix}*`);
    const privateRedis = await PrivateRedis.start(undefined, [
      '--user',
      'default',
      'off',
      '--user',
      'ingest',
      'on',
      '>pw',
      `~${prefix}:*`,
      ...allowed,
      '&*',
      '+@all',
    ]);
    const privateUrl = `redis://ingest:pw@127.0.0.1:${privateRedis.port}`;
    const gateway = await bootTestApp({
      rootModule: GatewayModule,
      env: { ...env, REDIS_URL: privateUrl },
      shared: { databaseUrl: database.url, prefix },
    });
    const direct = new Redis(privateUrl);
    try {
      for (let i = 0; i < 12; i++) {
        const response = await postEvents(gateway, exampleBatch(), tokenFor('device-abc-123'));
        assert.equal(response.statusCode, 202, `batch ${i}: ${response.body}`);
      }
      const counts = await Promise.all(
        shards.map(async (shard) => {
          if (shard.index === 2) return 0;
          const queue = new Queue(INGEST_QUEUE, { connection: direct, prefix: shard.prefix });
          const count = await queue.getWaitingCount();
          await queue.close();
          return count;
        }),
      );
      assert.equal(
        counts.reduce((sum, count) => sum + count, 0),
        12,
        'every batch queued on a working shard',
      );
      const ready = await gateway.inject({ method: 'GET', url: '/health/ready' });
      assert.equal(ready.statusCode, 503);
      assert.match(ready.body, /queue_shards/);
      const metrics = await gateway.opsInject({ method: 'GET', url: '/metrics' });
      assert.match(metrics.body, /playsmart_queue_shard_failures_total\{shard="shard-2"\} [1-9]/);
      assert.doesNotMatch(metrics.body, /playsmart_queue_shard_failures_total\{shard="shard-[013-5]"\}/);
    } finally {
      direct.disconnect();
      await gateway.close();
      await privateRedis.stop();
    }
  });
});
