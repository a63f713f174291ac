import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { BATCH_JOB_FORMAT, encodeBatchJob, INGEST_QUEUE } from '#contract';
import { BufferedEvents, bufferedEventsKey, PipelineMetrics, queueShards } from '#pipeline';
import { Metrics } from '#platform';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { PrivateRedis, ServiceProcess, startService, TcpProxy } from './support/processes';
import {
  bootTestApp,
  createTestDatabase,
  deletePrefix,
  exampleBatch,
  eventually,
  postEvents,
  REDIS_URL,
  TEST_SECRET,
  TestApp,
  tokenFor,
} from './support/test-app';

// Fault scenarios against real processes: a private redis-server, a TCP proxy in front of PostgreSQL, and
// services started from the build and killed with real signals. After each, the reconciliation invariant must
// hold: every event answered 202 is in `events` exactly once, or is in a retained failed job.

interface Answer {
  status: number;
  body?: { success?: boolean; message?: string; batch_id?: string; error?: { code: string; message: string } };
  retryAfter?: string | null;
  ms: number;
}

async function post(service: ServiceProcess, user: string, events = 3): Promise<Answer> {
  const body = exampleBatch(user);
  body.events = (body.events as unknown[])
    .slice(0, 1)
    .concat(Array.from({ length: events - 1 }, () => ({ type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' })));
  const started = Date.now();
  try {
    const response = await fetch(`${service.url}/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(user)}` },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    return {
      status: response.status,
      body: (await response.json()) as Answer['body'],
      retryAfter: response.headers.get('retry-after'),
      ms: Date.now() - started,
    };
  } catch {
    // Connection refused or reset: the client retries; nothing was accepted.
    return { status: 0, ms: Date.now() - started };
  }
}

/** Every 202'd batch is stored exactly once (its events, no more, no less), unless it is a retained failed job. */
async function assertReconciled(db: Pool, accepted: Answer[], failedBatchIds: ReadonlySet<string> = new Set()): Promise<void> {
  const expected = new Map<string, number>();
  for (const answer of accepted) {
    if (answer.status !== 202) continue;
    expected.set(answer.body!.batch_id!, Number(/^accepted:(\d+)/.exec(answer.body!.message!)![1]));
  }
  const { rows } = await db.query<{ batch_id: string; count: string }>(
    'SELECT batch_id, count(*) FROM events WHERE batch_id = ANY($1) GROUP BY batch_id',
    [[...expected.keys()]],
  );
  const stored = new Map(rows.map((r) => [r.batch_id, Number(r.count)]));
  for (const [batchId, count] of expected) {
    if (failedBatchIds.has(batchId)) continue;
    assert.equal(stored.get(batchId) ?? 0, count, `batch ${batchId} stored exactly once`);
  }
}

async function allStored(db: Pool, accepted: Answer[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await assertReconciled(db, accepted);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

describe('faults', { timeout: 240_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: Pool;
  before(async () => {
    database = await createTestDatabase();
    db = new Pool({ connectionString: database.url, max: 2 });
  });
  // Every prefix a test used, removed from the shared Redis at the end.
  const prefixes: string[] = [];
  after(async () => {
    await db.end();
    await database.drop();
    const redis = new Redis(REDIS_URL);
    for (const prefix of prefixes) await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  const newPrefix = () => {
    prefixes.push(`fault-${randomUUID().slice(0, 8)}`);
    return prefixes[prefixes.length - 1];
  };
  const env = (extra: Record<string, string> = {}) => ({
    DATABASE_URL: database.url,
    JWT_SECRET: TEST_SECRET,
    QUEUE_PREFIX: newPrefix(),
    RATE_LIMIT_PER_SUB_PER_SECOND: '0',
    RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND: '0',
    RATE_LIMIT_PER_IP_PER_SECOND: '0',
    ...extra,
  });

  it('Redis unreachable: 503 with Retry-After within 2 s, readiness 503, and both sides resume when it is back', async (ctx) => {
    const redis = await PrivateRedis.start();
    // A job being handed to the worker when Redis dies stays active in Redis until its lock lapses: keep that short.
    const service = await startService('all-in-one', env({ REDIS_URL: redis.url, WORKER_LOCK_DURATION_MS: '2000' }));
    try {
      const accepted = [await post(service, 'redis-fault')];
      assert.equal(accepted[0].status, 202);

      await redis.kill();
      const during = await post(service, 'redis-fault');
      assert.equal(during.status, 503);
      assert.equal(during.body?.error?.code, 'SERVICE_UNAVAILABLE');
      assert.ok(Number(during.retryAfter) >= 1, 'Retry-After is set');
      assert.ok(during.ms < 2000, `503 after ${during.ms} ms`);
      assert.equal((await fetch(`${service.url}/health/ready`)).status, 503);
      // Long enough for every client to have lost its connection and gone through several reconnect attempts.
      await new Promise((resolve) => setTimeout(resolve, 5000));

      const restartedAt = Date.now();
      await redis.restart();
      const recovered = await eventually(async () => {
        const answer = await post(service, 'redis-fault');
        return answer.status === 202 ? answer : undefined;
      }, 20_000);
      accepted.push(recovered);
      for (let i = 0; i < 5; i++) accepted.push(await post(service, 'redis-fault'));
      await allStored(db, accepted).catch((error: Error) => {
        throw new Error(`${error.message}\n${service.logs}`);
      });
      ctx.diagnostic(
        `redis outage: 503 in ${during.ms} ms; accepting again ${Date.now() - restartedAt} ms after restart; ${accepted.length} batches stored`,
      );
      assert.equal((await fetch(`${service.url}/health/ready`)).status, 200);
    } finally {
      await service.stop();
      await redis.stop();
    }
  });

  it('PostgreSQL unreachable: the gateway keeps accepting and everything lands once it is back', async (ctx) => {
    const proxy = await TcpProxy.start(5432);
    const service = await startService(
      'all-in-one',
      env({ DATABASE_URL: database.url.replace(':5432/', `:${proxy.port}/`), JOB_BACKOFF_MS: '200' }),
    );
    try {
      await proxy.cut();
      const accepted: Answer[] = [];
      for (let i = 0; i < 10; i++) accepted.push(await post(service, 'pg-fault', 20));
      assert.deepEqual(
        accepted.map((a) => a.status),
        Array<number>(10).fill(202),
      );
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const { rows } = await db.query<{ count: string }>(`SELECT count(*) FROM events WHERE user_id = 'pg-fault'`);
      assert.equal(rows[0].count, '0', 'nothing was written during the outage');

      const restoredAt = Date.now();
      await proxy.restore();
      await allStored(db, accepted);
      ctx.diagnostic(
        `postgres outage: 10 batches (200 events) accepted during 3 s outage, all stored ${Date.now() - restoredAt} ms after restore`,
      );
    } finally {
      await service.stop();
      await proxy.cut();
    }
  });

  it('failed jobs are kept and `npm run jobs:retry-failed` writes them once the cause is fixed', async (ctx) => {
    // A failure of the batch's own, not an outage (which waits without spending attempts): the table is missing.
    const settings = env({ JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '100' });
    const service = await startService('all-in-one', settings);
    const queue = new Queue(INGEST_QUEUE, { connection: { host: '127.0.0.1', port: 6379 }, prefix: settings.QUEUE_PREFIX });
    let renamed = false;
    try {
      await db.query('ALTER TABLE events RENAME TO events_away');
      renamed = true;
      const accepted = [await post(service, 'retry-fault')];
      assert.equal(accepted[0].status, 202);
      await eventually(async () => ((await queue.getFailedCount()) === 1 ? true : undefined), 15_000);
      const [failed] = await queue.getFailed();
      assert.equal(failed.id, accepted[0].body?.batch_id, 'the failed job is kept for inspection');
      assert.match(failed.failedReason, /relation "events" does not exist/);
      assert.equal(failed.attemptsMade, 2);

      await db.query('ALTER TABLE events_away RENAME TO events');
      renamed = false;
      const { spawnSync } = await import('node:child_process');
      const result = spawnSync(process.execPath, ['dist/scripts/retry-failed-jobs.js'], {
        cwd: `${__dirname}/../..`,
        env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: settings.QUEUE_PREFIX },
        encoding: 'utf8',
      });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^1 failed job\(s\) moved back/);
      const retriedAt = Date.now();
      await allStored(db, accepted);
      assert.equal(await queue.getFailedCount(), 0);
      ctx.diagnostic(`exhausted job kept as failed, stored ${Date.now() - retriedAt} ms after jobs:retry-failed`);
    } finally {
      if (renamed) await db.query('ALTER TABLE events_away RENAME TO events');
      await queue.close();
      await service.stop();
    }
  });

  it('a job of a format this worker does not know fails at once, is kept as failed naming the format, and writing goes on', async () => {
    const settings = env({ JOB_ATTEMPTS: '5', JOB_BACKOFF_MS: '100' });
    const service = await startService('all-in-one', settings);
    const queue = new Queue(INGEST_QUEUE, { connection: { host: '127.0.0.1', port: 6379 }, prefix: settings.QUEUE_PREFIX });
    try {
      // What a gateway of a later version might queue while this worker still runs.
      const future = {
        ...encodeBatchJob({ batch_id: randomUUID(), user_id: 'u', accepted: 0, received_at: new Date().toISOString(), body: '' }),
        format: BATCH_JOB_FORMAT + 1,
      };
      await queue.add('batch', future, { jobId: future.batch_id, attempts: 5, removeOnFail: false });
      await eventually(async () => ((await queue.getFailedCount()) === 1 ? true : undefined), 15_000);
      const [failed] = await queue.getFailed();
      assert.equal(failed.id, future.batch_id);
      assert.match(failed.failedReason, new RegExp(`job format ${BATCH_JOB_FORMAT + 1} is unknown to this worker`));
      assert.equal(failed.attemptsMade, 1, 'not retried: no attempt of this worker can decode it');
      const accepted = [await post(service, 'format-fault')];
      await allStored(db, accepted);
    } finally {
      await queue.close();
      await service.stop();
    }
  });

  it('a worker killed mid-batch: the stalled job is taken up again and stored exactly once', async (ctx) => {
    const settings = env({ WORKER_LOCK_DURATION_MS: '2000' });
    const gateway = await startService('gateway', settings);
    let worker = await startService('worker', settings);
    const lock = await db.connect();
    try {
      // Hold the table so that the worker is blocked inside its INSERT when it is killed.
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const accepted: Answer[] = [];
      for (let i = 0; i < 5; i++) accepted.push(await post(gateway, 'kill-worker', 50));
      assert.ok(accepted.every((a) => a.status === 202));
      await eventually(async () => {
        const { rows } = await db.query<{ count: string }>(
          `SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%INSERT INTO "events"%'`,
        );
        return Number(rows[0].count) > 0 ? true : undefined;
      });
      worker.kill('SIGKILL');
      await worker.exited();
      await lock.query('ROLLBACK');

      const restartedAt = Date.now();
      worker = await startService('worker', settings);
      await allStored(db, accepted);
      ctx.diagnostic(`worker SIGKILL mid-batch: 250 events stored exactly once ${Date.now() - restartedAt} ms after the restart`);
    } finally {
      lock.release();
      await worker.stop();
      await gateway.stop();
    }
  });

  it('the all-in-one killed under load: every event answered 202 is stored exactly once after a restart', async (ctx) => {
    const settings = env({ WORKER_LOCK_DURATION_MS: '2000' });
    let service = await startService('all-in-one', settings);
    const accepted: Answer[] = [];
    try {
      let killed = false;
      const clients = Array.from({ length: 4 }, async (_, client) => {
        while (!killed) accepted.push(await post(service, `load-${client}`, 100));
      });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      service.kill('SIGKILL');
      killed = true;
      await Promise.all(clients);
      await service.exited();
      service = await startService('all-in-one', settings);
      await allStored(db, accepted);
      const ok = accepted.filter((a) => a.status === 202).length;
      assert.ok(ok > 0);
      ctx.diagnostic(
        `all-in-one SIGKILL under load: ${ok} batches (${ok * 100} events) accepted, all stored once; ${accepted.length - ok} requests failed without a 202`,
      );
    } finally {
      await service.stop();
    }
  });

  it('SIGTERM: stops accepting, finishes in-flight requests and active jobs, exits within the bound, loses nothing', async (ctx) => {
    const settings = env({ SHUTDOWN_TIMEOUT_MS: '10000' });
    const service = await startService('all-in-one', settings);
    const accepted: Answer[] = [];
    let stop = false;
    const clients = Array.from({ length: 4 }, async (_, client) => {
      while (!stop) {
        const answer = await post(service, `term-${client}`, 100);
        accepted.push(answer);
        if (answer.status === 0) break;
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const signalledAt = Date.now();
    service.kill('SIGTERM');
    const code = await service.exited();
    const tookMs = Date.now() - signalledAt;
    stop = true;
    await Promise.all(clients);
    assert.equal(code, 0, service.logs);
    assert.ok(tookMs < 10_000, `exited after ${tookMs} ms`);
    for (const answer of accepted) {
      assert.ok([202, 503, 0].includes(answer.status), `status ${answer.status}`);
      if (answer.status === 503) assert.equal(answer.body?.error?.code, 'SERVICE_UNAVAILABLE');
    }
    // Whatever the stopped worker had not started is still queued: another worker writes it.
    const worker = await startService('worker', settings);
    try {
      await allStored(db, accepted);
    } finally {
      await worker.stop();
    }
    ctx.diagnostic(
      `SIGTERM: exited with 0 after ${tookMs} ms; ${accepted.filter((a) => a.status === 202).length} batches accepted, all stored`,
    );
  });
});

describe('Redis answering after the 503', () => {
  // A gateway alone, so that nothing but the test changes the counter. Its Redis connections go through a proxy
  // that holds one command back for longer than the producer's 1.5 s deadline, then lets it through: at once, or
  // `heldAfterAnswerMs` later.
  const counterOf = (t: TestApp) => t.redis.get(bufferedEventsKey(t.config.queue.prefix));
  // Past ioredis' 2 s command timeout: the command has failed in the gateway before Redis gets it (the late failure
  // that once ended the process; an unhandled rejection would end this test process).
  const PAST_COMMAND_TIMEOUT_MS = 2500;

  async function lateCommand(command: RegExp, check: (t: TestApp) => Promise<void>, heldAfterAnswerMs = 0): Promise<void> {
    const proxy = await TcpProxy.start(6379);
    const t = await bootTestApp({ rootModule: GatewayModule, env: { REDIS_URL: `redis://127.0.0.1:${proxy.port}` } });
    try {
      proxy.holdWhen((chunk) => command.test(chunk.toString('latin1')));
      const refused = await postEvents(t, exampleBatch(), tokenFor('device-abc-123'));
      assert.equal(refused.statusCode, 503);
      assert.deepEqual(refused.json(), { error: { code: 'SERVICE_UNAVAILABLE', message: 'queue_unavailable' } });
      await new Promise((resolve) => setTimeout(resolve, heldAfterAnswerMs));
      proxy.release();
      await check(t);
    } finally {
      await t.close();
      await proxy.cut();
    }
  }

  it('a late reservation is taken back: the counter does not drift up with a batch that was never queued', async () => {
    await lateCommand(/buffered-events:reserved:/, async (t) => {
      await eventually(async () => ((await counterOf(t)) === '0' ? true : undefined), 5000);
      const next = await postEvents(t, exampleBatch(), tokenFor('device-abc-123'));
      assert.equal(next.json<{ message: string }>().message, 'accepted:3 buffered:3');
    });
  });

  it('a late job add keeps its count: the job is queued and its events stay counted until written', async () => {
    await lateCommand(/"reserved":true/, async (t) => {
      const queue = new Queue(INGEST_QUEUE, { connection: { url: REDIS_URL }, prefix: t.config.queue.prefix });
      try {
        await eventually(async () => ((await queue.getWaitingCount()) === 1 ? true : undefined), 5000);
        assert.equal(await counterOf(t), '3');
      } finally {
        await queue.close();
      }
    });
  });

  it('a reservation that timed out in ioredis and then reached Redis is taken back', async () => {
    await lateCommand(
      /buffered-events:reserved:/,
      async (t) => {
        await eventually(async () => ((await counterOf(t)) === '0' ? true : undefined), 5000);
        const next = await postEvents(t, exampleBatch(), tokenFor('device-abc-123'));
        assert.equal(next.json<{ message: string }>().message, 'accepted:3 buffered:3');
      },
      PAST_COMMAND_TIMEOUT_MS,
    );
  });

  it('a job add that timed out in ioredis is released; if Redis adds the job after all, it waits uncounted', async () => {
    await lateCommand(
      /"reserved":true/,
      async (t) => {
        const queue = new Queue(INGEST_QUEUE, { connection: { url: REDIS_URL }, prefix: t.config.queue.prefix });
        try {
          await eventually(async () => ((await queue.getWaitingCount()) === 1 ? true : undefined), 5000);
          // Its worker's release will be a no-op: the counter is early, never negative nor stuck high.
          assert.equal(await counterOf(t), '0');
        } finally {
          await queue.close();
        }
      },
      PAST_COMMAND_TIMEOUT_MS,
    );
  });
});

describe('reconciling the buffered counter', () => {
  it('`npm run jobs:reconcile-buffered` takes back the batches counted but no longer queued, and only those', async () => {
    // A gateway alone: its batch stays queued. The other reservation stands for a batch whose job add failed and
    // whose release failed too (or a job an operator removed).
    const t = await bootTestApp({ rootModule: GatewayModule });
    try {
      const queued = await postEvents(t, exampleBatch(), tokenFor('device-abc-123'));
      assert.equal(queued.statusCode, 202);
      await new BufferedEvents(t.redis, t.config, new PipelineMetrics(new Metrics())).reserve(
        queueShards(t.config.queue)[0],
        randomUUID(),
        5,
      );
      assert.equal(await t.redis.get(bufferedEventsKey(t.config.queue.prefix)), '8');

      const { spawnSync } = await import('node:child_process');
      const run = () =>
        spawnSync(process.execPath, ['dist/scripts/reconcile-buffered.js', '--grace-ms', '100'], {
          cwd: `${__dirname}/../..`,
          env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: t.config.queue.prefix },
          encoding: 'utf8',
        });
      const result = run();
      assert.equal(result.status, 0, result.stderr);
      assert.equal(result.stdout, 'released 1 batch(es) no longer queued (5 events); counter 3, reserved 3\n');
      assert.equal(await t.redis.get(bufferedEventsKey(t.config.queue.prefix)), '3', 'the queued batch stays counted');
      assert.equal(
        run().stdout,
        'released 0 batch(es) no longer queued (0 events); counter 3, reserved 3\n',
        'a second run changes nothing',
      );
    } finally {
      await t.close();
    }
  });
});

describe('back-pressure', () => {
  it('answers 503 with Retry-After once BUFFER_MAX_EVENTS are buffered, and releases the refused batch', async () => {
    // A gateway alone: nothing drains the buffer.
    const t = await bootTestApp({ rootModule: GatewayModule, env: { BUFFER_MAX_EVENTS: '5' } });
    try {
      const first = await postEvents(t, exampleBatch(), tokenFor('device-abc-123'));
      assert.equal(first.json<{ message: string }>().message, 'accepted:3 buffered:3');
      const refused = await postEvents(t, exampleBatch(), tokenFor('device-abc-123'));
      assert.equal(refused.statusCode, 503);
      assert.deepEqual(refused.json(), { error: { code: 'SERVICE_UNAVAILABLE', message: 'buffer_full' } });
      assert.ok(Number(refused.headers['retry-after']) >= 1);
      assert.equal(await t.redis.get(bufferedEventsKey(t.config.queue.prefix)), '3', 'the refused batch is not counted');
      const small = await postEvents(
        t,
        { ...exampleBatch(), events: (exampleBatch().events as unknown[]).slice(0, 2) },
        tokenFor('device-abc-123'),
      );
      assert.equal(small.json<{ message: string }>().message, 'accepted:2 buffered:5');
    } finally {
      await t.close();
    }
  });
});
