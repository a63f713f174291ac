import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { ServiceProcess, startService } from './support/processes';
import { createTestDatabase, exampleBatch, TEST_SECRET, tokenFor } from './support/test-app';
import type { ScratchDatabase } from '../support/local-services';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Starts an all-in-one on a database of its own before the suite's tests, and stops it after them. */
function allInOneForSuite(env: Record<string, string>): { readonly service: ServiceProcess; readonly databaseUrl: string } {
  const started: { service?: ServiceProcess; database?: ScratchDatabase } = {};
  before(async () => {
    started.database = await createTestDatabase();
    started.service = await startService('all-in-one', {
      DATABASE_URL: started.database.url,
      JWT_SECRET: TEST_SECRET,
      QUEUE_PREFIX: `logs-${randomUUID().slice(0, 8)}`,
      ...env,
    });
  });
  after(async () => {
    await started.service?.stop();
    await started.database?.drop();
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

describe('request ids and log hygiene', () => {
  const suite = allInOneForSuite({ LOG_LEVEL: 'debug' });

  const send = (headers: Record<string, string>, body: unknown) =>
    fetch(`${suite.service.url}/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

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
    const accepted = await fetch(`${suite.service.url}/ingest/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor('device-db-fault')}` },
      body: JSON.stringify(body),
    });
    assert.equal(accepted.status, 202);
    const { batch_id: batchId } = (await accepted.json()) as { batch_id: string };

    await waitForLines(suite.service, () => suite.service.logs.includes(`batch ${batchId} attempt 2/2 failed (kept as failed)`), 15_000);
    const logs = suite.service.logs;
    for (const value of [marker, eventId, 'device-db-fault', 'com.example.stackblaster', 'PowerUpUsed']) {
      assert.ok(!logs.includes(value), `no payload value in the logs: ${value}`);
    }
    assert.doesNotMatch(logs, /PARAMETERS|INSERT INTO|Failing row/i, 'no statement, parameters or row');
    assert.match(logs, new RegExp(`batch ${batchId} attempt 1/2 failed: SQLSTATE 23514 \\(table events, constraint refuse_marker\\)`));
    assert.match(logs, new RegExp(`batch ${batchId} attempt 2/2 failed \\(kept as failed\\): SQLSTATE 23514`));
    assert.ok(logs.includes('query failed: SQLSTATE 23514'), 'the failed statement is logged, by its code');
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
