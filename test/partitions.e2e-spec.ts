import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it, TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { deletePrefix } from '../support/local-services';
import { describeFault, freePort, PrivateRedis, ProxyFault, ServiceProcess, startService, TcpProxy } from './support/processes';
import { createTestDatabase, eventually, exampleBatch, REDIS_URL, TEST_SECRET, tokenFor } from './support/test-app';

// Redis and PostgreSQL made unreachable in every way a network can (refused, reset, silently dropped, slow) while
// the built all-in-one, gateway and worker run, each started as its `start:*:prod` script starts it. Each scenario
// asserts what the service promises: no process exits, Redis trouble is a 503 with Retry-After within 2 s, PostgreSQL
// trouble delays writes only, readiness says 503 within 2 s, and once the link is back the service accepts and writes
// again by itself within 10 s, with every batch answered 202 stored exactly once.

const FAULTS: ProxyFault[] = ['refuse', 'reset', 'blackhole', { delayMs: 3000 }];
// Longer than ioredis' 2 s command timeout and pg's 5 s connection timeout: the late failures happen during the fault.
const FAULT_MS = 6000;
const ANSWER_WITHIN_MS = 2000;
const RECOVER_WITHIN_MS = 10_000;

interface Answer {
  status: number;
  body?: { message?: string; batch_id?: string; error?: { code: string; message: string } };
  retryAfter: string | null;
  ms: number;
}

