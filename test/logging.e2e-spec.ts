import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { ServiceProcess, startService } from './support/processes';
import { createTestDatabase, deletePrefix, exampleBatch, REDIS_URL, TEST_SECRET, tokenFor } from './support/test-app';
import type { ScratchDatabase } from '../support/local-services';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Starts an all-in-one on a database of its own before the suite's tests, and stops it after them. */
function allInOneForSuite(env: Record<string, string>): { readonly service: ServiceProcess; readonly databaseUrl: string } {
  const started: { service?: ServiceProcess; database?: ScratchDatabase } = {};
  const prefix = env.QUEUE_PREFIX ?? `logs-${randomUUID().slice(0, 8)}`;
  before(async () => {
    started.database = await createTestDatabase();
    started.service = await startService('all-in-one', {
      DATABASE_URL: started.database.url,
      JWT_SECRET: TEST_SECRET,
      QUEUE_PREFIX: prefix,
      ...env,
    });
  });
  after(async () => {
    await started.service?.stop();
    await started.database?.drop();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });
  return {
    get service() {
      return started.service!;
    },
    get databaseUrl() {
      return started.database!.url;
    },
  };
}

function postEvents(service: ServiceProcess, headers: Record<string, string>, body: unknown): Promise<Response> {
  return fetch(`${service.url}/ingest/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

describe('request ids and log hygiene', () => {
  const suite = allInOneForSuite({ LOG_LEVEL: 'debug' });

  const send = (headers: Record<string, string>, body: unknown) => postEvents(suite.service, headers, body);

  it('echoes a plain X-Request-Id, generates one otherwise, and names it in every line the request logs', async () => {
    const requestId = `client-${randomUUID()}`;
    const token = tokenFor('device-abc-123');
    const marker = `secret-marker-${randomUUID()}`;
    const body = exampleBatch();
    (body.events as Array<{ customdata?: Record<string, unknown> }>)[0].customdata = { note: marker };

    const accepted = await send({ authorization: `Bearer ${token}`, 'x-request-id': requestId }, body);
    assert.equal(accepted.status, 202);
    assert.equal(accepted.headers.get('x-request-id'), requestId);

    const refused = await send({ 'x-request-id': 'forged {"level":60} $(rm -rf)' }, body);
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('x-request-id') ?? '', UUID, 'an unsafe id is replaced');
    const generated = await fetch(`${suite.service.url}/nowhere`);
    assert.match(generated.headers.get('x-request-id') ?? '', UUID);

    // The access lines are written after the responses; give the process a moment to flush them.
    const lines = await waitForLines(
      suite.service,
      (all) => all.some((l) => l.reqId === requestId) && all.filter((l) => l.context === 'Http').length >= 3,
    );
    const httpLines = lines.filter((l) => l.context === 'Http');
    assert.ok(httpLines.length >= 3);
    for (const line of httpLines) assert.match(String(line.reqId), /^(client-|[0-9a-f]{8}-)/, JSON.stringify(line));
    assert.deepEqual(
      httpLines.find((l) => l.reqId === requestId),
      { ...httpLines.find((l) => l.reqId === requestId), method: 'POST', route: '/ingest/events', status: 202 },
    );

    assert.ok(!suite.service.logs.includes(token), 'no token in the logs');
    assert.ok(!suite.service.logs.includes(marker), 'no payload in the logs');
    assert.ok(!suite.service.logs.includes('forged'), 'no client-supplied text in the logs');
  });

  it('prints no deprecation warning (Node or Fastify) at start-up or while serving', () => {
    assert.doesNotMatch(suite.service.logs, /DeprecationWarning|FSTDEP\d+/);
  });
});

describe('a failed database write is logged without its data', () => {
  const suite = allInOneForSuite({ LOG_LEVEL: 'debug', JOB_ATTEMPTS: '2', JOB_BACKOFF_MS: '100' });

  it('names the batch and the SQLSTATE on every attempt, never the statement, its parameters or the row', async () => {
    const marker = `payload-marker-${randomUUID()}`;
    const eventId = randomUUID();
    // PostgreSQL refuses the row, and its error's detail quotes it: "Failing row contains (…)".
    const db = new Client({ connectionString: suite.databaseUrl });
    await db.connect();
    try {
      await db.query(`ALTER TABLE events ADD CONSTRAINT refuse_marker CHECK (customdata->>'note' IS DISTINCT FROM '${marker}')`);
    } finally {
      await db.end();
    }
    const body = exampleBatch('device-db-fault');
    const events = body.events as Array<{ event_id?: string; customdata?: Record<string, unknown> }>;
    events[0].event_id = eventId;
    events[0].customdata = { note: marker };
    const accepted = await postEvents(suite.service, { authorization: `Bearer ${tokenFor('device-db-fault')}` }, body);
    assert.equal(accepted.status, 202);
    const { batch_id: batchId } = (await accepted.json()) as { batch_id: string };

    await waitForLines(suite.service, () => suite.service.logs.includes(`batch ${batchId} attempt 2/2 failed (kept as failed)`), 15_000);
    const logs = suite.service.logs;
    for (const value of [marker, eventId, 'device-db-fault', 'com.example.stackblaster', 'PowerUpUsed']) {
      assert.ok(!logs.includes(value), `no payload value in the logs: ${value}`);
    }
    assert.doesNotMatch(logs, /PARAMETERS|INSERT INTO|Failing row/i, 'no statement, parameters or row');
    // PostgreSQL names the partition the row was routed to (events_default, events_p20260401…).
    assert.match(
      logs,
      new RegExp(`batch ${batchId} attempt 1/2 failed: SQLSTATE 23514 \\(table events_(default|p\\d{8}), constraint refuse_marker\\)`),
    );
    assert.match(logs, new RegExp(`batch ${batchId} attempt 2/2 failed \\(kept as failed\\): SQLSTATE 23514`));
    assert.ok(logs.includes('query failed: SQLSTATE 23514'), 'the failed statement is logged, by its code');
  });
});

describe('refusals are logged at warn, throttled, without credentials or bodies', () => {
  const suite = allInOneForSuite({
    LOG_LEVEL: 'log',
    BODY_LIMIT: '2048',
    RATE_LIMIT_PER_SUB_PER_SECOND: '1',
    RATE_LIMIT_PER_SUB_BURST: '1',
    ADMIN_USER: 'ops',
    ADMIN_PASSWORD: 'correct horse battery staple',
  });

  const post = (headers: Record<string, string>, body: unknown) => postEvents(suite.service, headers, body);

  it('one line per reason and client, naming address, route, reason and request id', async () => {
    const forged = `forged-token-${randomUUID()}`;
    const marker = `body-marker-${randomUUID()}`;
    const expected = new Map<string, string>();
    const refuse = async (status: number, reason: string, send: () => Promise<Response>) => {
      const response = await send();
      assert.equal(response.status, status, await response.text());
      // The line is the first refusal's.
      if (!expected.has(reason)) expected.set(reason, response.headers.get('x-request-id') ?? '');
    };
    const withMarker = (user: string) => ({
      ...exampleBatch(user),
      events: [{ type: 'Custom', customEventName: 'X', timestamp: '2026-04-22T14:30:00Z', customdata: { note: marker } }],
    });

    await refuse(401, 'invalid_token', () => post({ authorization: `Bearer ${forged}`, 'x-request-id': 'refused-401' }, withMarker('a')));
    for (let i = 0; i < 20; i++) assert.equal((await post({ authorization: `Bearer ${forged}` }, withMarker('a'))).status, 401);
    await refuse(403, 'user_id_mismatch', () => post({ authorization: `Bearer ${tokenFor('player-403')}` }, withMarker('someone-else')));
    await refuse(413, 'body_too_large: the limit is 2048 bytes', () =>
      post({ authorization: `Bearer ${tokenFor('player-413')}` }, { ...withMarker('player-413'), pad: marker.repeat(50) }),
    );
    assert.equal((await post({ authorization: `Bearer ${tokenFor('player-429')}` }, exampleBatch('player-429'))).status, 202);
    await refuse(429, 'rate_limited', () => post({ authorization: `Bearer ${tokenFor('player-429')}` }, exampleBatch('player-429')));
    const guess = `Basic ${Buffer.from(`ops:${marker}`).toString('base64')}`;
    for (let i = 0; i < 3; i++) {
      await refuse(401, 'admin_login_failed', () =>
        fetch(`${suite.service.opsUrl}/admin/queues/api/queues`, { headers: { authorization: guess } }),
      );
    }

    const security = (lines: Array<Record<string, unknown>>) => lines.filter((line) => line.context === 'Security');
    const lines = security(await waitForLines(suite.service, (all) => security(all).length >= expected.size));
    assert.deepEqual(
      lines.map((line) => line.reason),
      [...expected.keys()],
      'one line each: the flood of 401s and the repeated failed logins included',
    );
    for (const line of lines) {
      const { status, reason, address, method, route, reqId, level } = line;
      assert.equal(level, 40, 'warn');
      assert.equal(address, '127.0.0.1');
      assert.equal(route, reason === 'admin_login_failed' ? '/admin/queues/api/queues' : '/ingest/events');
      assert.equal(method, reason === 'admin_login_failed' ? 'GET' : 'POST');
      assert.equal(reqId, expected.get(String(reason)), `${String(reason)}: the request id of the response`);
      assert.match(String(line.msg), new RegExp(`^refused ${String(status)} `));
    }
    assert.equal(lines[0].reqId, 'refused-401');
    const logs = suite.service.logs;
    for (const secret of [forged, marker, guess.slice(6), 'Bearer ', 'authorization'])
      assert.ok(!logs.includes(secret), `not in the logs: ${secret}`);
  });
});

async function waitForLines(
  service: ServiceProcess,
  ready: (lines: Array<Record<string, unknown>>) => boolean,
  timeoutMs = 5000,
): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = service.logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    if (ready(lines) || Date.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
