import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it, type TestContext } from 'node:test';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import {
  createIngestClient,
  MemoryStorage,
  type Clock,
  type DropReason,
  type IngestClient,
  type Stats,
  type Storage,
} from '../packages/client/src/index';
import { FileStorage } from '../packages/client/src/node/index';
import { seededRandom } from '../packages/client/src/testing/fakes';
import { FaultWeights, HttpFaultProxy, ProxiedRequest } from './support/http-fault-proxy';
import { ServiceProcess, startService } from './support/processes';
import { createTestDatabase, deletePrefix, REDIS_URL, TEST_SECRET, tokenFor } from './support/test-app';

// The game client (packages/client, from its sources, in this process, on Node's fetch) against the built service on
// real Redis and PostgreSQL, behind a proxy that answers 503 with Retry-After, 429, 500, 400 and 401 token_expired,
// resets connections (before or after the service has the request), blackholes requests and answers late, on a seeded
// schedule; midway the client is shut down and a new one made on the same storage; another run kills the service and
// starts it again. Then: every tracked event is stored exactly once or reported to onDrop with its reason; no two
// requests of events in flight at once; none sooner than Retry-After or RateLimit-Reset allow (across the restart of
// the client too), nor than the 1 s floor after a failure. Other schedules:
//   CLIENT_FAULTS_SEEDS=7,8 CLIENT_FAULTS_RESTART_SEED=9 node --test dist/test/client-faults.e2e-spec.js

/** The client's clock runs this much faster than the real one, so that minutes of backoff take seconds. */
const SPEED = 20;
const GAME_ID = 'com.example.stackblaster';
const REQUEST_TIMEOUT_MS = 10_000;
/** Client milliseconds between fetch resolving with a config read's answer and the client having read its body. */
const ANSWER_SLACK_MS = 100;
const SEEDS = (process.env.CLIENT_FAULTS_SEEDS ?? '20261130,4242,77').split(',').map(Number);
const RESTART_SEED = Number(process.env.CLIENT_FAULTS_RESTART_SEED ?? '9001');
const EVENTS_PER_CLIENT = 450;

const WEIGHTS: { post: FaultWeights; other: FaultWeights } = {
  post: {
    pass: 40,
    throttled: 4,
    slow: 8,
    unavailable: 10,
    rate_limited: 8,
    server_error: 8,
    reset: 6,
    lost_answer: 5,
    blackhole: 6,
    invalid: 3,
    token_expired: 4,
  },
  // Each client reads its client-config once in a run: RateLimit-Remaining: 0 often, to see it hold the events back.
  other: { pass: 3, throttled: 4, rate_limited: 2, unavailable: 1, server_error: 1, blackhole: 1, token_expired: 1 },
};

const TYPES = ['LevelStarted', 'LevelCompleted', 'AdImpression', 'Custom', 'SessionStarted'];

/** Real time × SPEED, from now. */
function scaledClock(): Clock {
  const [epoch, start] = [Date.now(), performance.now()];
  return {
    now: () => epoch + (performance.now() - start) * SPEED,
    setTimeout: (callback, ms) => setTimeout(callback, ms / SPEED),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  };
}

const realSleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what()}`);
    await realSleep(25);
  }
}

interface Tracked {
  seq: number;
  client: string;
  type: string;
}

interface Outcome {
  tracked: Map<string, Tracked>;
  /** Every onDrop report of each event_id, in order. */
  drops: Map<string, DropReason[]>;
  errors: string[];
  stats: Record<string, Stats>;
  /** What client 1 left in storage. */
  handedOver: number;
  /** Client time at which client 1's shutdown resolved. */
  shutdownAt: number;
  tokens: number;
  records: ProxiedRequest[];
  /** When the client sent a request (by x-test-request): it may reach the proxy after the client gave it up. */
  sentAt: Map<string, number>;
  /** When the client gave a request up: the proxy sees the connection close tens of ms later. */
  abortedAt: Map<string, number>;
  /** When fetch resolved with the answer's headers. */
  answeredAt: Map<string, number>;
  tally: string;
  stored: { event_id: string; type: string; seq: number }[];
  realMs: number;
}

/** `midway`, when given, runs from halfway through client 1's events, beside them; the drain waits for it. */
async function runScenario(
  service: ServiceProcess,
  db: Pool,
  seed: number,
  storage: Storage,
  midway?: (proxy: HttpFaultProxy) => Promise<void>,
): Promise<Outcome> {
  const startedAt = Date.now();
  const clock = scaledClock();
  const proxy = await HttpFaultProxy.start(service.url, { clock, seed, weights: WEIGHTS, maxDelayMs: 1.5 * REQUEST_TIMEOUT_MS });
  const userId = `client-faults-${seed}-${randomUUID().slice(0, 8)}`;
  const tracked = new Map<string, Tracked>();
  const drops = new Map<string, DropReason[]>();
  const errors: string[] = [];
  let tokens = 0;
  const [sentAt, abortedAt, answeredAt] = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>()];
  const newClient = (name: string, clientSeed: number): IngestClient => {
    let requests = 0;
    return createIngestClient({
      endpoint: proxy.url,
      gameId: GAME_ID,
      userId,
      getToken: () => {
        tokens += 1;
        return Promise.resolve(tokenFor(userId));
      },
      storage,
      clock,
      random: seededRandom(clientSeed),
      fetch: (url, init) => {
        const id = `${name}-${++requests}`;
        sentAt.set(id, clock.now());
        (init.signal as AbortSignal | undefined)?.addEventListener('abort', () => abortedAt.set(id, clock.now()), { once: true });
        const headers = { ...init.headers, 'x-test-client': name, 'x-test-request': id };
        return fetch(url, { ...init, headers }).then((response) => {
          answeredAt.set(id, clock.now());
          return response;
        });
      },
      flushAt: 20,
      flushIntervalMs: 2000,
      maxBatchEvents: 25,
      requestTimeoutMs: REQUEST_TIMEOUT_MS,
      onDrop: (reason, events) => {
        for (const event of events) drops.set(event.event_id, [...(drops.get(event.event_id) ?? []), reason]);
      },
      onError: (error) => errors.push(`${name}: ${JSON.stringify(error)}`),
    });
  };
  // About 2.5 minutes of the client's time per client, with a flush now and then.
  let during: Promise<void> = Promise.resolve();
  const track = async (client: IngestClient, name: string, count: number, halfway?: () => void) => {
    for (let i = 0; i < count; i++) {
      if (i === count / 2) halfway?.();
      const seq = tracked.size;
      const type = TYPES[seq % TYPES.length];
      const id =
        type === 'Custom' ? client.track(type, { seq }, { customEventName: 'PowerUpUsed' }) : client.track(type, { seq, level: seq % 30 });
      tracked.set(id, { seq, client: name, type });
      if (i % 10 === 9) await realSleep(80);
      if (i % 150 === 149) await client.flush();
    }
  };

  let first: IngestClient | undefined;
  let second: IngestClient | undefined;
  try {
    first = newClient('c1', seed + 1);
    await track(first, 'c1', EVENTS_PER_CLIENT, () => {
      if (midway !== undefined) during = midway(proxy);
    });
    // A burst, then a shutdown too short to send it all under the faults: what is left goes to the next client.
    for (let i = 0; i < 45; i++) {
      const seq = tracked.size;
      tracked.set(first.track('LevelFailed', { seq }), { seq, client: 'c1', type: 'LevelFailed' });
    }
    await first.shutdown({ timeoutMs: 1000 });
    const shutdownAt = clock.now();
    const handedOver = first.stats().queued;
    await track(first, 'c1', 3); // after shutdown: dropped as closed

    second = newClient('c2', seed + 2);
    await track(second, 'c2', EVENTS_PER_CLIENT);
    await during;
    proxy.faulty = false;
    const client = second;
    await waitFor(
      () => client.stats().queued === 0,
      30_000,
      () => `client 2 still holds ${JSON.stringify(client.stats())}; errors: ${errors.join('\n')}`,
    );
    const dropped = [...drops.values()].length;
    const expected = tracked.size - dropped;
    let stored: Outcome['stored'] = [];
    // The worker writes what was accepted a moment later; fewer after the wait is for assertDelivery to name.
    await waitFor(
      async () => {
        const { rows } = await db.query<{ event_id: string; type: string; seq: number }>(
          "SELECT event_id::text AS event_id, type, (customdata->>'seq')::int AS seq FROM events WHERE user_id = $1",
          [userId],
        );
        stored = rows;
        return rows.length >= expected;
      },
      10_000,
      () => '',
    ).catch(() => undefined);
    await client.shutdown({ timeoutMs: 1000 });
    return {
      tracked,
      drops,
      errors,
      stats: { c1: first.stats(), c2: client.stats() },
      handedOver,
      shutdownAt,
      tokens,
      records: proxy.records,
      sentAt,
      abortedAt,
      answeredAt,
      tally: JSON.stringify(proxy.tally()),
      stored,
      realMs: Date.now() - startedAt,
    };
  } finally {
    await during.catch(() => undefined);
    await first?.shutdown({ timeoutMs: 0 });
    await second?.shutdown({ timeoutMs: 0 });
    await proxy.close();
  }
}

const sum = (counts: Partial<Record<DropReason, number>>) => Object.values(counts).reduce((total, count) => total + count, 0);

/** Every tracked event stored exactly once, or reported to onDrop (once, with a reason that fits); nothing else stored. */
function assertDelivery(outcome: Outcome): void {
  const { tracked, drops, stored, records } = outcome;
  const storedCount = new Map<string, number>();
  for (const row of stored) {
    storedCount.set(row.event_id, (storedCount.get(row.event_id) ?? 0) + 1);
    const event = tracked.get(row.event_id);
    assert.ok(event !== undefined, `stored ${row.event_id}, never tracked`);
    assert.equal(row.type, event.type, `${row.event_id}: the type tracked`);
    assert.equal(row.seq, event.seq, `${row.event_id}: the customdata tracked`);
  }
  const namedInvalid = new Set(records.flatMap((record) => (record.status === 400 ? record.invalidIds : [])));
  for (const [id, event] of tracked) {
    const reasons = drops.get(id) ?? [];
    const copies = storedCount.get(id) ?? 0;
    assert.ok(reasons.length <= 1, `${id} reported to onDrop ${reasons.length} times (${reasons.join(', ')})`);
    if (reasons.length === 0) {
      assert.equal(copies, 1, `event ${event.seq} (${id}, ${event.client}) stored ${copies} times and never dropped`);
      continue;
    }
    assert.equal(copies, 0, `event ${event.seq} (${id}) dropped as ${reasons[0]} and stored`);
    if (reasons[0] === 'invalid') assert.ok(namedInvalid.has(id), `event ${event.seq} dropped as invalid, named by no 400`);
    else assert.equal(reasons[0], 'closed', `event ${event.seq} dropped as ${reasons[0]}`);
  }
  for (const id of namedInvalid) assert.deepEqual(drops.get(id), ['invalid'], `${id}, named by a 400, reported as invalid`);
  for (const id of drops.keys()) assert.ok(tracked.has(id), `onDrop reported ${id}, never tracked`);

  const tracked1 = [...tracked.values()].filter((event) => event.client === 'c1').length;
  const { c1, c2 } = outcome.stats;
  assert.equal(
    c1.sent + sum(c1.dropped) + outcome.handedOver,
    tracked1,
    `client 1: sent + dropped + left = tracked (${JSON.stringify(c1)})`,
  );
  assert.equal(c2.queued, 0);
  assert.equal(
    c2.sent + sum(c2.dropped),
    tracked.size - tracked1 + outcome.handedOver,
    `client 2: sent + dropped = tracked + restored (${JSON.stringify(c2)})`,
  );
  assert.equal(c1.dropped.closed, 3, 'the events tracked after shutdown are dropped as closed');
}

const FAILED = (record: ProxiedRequest) => record.status === 0 || record.status === 408 || record.status === 429 || record.status! >= 500;

/**
 * One request of events at a time; none sooner than Retry-After or RateLimit-Reset allow, even from client 1's last to
 * client 2's first (the server's wait is saved with the queue); none sooner than the 1 s floor after a failure within a
 * client (a restart sends at once unless the server asked it to wait).
 */
function assertManners(outcome: Outcome): string[] {
  const violations: string[] = [];
  const all = outcome.records.toSorted((a, b) => a.arrivedAt - b.arrivedAt);
  const start = all[0]?.arrivedAt ?? 0;
  // Over for the client when it was answered, or when it gave the request up (its connection closes a little later).
  const over = (record: ProxiedRequest) => Math.min(record.endedAt!, outcome.abortedAt.get(record.requestId) ?? Infinity);
  // The wait an answer asks for binds the client if it read the answer.
  const notBefore = (record: ProxiedRequest) => (over(record) < record.endedAt! ? undefined : record.notBefore);
  const show = (record: ProxiedRequest) =>
    `${record.client} #${record.seq} ${record.method} ${record.path} ${record.fault} → ${record.status} at +${Math.round(record.arrivedAt - start)}..${Math.round(over(record) - start)} ms`;
  for (const record of all) assert.ok(record.endedAt !== undefined, `${show(record)} never ended`);
  for (const record of all) {
    if (record.client === 'c1' && outcome.sentAt.get(record.requestId)! > outcome.shutdownAt)
      violations.push(`${show(record)} sent after client 1's shutdown`);
  }
  const posts = all.filter((record) => record.method === 'POST' && record.path === '/ingest/events');
  for (let i = 1; i < posts.length; i++) {
    const [previous, next] = [posts[i - 1], posts[i]];
    if (next.arrivedAt < over(previous)) violations.push(`${show(next)} while ${show(previous)} was in flight`);
    const wait = notBefore(previous);
    if (wait !== undefined && next.arrivedAt < wait)
      violations.push(
        `${show(next)}, ${Math.round(wait - next.arrivedAt)} ms before ${show(previous)} allowed (Retry-After/RateLimit-Reset)`,
      );
    if (FAILED(previous) && next.client === previous.client && next.arrivedAt < over(previous) + 1000)
      violations.push(`${show(next)} retried ${Math.round(next.arrivedAt - over(previous))} ms after ${show(previous)}`);
  }
  // RateLimit-Remaining: 0 on a config read holds back the requests of events the client sends once it has read it.
  for (const read of all.filter((record) => record.method === 'GET' && record.rateLimitedUntil !== undefined)) {
    const readAt = outcome.answeredAt.get(read.requestId);
    if (readAt === undefined || notBefore(read) === undefined) continue;
    for (const post of posts) {
      const sent = outcome.sentAt.get(post.requestId)!;
      if (post.client === read.client && sent > readAt + ANSWER_SLACK_MS && sent < read.rateLimitedUntil!)
        violations.push(`${show(post)} before the RateLimit-Reset of ${show(read)}`);
    }
  }
  return violations;
}

