import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { WorkerModule } from '../apps/worker/src/worker.module';
import { Scrape } from './support/metrics-scrape';
import { PrivateRedis, startService } from './support/processes';
import {
  bootTestApp,
  createTestDatabase,
  deletePrefix,
  eventually,
  exampleBatch,
  postEvents,
  REDIS_URL,
  TEST_SECRET,
  TestApp,
  tokenFor,
} from './support/test-app';

function assertPrometheusText(response: LightMyRequestResponse): void {
  assert.equal(response.statusCode, 200, response.body);
  assert.match(String(response.headers['content-type']), /^text\/plain; version=0\.0\.4; charset=utf-8$/);
}

async function scrape(t: TestApp): Promise<Scrape> {
  const response = await t.opsInject({ method: 'GET', url: '/metrics' });
  assertPrometheusText(response);
  return new Scrape(response.body);
}

const ROUTE = '/ingest/events';

describe('GET /metrics (all-in-one)', () => {
  let t: TestApp;
  before(async () => {
    // A small body limit for the 413, and one request per second per player for the 429: each request below that a
    // player's bucket would refuse comes from a player of its own.
    t = await bootTestApp({ env: { BODY_LIMIT: '65536', RATE_LIMIT_PER_SUB_PER_SECOND: '1', RATE_LIMIT_PER_SUB_BURST: '1' } });
  });
  after(async () => {
    await t.close();
  });

  it('answers in the Prometheus text format, without a token, with the process metrics, and is not in the API document', async () => {
    const response = await t.opsInject({ method: 'GET', url: '/metrics' });
    assertPrometheusText(response);
    assert.match(response.body, /^# HELP playsmart_events_accepted_total /m);
    assert.match(response.body, /^# TYPE playsmart_ingest_lag_seconds histogram$/m);
    const metrics = new Scrape(response.body);
    assert.ok(metrics.value('playsmart_process_cpu_user_seconds_total') !== undefined, 'default process metrics, prefixed');
    assert.ok(metrics.value('playsmart_nodejs_eventloop_lag_seconds') !== undefined);
    const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<{ paths: Record<string, unknown> }>();
    assert.ok(!('/metrics' in doc.paths), '/metrics is not part of the public API');
  });

  it('counts accepted events, rejected requests and events by reason, and request durations by route and status', async () => {
    const player = (name: string) => `metrics-${name}-${randomUUID()}`;
    const invalidBatch = (user: string) => {
      const batch = exampleBatch(user);
      (batch.events as Array<Record<string, unknown>>)[1].type = 'NoSuchType';
      return batch;
    };
    const before = await scrape(t);

    const accepted = player('accepted');
    assert.equal((await postEvents(t, exampleBatch(accepted), tokenFor(accepted))).statusCode, 202);
    const invalid = player('invalid');
    assert.equal((await postEvents(t, invalidBatch(invalid), tokenFor(invalid))).statusCode, 400);
    assert.equal((await postEvents(t, exampleBatch(player('anonymous')))).statusCode, 401);
    const expired = player('expired');
    assert.equal((await postEvents(t, exampleBatch(expired), tokenFor(expired, { expiresIn: -120 }))).statusCode, 401);
    const mismatch = player('mismatch');
    assert.equal((await postEvents(t, exampleBatch(`${mismatch}-other`), tokenFor(mismatch))).statusCode, 403);
    // A bucket of one: the second request within the second is refused after its body was read.
    const limited = player('limited');
    assert.equal((await postEvents(t, invalidBatch(limited), tokenFor(limited))).statusCode, 400);
    assert.equal((await postEvents(t, invalidBatch(limited), tokenFor(limited))).statusCode, 429);
    // Refused before the body is read (401s too, since tokens are checked first): counted as requests, their events
    // unknown.
    const unread = player('unread');
    const text = await postEvents(t, JSON.stringify(exampleBatch(unread)), tokenFor(unread), { 'content-type': 'text/plain' });
    assert.equal(text.statusCode, 415);
    assert.equal((await postEvents(t, { ...exampleBatch(unread), pad: 'x'.repeat(70 * 1024) }, tokenFor(unread))).statusCode, 413);
    assert.equal((await t.inject({ method: 'GET', url: `/nowhere/${randomUUID()}` })).statusCode, 404);

    const now = await scrape(t);
    const delta = (name: string, labels: Record<string, string> = {}) => now.count(name, labels) - before.count(name, labels);

    assert.equal(delta('playsmart_events_accepted_total'), 3);
    const expected: Record<string, [requests: number, events: number]> = {
      invalid_payload: [2, 6],
      missing_token: [1, 0],
      token_expired: [1, 0],
      forbidden: [1, 3],
      rate_limited: [1, 3],
      unsupported_media_type: [1, 0],
      too_large: [1, 0],
    };
    for (const [reason, [requests, events]] of Object.entries(expected)) {
      assert.equal(delta('playsmart_ingest_requests_rejected_total', { reason }), requests, `${reason}: requests`);
      assert.equal(delta('playsmart_events_rejected_total', { reason }), events, `${reason}: events`);
    }
    assert.equal(delta('playsmart_ingest_requests_rejected_total'), 8, 'nothing else counted as a rejection');

    const duration = 'playsmart_http_request_duration_seconds_count';
    for (const [status, count] of Object.entries({ 202: 1, 400: 2, 401: 2, 403: 1, 429: 1, 415: 1, 413: 1 })) {
      assert.equal(delta(duration, { method: 'POST', route: ROUTE, status_code: status }), count, `POST ${ROUTE} ${status}`);
    }
    // Labelled by route pattern, never by the raw URL.
    assert.equal(delta(duration, { method: 'GET', route: 'unmatched', status_code: '404' }), 1);
    assert.ok(!now.text.includes('/nowhere/'), 'no raw URL in any label');
    assert.ok(now.count('playsmart_http_request_duration_seconds_bucket', { route: ROUTE, status_code: '202', le: '+Inf' }) >= 1);

    // The worker writes the batch: its rows, the write's duration and the lag since acceptance.
    const written = await eventually(async () => {
      const metrics = await scrape(t);
      return metrics.count('playsmart_event_rows_written_total') - before.count('playsmart_event_rows_written_total') === 3
        ? metrics
        : undefined;
    });
    const writtenDelta = (name: string, labels: Record<string, string> = {}) => written.count(name, labels) - before.count(name, labels);
    assert.equal(writtenDelta('playsmart_batch_write_duration_seconds_count', { outcome: 'written' }), 1);
    assert.equal(writtenDelta('playsmart_ingest_lag_seconds_count'), 1);
    assert.equal(writtenDelta('playsmart_ingest_lag_seconds_bucket', { le: '600' }), 1, 'the lag is under 10 minutes');
    assert.ok(writtenDelta('playsmart_ingest_lag_seconds_sum') > 0);
  });

  it('reports the buffered events and the queue by state, read from Redis when scraped', async () => {
    const metrics = await scrape(t);
    assert.equal(metrics.value('playsmart_queue_stats_up'), 1);
    assert.ok(metrics.value('playsmart_buffered_events') !== undefined);
    for (const state of ['waiting', 'active', 'delayed', 'failed']) {
      assert.ok(metrics.value('playsmart_queue_jobs', { queue: 'ingest-events', state }) !== undefined, state);
    }
  });
});

describe('GET /metrics with gateway and worker apart', () => {
  it('the gateway reports the queued batch, and the worker app serves its own /metrics with the write', async () => {
    const database = await createTestDatabase();
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const gateway = await bootTestApp({ rootModule: GatewayModule, shared: { databaseUrl: database.url, prefix } });
    let worker: TestApp | undefined;
    try {
      const player = `split-metrics-${randomUUID()}`;
      assert.equal((await postEvents(gateway, exampleBatch(player), tokenFor(player))).statusCode, 202);
      const queued = await scrape(gateway);
      assert.equal(queued.value('playsmart_events_accepted_total'), 3);
      assert.equal(queued.value('playsmart_buffered_events'), 3);
      assert.equal(queued.value('playsmart_queue_jobs', { state: 'waiting' }), 1);
      assert.equal(queued.count('playsmart_event_rows_written_total'), 0, 'the gateway writes nothing');

      worker = await bootTestApp({ rootModule: WorkerModule, shared: { databaseUrl: database.url, prefix } });
      const app = worker;
      const written = await eventually(async () => {
        const metrics = await scrape(app);
        return metrics.value('playsmart_event_rows_written_total') === 3 ? metrics : undefined;
      }, 10_000);
      assert.equal(written.value('playsmart_batch_write_duration_seconds_count', { outcome: 'written' }), 1);
      assert.equal(written.value('playsmart_ingest_lag_seconds_count'), 1);
      // Accepted before the worker started: the lag covers the wait.
      assert.ok(written.count('playsmart_ingest_lag_seconds_sum') > 0);
      await eventually(async () => {
        const metrics = await scrape(app);
        return metrics.value('playsmart_buffered_events') === 0 && metrics.value('playsmart_queue_jobs', { state: 'waiting' }) === 0
          ? true
          : undefined;
      });
      assert.equal((await app.inject({ method: 'GET', url: '/health/live' })).statusCode, 200);
    } finally {
      await deletePrefix(gateway.redis, prefix);
      await gateway.close();
      await worker?.close();
      await database.drop();
    }
  });
});

describe('GET /metrics while Redis is down', () => {
  it('still answers 200 at once, leaving out the gauges it cannot read', async () => {
    const redis = await PrivateRedis.start();
    const database = await createTestDatabase();
    const gateway = await bootTestApp({
      rootModule: GatewayModule,
      env: { REDIS_URL: redis.url },
      shared: { databaseUrl: database.url, prefix: `test-${randomUUID().slice(0, 8)}` },
    });
    let running = true;
    // Once Redis is back: the gauges are read again, and the producer queues again. Closing the app before its
    // connections are back would leave one reconnecting forever, and this process running.
    const reconnected = async (): Promise<Scrape> => {
      const metrics = await eventually(async () => {
        const scraped = await scrape(gateway);
        return scraped.value('playsmart_queue_stats_up') === 1 ? scraped : undefined;
      }, 10_000);
      const player = `redis-back-${randomUUID()}`;
      await eventually(
        async () => ((await postEvents(gateway, exampleBatch(player), tokenFor(player))).statusCode === 202 ? true : undefined),
        10_000,
      );
      return metrics;
    };
    try {
      assert.equal((await scrape(gateway)).value('playsmart_queue_stats_up'), 1);
      await redis.kill();
      running = false;
      const started = Date.now();
      const down = await scrape(gateway);
      assert.ok(Date.now() - started < 1500, `answered in ${Date.now() - started} ms`);
      assert.equal(down.value('playsmart_queue_stats_up'), 0);
      assert.equal(down.value('playsmart_buffered_events'), undefined);
      assert.equal(down.value('playsmart_queue_jobs'), undefined);
      assert.ok(down.value('playsmart_process_cpu_user_seconds_total') !== undefined, 'the in-memory metrics are still there');

      await redis.restart();
      running = true;
      const back = await reconnected();
      assert.equal(back.value('playsmart_buffered_events', { queue: 'ingest-events' }), 0);
    } finally {
      if (!running) {
        await redis.restart();
        await reconnected().catch(() => undefined);
      }
      await gateway.close();
      await redis.stop();
      await database.drop();
    }
  });
});

describe('the worker process on its own', () => {
  it('serves /metrics and, with ADMIN_*, Bull Board on its operations listener (npm run start:worker:prod)', async () => {
    const database = await createTestDatabase();
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const worker = await startService('worker', {
      DATABASE_URL: database.url,
      JWT_SECRET: TEST_SECRET,
      QUEUE_PREFIX: prefix,
      ADMIN_USER: 'ops',
      ADMIN_PASSWORD: 'worker-board-password',
    });
    const redis = new Redis(REDIS_URL);
    try {
      const response = await fetch(`${worker.opsUrl}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      const metrics = new Scrape(await response.text());
      assert.equal(metrics.value('playsmart_queue_stats_up'), 1);
      assert.ok(metrics.value('playsmart_event_rows_written_total') !== undefined);
      // Its own requests are measured, by route pattern.
      const live = { route: '/health/live', status_code: '200' };
      await fetch(`${worker.url}/health/live`);
      const again = new Scrape(await (await fetch(`${worker.opsUrl}/metrics`)).text());
      assert.equal(
        again.count('playsmart_http_request_duration_seconds_count', live) -
          metrics.count('playsmart_http_request_duration_seconds_count', live),
        1,
      );
      const api = await fetch(`${worker.url}/ingest/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(api.status, 404, 'the worker serves no API');

      assert.equal((await fetch(`${worker.url}/admin/queues`)).status, 404, 'not on its main port');
      assert.equal((await fetch(`${worker.opsUrl}/admin/queues`)).status, 401);
      const board = await fetch(`${worker.opsUrl}/admin/queues`, {
        headers: { authorization: `Basic ${Buffer.from('ops:worker-board-password').toString('base64')}` },
      });
      assert.equal(board.status, 200);
      assert.match(board.headers.get('content-type') ?? '', /text\/html/);
    } finally {
      await worker.stop();
      await deletePrefix(redis, prefix);
      redis.disconnect();
      await database.drop();
    }
  });
});
