import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ServiceProcess, startService } from './support/processes';
import { createTestDatabase, exampleBatch, TEST_SECRET, tokenFor } from './support/test-app';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('request ids and log hygiene', () => {
  let database: { url: string; drop: () => Promise<void> };
  let service: ServiceProcess;
  before(async () => {
    database = await createTestDatabase();
    service = await startService('all-in-one', {
      DATABASE_URL: database.url,
      JWT_SECRET: TEST_SECRET,
      QUEUE_PREFIX: `logs-${randomUUID().slice(0, 8)}`,
      LOG_LEVEL: 'debug',
    });
  });
  after(async () => {
    await service.stop();
    await database.drop();
  });

  const send = (headers: Record<string, string>, body: unknown) =>
    fetch(`${service.url}/ingest/events`, {
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
    const generated = await fetch(`${service.url}/nowhere`);
    assert.match(generated.headers.get('x-request-id') ?? '', UUID);

    // The access lines are written after the responses; give the process a moment to flush them.
    const lines = await waitForLines(
      service,
      (all) => all.some((l) => l.reqId === requestId) && all.filter((l) => l.context === 'Http').length >= 3,
    );
    const httpLines = lines.filter((l) => l.context === 'Http');
    assert.ok(httpLines.length >= 3);
    for (const line of httpLines) assert.match(String(line.reqId), /^(client-|[0-9a-f]{8}-)/, JSON.stringify(line));
    assert.deepEqual(
      httpLines.find((l) => l.reqId === requestId),
      { ...httpLines.find((l) => l.reqId === requestId), method: 'POST', route: '/ingest/events', status: 202 },
    );

    assert.ok(!service.logs.includes(token), 'no token in the logs');
    assert.ok(!service.logs.includes(marker), 'no payload in the logs');
    assert.ok(!service.logs.includes('forged'), 'no client-supplied text in the logs');
  });
});

async function waitForLines(
  service: ServiceProcess,
  ready: (lines: Array<Record<string, unknown>>) => boolean,
): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = service.logs
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    if (ready(lines) || Date.now() > deadline) return lines;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