describe('the game client against the service behind a faulty network', { timeout: 180_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: Pool;
  let service: ServiceProcess;
  const prefixes: string[] = [];
  const serviceEnv = (extra: Record<string, string> = {}) => {
    prefixes.push(`client-faults-${randomUUID().slice(0, 8)}`);
    return {
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: prefixes[prefixes.length - 1],
      JWT_SECRET: TEST_SECRET,
      // The proxy is the one that limits: the service's own limits would only add 429s of its own.
      RATE_LIMIT_PER_SUB_PER_SECOND: '0',
      RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND: '0',
      RATE_LIMIT_PER_IP_PER_SECOND: '0',
      ...extra,
    };
  };
  const directory = mkdtempSync(join(tmpdir(), 'client-faults-'));
  before(async () => {
    database = await createTestDatabase();
    db = new Pool({ connectionString: database.url, max: 2 });
    service = await startService('all-in-one', serviceEnv());
  });
  after(async () => {
    await service?.stop();
    await db?.end();
    await database?.drop();
    const redis = new Redis(REDIS_URL);
    for (const prefix of prefixes) await deletePrefix(redis, prefix);
    redis.disconnect();
    rmSync(directory, { recursive: true, force: true });
  });

  const report = (ctx: TestContext, seed: number, outcome: Outcome) => {
    const posts = outcome.records.filter((record) => record.method === 'POST');
    const dropped = [...outcome.drops.values()].map((reasons) => reasons[0]);
    ctx.diagnostic(
      `seed ${seed}: ${outcome.tracked.size} events tracked, ${outcome.stored.length} stored, dropped ${dropped.filter((r) => r === 'invalid').length} invalid + ${dropped.filter((r) => r === 'closed').length} closed; ` +
        `${outcome.records.length} requests (${posts.length} of events, ${posts.filter((r) => r.forwarded).length} forwarded, ${posts.filter((r) => r.gzipped).length} gzipped, ${outcome.abortedAt.size} given up by the client), faults ${outcome.tally}; ` +
        `${outcome.handedOver} events handed over at the restart; ${outcome.tokens} getToken calls; ${outcome.realMs} ms real, ` +
        `${Math.round((outcome.realMs * SPEED) / 1000)} s of the client's time`,
    );
  };

  for (const [index, seed] of SEEDS.entries()) {
    const kind = index % 2 === 0 ? 'MemoryStorage' : 'FileStorage';
    it(`seed ${seed} (${kind}): each event stored exactly once or dropped with a reason, one request at a time, Retry-After honoured`, async (ctx) => {
      const storage = kind === 'MemoryStorage' ? new MemoryStorage() : new FileStorage(join(directory, `queue-${seed}.json`));
      const outcome = await runScenario(service, db, seed, storage);
      report(ctx, seed, outcome);
      const unexpected = outcome.errors.filter((error) => !/"kind":"config"/.test(error));
      assert.deepEqual(unexpected, [], 'no error but unreadable client-configs');
      assert.deepEqual(assertManners(outcome), [], `seed ${seed}`);
      assertDelivery(outcome);
    });
  }

  it(`seed ${RESTART_SEED}: the service killed (SIGKILL) mid-run and started again on the same database and queue: the same`, async (ctx) => {
    // A killed worker's jobs are taken up again once their lock lapses.
    const env = serviceEnv({ WORKER_LOCK_DURATION_MS: '2000' });
    const started = [await startService('all-in-one', env)];
    try {
      let downMs = 0;
      const outcome = await runScenario(started[0], db, RESTART_SEED, new MemoryStorage(), async (proxy) => {
        const killedAt = Date.now();
        started[0].kill('SIGKILL');
        await started[0].exited();
        started.push(await startService('all-in-one', env));
        proxy.retarget(started[1].url);
        downMs = Date.now() - killedAt;
      });
      report(ctx, RESTART_SEED, outcome);
      const gateway = outcome.records.filter((record) => record.status === 502).length;
      ctx.diagnostic(
        `the service was down ${downMs} ms (${Math.round((downMs * SPEED) / 1000)} s of the client's time): ${gateway} requests answered 502`,
      );
      const unexpected = outcome.errors.filter((error) => !/"kind":"config"/.test(error));
      assert.deepEqual(unexpected, [], 'no error but unreadable client-configs');
      assert.deepEqual(assertManners(outcome), [], `seed ${RESTART_SEED}`);
      assertDelivery(outcome);
    } finally {
      for (const service of started) await service.stop();
    }
  });
});