async function request(service: ServiceProcess, path: string, init: RequestInit = {}): Promise<Answer> {
  const started = Date.now();
  const response = await fetch(`${service.url}${path}`, { ...init, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  return {
    status: response.status,
    body: text === '' ? undefined : (JSON.parse(text) as Answer['body']),
    retryAfter: response.headers.get('retry-after'),
    ms: Date.now() - started,
  };
}

function post(service: ServiceProcess, user: string): Promise<Answer> {
  return request(service, '/ingest/events', {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor(user)}` },
    body: JSON.stringify(exampleBatch(user)),
  });
}

function receipt(service: ServiceProcess, user: string, batchId: string): Promise<Answer> {
  return request(service, `/ingest/batches/${batchId}`, { headers: { authorization: `Bearer ${tokenFor(user)}` } });
}

/** Every batch answered 202 has exactly its events in `events`: polled until true or `timeoutMs` have passed. */
async function storedExactlyOnce(db: Pool, accepted: Answer[], timeoutMs: number): Promise<void> {
  const expected = new Map(accepted.map((answer) => [answer.body!.batch_id!, Number(/^accepted:(\d+)/.exec(answer.body!.message!)![1])]));
  await eventually(async () => {
    const { rows } = await db.query<{ batch_id: string; count: string }>(
      'SELECT batch_id, count(*) FROM events WHERE batch_id = ANY($1) GROUP BY batch_id',
      [[...expected.keys()]],
    );
    const stored = new Map(rows.map((row) => [row.batch_id, Number(row.count)]));
    for (const [batchId, count] of stored) assert.ok(count <= expected.get(batchId)!, `batch ${batchId} stored more than once`);
    return [...expected].every(([batchId, count]) => stored.get(batchId) === count) ? true : undefined;
  }, timeoutMs);
}

/** A 503 in the envelope, with Retry-After, within the time a client is promised an answer. */
function assertUnavailable(answer: Answer, what: string): void {
  assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer.body)}`);
  assert.equal(answer.body?.error?.code, 'SERVICE_UNAVAILABLE', what);
  assert.ok(Number(answer.retryAfter) >= 1, `${what}: Retry-After`);
  assert.ok(answer.ms < ANSWER_WITHIN_MS, `${what}: answered in ${answer.ms} ms`);
}

function assertAlive(services: ServiceProcess[]): void {
  for (const service of services) {
    assert.ok(service.alive, `the ${service.role} is still running:\n${service.logs}`);
    assert.doesNotMatch(service.logs, /unhandled|^\s+at /im, `the ${service.role} logged no unhandled error or stack trace`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The slowest of each kind of answer during a fault, for the diagnostics. */
class Slowest {
  private readonly ms = new Map<string, number>();
  note(what: string, answer: Answer): Answer {
    this.ms.set(what, Math.max(this.ms.get(what) ?? 0, answer.ms));
    return answer;
  }
  describe(): string {
    return [...this.ms].map(([what, ms]) => `${what} ≤ ${ms} ms`).join(', ');
  }
}

interface Stack {
  db: Pool;
  proxy: TcpProxy;
  allInOne: ServiceProcess;
  gateway: ServiceProcess;
  worker: ServiceProcess;
  /** Every batch answered 202 so far. */
  accepted: Answer[];
}

/** Starts processes side by side. When one fails to start, the others that did are stopped before the error is thrown. */
async function startAll(starting: Promise<ServiceProcess>[]): Promise<ServiceProcess[]> {
  const results = await Promise.allSettled(starting);
  const started = results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const failed = results.find((result) => result.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((service) => service.stop()));
    throw failed.reason;
  }
  return started;
}

/** Database, queue prefix and the three processes, with the Redis or the PostgreSQL link going through a proxy. */
function describeStack(title: string, through: 'redis' | 'postgres', scenarios: (stack: () => Stack) => void): void {
  describe(title, { timeout: 600_000 }, () => {
    let stack: Stack | undefined;
    let proxy: TcpProxy | undefined;
    let drop: (() => Promise<void>) | undefined;
    const prefix = `partition-${randomUUID().slice(0, 8)}`;
    before(async () => {
      const database = await createTestDatabase();
      drop = () => database.drop();
      proxy = await TcpProxy.start(through === 'redis' ? 6379 : 5432);
      const env = {
        DATABASE_URL: through === 'postgres' ? database.url.replace(':5432/', `:${proxy.port}/`) : database.url,
        REDIS_URL: through === 'redis' ? `redis://127.0.0.1:${proxy.port}` : REDIS_URL,
        QUEUE_PREFIX: prefix,
        JWT_SECRET: TEST_SECRET,
        // On, so that their Redis calls are on the path too, but far above what the test sends.
        RATE_LIMIT_PER_IP_PER_SECOND: '1000',
        RATE_LIMIT_PER_IP_BURST: '1000',
        // A job whose lock lapsed during the fault is taken up again soon after.
        WORKER_LOCK_DURATION_MS: '2000',
      };
      const [allInOne, gateway, worker] = await startAll([
        startService('all-in-one', env),
        startService('gateway', env),
        startService('worker', env),
      ]);
      stack = { db: new Pool({ connectionString: database.url, max: 2 }), proxy, allInOne, gateway, worker, accepted: [] };
    });
    after(async () => {
      // Whatever before() got to: the proxy is closed even when a process failed to start.
      if (stack !== undefined) await Promise.all([stack.allInOne.stop(), stack.gateway.stop(), stack.worker.stop()]);
      await proxy?.cut();
      await stack?.db.end();
      await drop?.();
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, prefix);
      redis.disconnect();
    });
    scenarios(() => stack!);
  });
}

/** Breaks the link for FAULT_MS, probing the whole time with `probe`, then heals it and returns when it was healed. */
async function duringFault(stack: Stack, fault: ProxyFault, probe: () => Promise<void>): Promise<number> {
  await stack.proxy.break(fault);
  const brokenAt = Date.now();
  try {
    do {
      await probe();
      await sleep(300);
    } while (Date.now() - brokenAt < FAULT_MS);
  } finally {
    await stack.proxy.heal();
  }
  return Date.now();
}

describeStack('Redis unreachable: 503 within 2 s, no process exits, and all resume by themselves', 'redis', (stack) => {
  for (const fault of FAULTS) {
    it(`Redis ${describeFault(fault)}`, async (ctx: TestContext) => {
      const { allInOne, gateway, worker, accepted, db } = stack();
      for (const service of [allInOne, gateway]) {
        const answer = await post(service, 'redis-partition');
        assert.equal(answer.status, 202, JSON.stringify(answer.body));
        accepted.push(answer);
      }

      const slowest = new Slowest();
      const healedAt = await duringFault(stack(), fault, async () => {
        for (const service of [allInOne, gateway]) {
          assertUnavailable(slowest.note('POST 503', await post(service, 'redis-partition')), `POST to the ${service.role}`);
          // An unknown batch: without Redis nobody can tell whether it is queued.
          const lookup = slowest.note('receipt 503', await receipt(service, 'redis-partition', randomUUID()));
          assertUnavailable(lookup, `receipt from the ${service.role}`);
        }
        for (const service of [allInOne, gateway, worker]) {
          assertUnavailable(slowest.note('ready 503', await request(service, '/health/ready')), `readiness of the ${service.role}`);
          assert.equal((await request(service, '/health/live')).status, 200, `liveness of the ${service.role}`);
        }
      });

      const acceptingAgain: number[] = [];
      for (const service of [allInOne, gateway]) {
        const again = await eventually(async () => {
          const answer = await post(service, 'redis-partition');
          return answer.status === 202 ? answer : undefined;
        }, RECOVER_WITHIN_MS);
        acceptingAgain.push(Date.now() - healedAt);
        accepted.push(again);
      }
      await storedExactlyOnce(db, accepted, RECOVER_WITHIN_MS - (Date.now() - healedAt));
      const storedAfter = Date.now() - healedAt;
      for (const service of [allInOne, gateway, worker]) {
        await eventually(async () => ((await request(service, '/health/ready')).status === 200 ? true : undefined), RECOVER_WITHIN_MS);
      }
      assertAlive([allInOne, gateway, worker]);
      ctx.diagnostic(
        `${describeFault(fault)} for ${FAULT_MS} ms: ${slowest.describe()}; accepting again ${acceptingAgain.join(' / ')} ms ` +
          `after the heal (all-in-one / gateway); all ${accepted.length} batches stored once ${storedAfter} ms after it`,
      );
    });
  }
});

describeStack('PostgreSQL unreachable: events still accepted, no process exits, and writes resume by themselves', 'postgres', (stack) => {
  for (const fault of FAULTS) {
    it(`PostgreSQL ${describeFault(fault)}`, async (ctx: TestContext) => {
      const { allInOne, gateway, worker, accepted, db } = stack();
      // A batch written before the fault, whose receipt only PostgreSQL holds: the gateway has connected for it.
      const written = await post(gateway, 'pg-partition');
      assert.equal(written.status, 202);
      accepted.push(written);
      await storedExactlyOnce(db, accepted, 10_000);
      const batchId = written.body!.batch_id!;
      await eventually(async () => ((await receipt(gateway, 'pg-partition', batchId)).status === 200 ? true : undefined));

      const slowest = new Slowest();
      const during: Answer[] = [];
      const healedAt = await duringFault(stack(), fault, async () => {
        for (const service of [allInOne, gateway]) {
          const answer = slowest.note('POST 202', await post(service, 'pg-partition'));
          assert.equal(answer.status, 202, `POST to the ${service.role} during the outage: ${JSON.stringify(answer.body)}`);
          assert.ok(answer.ms < ANSWER_WITHIN_MS, `POST to the ${service.role} answered in ${answer.ms} ms`);
          during.push(answer);
          const lookup = slowest.note('receipt 503', await receipt(service, 'pg-partition', batchId));
          assertUnavailable(lookup, `receipt from the ${service.role}`);
        }
        for (const service of [allInOne, worker]) {
          assertUnavailable(slowest.note('ready 503', await request(service, '/health/ready')), `readiness of the ${service.role}`);
        }
        // The gateway does not need PostgreSQL to accept events, so its readiness does not depend on it.
        assert.equal((await request(gateway, '/health/ready')).status, 200);
        for (const service of [allInOne, gateway, worker]) {
          assert.equal((await request(service, '/health/live')).status, 200, `liveness of the ${service.role}`);
        }
      });
      accepted.push(...during);

      await storedExactlyOnce(db, accepted, RECOVER_WITHIN_MS);
      const storedAfter = Date.now() - healedAt;
      for (const service of [allInOne, worker]) {
        await eventually(async () => ((await request(service, '/health/ready')).status === 200 ? true : undefined), RECOVER_WITHIN_MS);
      }
      assert.equal((await receipt(gateway, 'pg-partition', batchId)).status, 200, 'receipts answered again');
      assertAlive([allInOne, gateway, worker]);
      ctx.diagnostic(
        `${describeFault(fault)} for ${FAULT_MS} ms: ${slowest.describe()}; ${during.length} batches accepted during it, ` +
          `all stored once ${storedAfter} ms after the heal`,
      );
    });
  }
});

describe('a dependency unreachable at start-up', { timeout: 300_000 }, () => {
  const outageLines = (service: ServiceProcess, pattern: RegExp) => service.logs.split('\n').filter((line) => pattern.test(line));

  it('Redis: one line saying so, not ready, a prompt SIGTERM, and ready by itself once Redis is there', async (ctx) => {
    const database = await createTestDatabase();
    const port = await freePort();
    const prefix = `startup-${randomUUID().slice(0, 8)}`;
    // LOG_LEVEL log: the line saying Redis is back is not a warning.
    const env = {
      DATABASE_URL: database.url,
      REDIS_URL: `redis://127.0.0.1:${port}`,
      QUEUE_PREFIX: prefix,
      JWT_SECRET: TEST_SECRET,
      LOG_LEVEL: 'log',
    };
    const services = await Promise.all([startService('all-in-one', env), startService('gateway', env), startService('worker', env)]);
    const [allInOne, gateway, worker] = services;
    let redis: PrivateRedis | undefined;
    try {
      await sleep(3000);
      for (const service of services) {
        assert.equal((await request(service, '/health/ready')).status, 503);
        assert.equal((await request(service, '/health/live')).status, 200);
        assert.equal(outageLines(service, /Redis 127\.0\.0\.1:\d+ unreachable, retrying/).length, 1, service.logs);
        assert.doesNotMatch(service.logs, /ECONNREFUSED[\s\S]*ECONNREFUSED[\s\S]*ECONNREFUSED[\s\S]*ECONNREFUSED/, 'no line per attempt');
      }
      assertUnavailable(await post(allInOne, 'startup'), 'POST without Redis');

      const signalledAt = Date.now();
      worker.kill('SIGTERM');
      assert.equal(await worker.exited(), 0, worker.logs);
      const stopMs = Date.now() - signalledAt;
      assert.ok(stopMs < 5000, `the worker stopped ${stopMs} ms after SIGTERM`);

      redis = await PrivateRedis.start(port);
      const startedAt = Date.now();
      for (const service of [allInOne, gateway]) {
        await eventually(async () => ((await request(service, '/health/ready')).status === 200 ? true : undefined), RECOVER_WITHIN_MS);
      }
      const readyMs = Date.now() - startedAt;
      const accepted = await post(gateway, 'startup');
      assert.equal(accepted.status, 202);
      const db = new Pool({ connectionString: database.url, max: 1 });
      try {
        await storedExactlyOnce(db, [accepted], RECOVER_WITHIN_MS);
      } finally {
        await db.end();
      }
      for (const service of [allInOne, gateway])
        assert.match(service.logs, /Redis 127\.0\.0\.1:\d+ unreachable, retrying with backoff: recovered/);
      assertAlive([allInOne, gateway]);
      ctx.diagnostic(
        `Redis absent at start-up: worker stopped ${stopMs} ms after SIGTERM; all-in-one and gateway ready ${readyMs} ms after Redis started`,
      );
    } finally {
      await Promise.all(services.map((service) => service.stop()));
      await redis?.stop();
      await database.drop();
    }
  });

  it('PostgreSQL: one line saying so, not ready but accepting, a prompt SIGTERM, and writing by itself once it is there', async (ctx) => {
    const database = await createTestDatabase();
    const proxy = await TcpProxy.start(5432);
    await proxy.break('refuse');
    const prefix = `startup-${randomUUID().slice(0, 8)}`;
    const env = {
      DATABASE_URL: database.url.replace(':5432/', `:${proxy.port}/`),
      QUEUE_PREFIX: prefix,
      JWT_SECRET: TEST_SECRET,
      REDIS_URL,
    };
    const services = await Promise.all([startService('all-in-one', env), startService('worker', env)]);
    const [allInOne, worker] = services;
    const db = new Pool({ connectionString: database.url, max: 1 });
    try {
      await sleep(3000);
      for (const service of services) {
        assert.equal((await request(service, '/health/ready')).status, 503);
        assert.equal((await request(service, '/health/live')).status, 200);
        assert.equal(outageLines(service, /PostgreSQL 127\.0\.0\.1:\d+\/\w+ cannot be used, retrying/).length, 1, service.logs);
      }
      const accepted = await post(allInOne, 'startup');
      assert.equal(accepted.status, 202, 'events are accepted while the database is away');

      const signalledAt = Date.now();
      worker.kill('SIGTERM');
      assert.equal(await worker.exited(), 0, worker.logs);
      const stopMs = Date.now() - signalledAt;
      assert.ok(stopMs < 5000, `the worker stopped ${stopMs} ms after SIGTERM`);

      await proxy.heal();
      const healedAt = Date.now();
      await eventually(async () => ((await request(allInOne, '/health/ready')).status === 200 ? true : undefined), RECOVER_WITHIN_MS);
      await storedExactlyOnce(db, [accepted], RECOVER_WITHIN_MS);
      assertAlive([allInOne]);
      ctx.diagnostic(
        `PostgreSQL absent at start-up: worker stopped ${stopMs} ms after SIGTERM; batch stored ${Date.now() - healedAt} ms after it came`,
      );
    } finally {
      await Promise.all(services.map((service) => service.stop()));
      await proxy.cut();
      await db.end();
      await database.drop();
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  });
});
