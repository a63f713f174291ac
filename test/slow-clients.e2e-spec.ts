import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { deletePrefix } from '../support/local-services';
import { ServiceProcess, startService } from './support/processes';
import { createTestDatabase, REDIS_URL, TEST_SECRET, tokenFor } from './support/test-app';

// What an anonymous client, or a player, can make a gateway hold by sending slowly or not at all: nothing before the
// token is checked, and nothing for longer than HTTP_REQUEST_TIMEOUT_MS after it.

const REQUEST_TIMEOUT_MS = 3000;

interface Outcome {
  /** The status line's code, or '' when the connection ended without an answer (reset while still sending). */
  status: string;
  body: string;
  closedAfterMs: number;
}

/**
 * A raw HTTP/1.1 upload: the headers, then `sent` bytes of a body that declares `declared`, then nothing more. Resolves
 * when the server closes the connection.
 */
function stalledUpload(service: ServiceProcess, declared: number, sent: number, headers: Record<string, string> = {}): Promise<Outcome> {
  const { port } = new URL(service.url);
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(Number(port), '127.0.0.1', () => {
      const lines = Object.entries({ host: 'gateway', 'content-type': 'application/json', 'content-length': String(declared), ...headers });
      socket.write(`POST /ingest/events HTTP/1.1\r\n${lines.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n`);
      socket.write(Buffer.alloc(sent, 0x20));
    });
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    // The server may close while the client is still writing: a reset, not a failure of the test.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      resolve({ status: head.slice(9, 12), body, closedAfterMs: Date.now() - started });
    });
  });
}

const rssMb = (service: ServiceProcess) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${service.pid}/status`, 'utf8'))![1]) / 1024;

describe('slow and stalled uploads', { timeout: 120_000 }, () => {
  let gateway: ServiceProcess;
  let drop: () => Promise<void>;
  const prefix = `slow-${randomUUID().slice(0, 8)}`;

  before(async () => {
    const database = await createTestDatabase();
    drop = () => database.drop();
    gateway = await startService('gateway', {
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      JWT_SECRET: TEST_SECRET,
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      BODY_LIMIT: String(64 * 1024),
      BODY_BYTES_IN_FLIGHT_PER_CLIENT: String(128 * 1024),
      // Many connections from one address in a moment: the per-address request limit is not what this tests.
      RATE_LIMIT_PER_IP_PER_SECOND: '0',
    });
  });
  after(async () => {
    await gateway?.stop();
    await drop?.();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it('150 uploads of 1 MB without a token: 401 before the body is read, closed at once, a few MB of memory', async (ctx) => {
    const uploads = (bytes: number) => Promise.all(Array.from({ length: 150 }, () => stalledUpload(gateway, 1_048_000, bytes)));
    // The same connections with almost no body: what 150 connections cost by themselves.
    await uploads(10);
    const baseline = rssMb(gateway);
    const outcomes = await uploads(1_000_000);
    const grownMb = rssMb(gateway) - baseline;
    for (const outcome of outcomes) {
      assert.ok(['401', ''].includes(outcome.status), `answered ${outcome.status}`);
      if (outcome.status === '401') assert.match(outcome.body, /"missing_token"/);
      assert.ok(outcome.closedAfterMs < REQUEST_TIMEOUT_MS, `closed after ${outcome.closedAfterMs} ms`);
    }
    assert.ok(
      outcomes.some((outcome) => outcome.status === '401'),
      'answered in the envelope',
    );
    // Reading them would hold 150 MB (and did: the gateway grew from 114 to 262 MB and stayed there).
    assert.ok(grownMb < 24, `RSS grew by ${grownMb.toFixed(1)} MB`);
    ctx.diagnostic(
      `150 anonymous 1 MB uploads: RSS +${grownMb.toFixed(1)} MB over 150 empty ones; all closed within ` +
        `${Math.max(...outcomes.map((o) => o.closedAfterMs))} ms`,
    );
  });

  it("a player's stalled upload is closed at HTTP_REQUEST_TIMEOUT_MS with a 408 in the envelope", async (ctx) => {
    const outcome = await stalledUpload(gateway, 60_000, 100, { authorization: `Bearer ${tokenFor('slow-player')}` });
    assert.equal(outcome.status, '408');
    assert.deepEqual(JSON.parse(outcome.body), { error: { code: 'REQUEST_TIMEOUT', message: 'request_timeout' } });
    // Node checks the timeout every second.
    assert.ok(outcome.closedAfterMs >= REQUEST_TIMEOUT_MS - 100, `closed after ${outcome.closedAfterMs} ms`);
    assert.ok(outcome.closedAfterMs < REQUEST_TIMEOUT_MS + 2500, `closed after ${outcome.closedAfterMs} ms`);
    ctx.diagnostic(`stalled authenticated upload closed after ${outcome.closedAfterMs} ms (timeout ${REQUEST_TIMEOUT_MS} ms)`);
  });

  it('one client address holds at most BODY_BYTES_IN_FLIGHT_PER_CLIENT of bodies: the next upload is a 429', async () => {
    const authorization = `Bearer ${tokenFor('busy-player')}`;
    // Two bodies of 60 KB (of 64 KB declared), stalled: 120 of the client's 128 KB.
    const holding = [stalledUpload(gateway, 64_000, 60_000, { authorization }), stalledUpload(gateway, 64_000, 60_000, { authorization })];
    await new Promise((resolve) => setTimeout(resolve, 500));
    const refused = await stalledUpload(gateway, 20_000, 20_000, { authorization });
    assert.equal(refused.status, '429');
    assert.deepEqual(JSON.parse(refused.body), { error: { code: 'TOO_MANY_REQUESTS', message: 'too_many_bytes_in_flight' } });
    for (const outcome of await Promise.all(holding)) assert.equal(outcome.status, '408');
  });
});
