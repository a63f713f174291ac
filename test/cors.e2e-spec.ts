import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { bootTestApp, exampleBatch, TestApp, tokenFor } from './support/test-app';

const ALLOWED = 'https://play.example.com';
const ALSO_ALLOWED = 'http://localhost:5173';
const OTHER = 'https://evil.example.net';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Content-Encoding, X-Request-Id';
const EXPOSED_HEADERS = 'Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-Id';

/** Every test sends from an address of its own, so that the per-address buckets of tests never meet. */
let lastOctet = 0;
const freshAddress = () => `203.0.113.${++lastOctet}`;

function corsHeaders(response: LightMyRequestResponse): Record<string, unknown> {
  return Object.fromEntries(Object.entries(response.headers).filter(([name]) => name.startsWith('access-control-')));
}

function varyNames(response: LightMyRequestResponse): string[] {
  return String(response.headers.vary ?? '')
    .split(',')
    .map((name) => name.trim().toLowerCase());
}

function preflight(t: TestApp, url: string, origin: string, method: string, from = freshAddress()): Promise<LightMyRequestResponse> {
  return t.inject({
    method: 'OPTIONS',
    url,
    remoteAddress: from,
    headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
  });
}

function post(
  t: TestApp,
  {
    origin,
    token,
    body,
    headers = {},
    from = freshAddress(),
  }: { origin?: string; token?: string; body?: string; headers?: Record<string, string>; from?: string },
): Promise<LightMyRequestResponse> {
  return t.inject({
    method: 'POST',
    url: '/ingest/events',
    remoteAddress: from,
    headers: {
      'content-type': 'application/json',
      ...(origin === undefined ? {} : { origin }),
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    payload: body ?? JSON.stringify(exampleBatch('cors-player')),
  });
}

/** The headers of an answer a page on `origin` may read. */
function assertReadableBy(response: LightMyRequestResponse, origin: string): void {
  assert.equal(response.headers['access-control-allow-origin'], origin, response.body);
  assert.equal(response.headers['access-control-expose-headers'], EXPOSED_HEADERS);
  assert.equal(response.headers['access-control-allow-credentials'], undefined);
  assert.ok(varyNames(response).includes('origin'), `Vary: ${String(response.headers.vary)}`);
}

/** An error in the envelope, readable by a page on ALLOWED. */
function assertReadableError(response: LightMyRequestResponse, status: number, message: string): void {
  assert.equal(response.statusCode, status, response.body);
  assert.equal(response.json<{ error: { message: string } }>().error.message, message);
  assertReadableBy(response, ALLOWED);
}

describe('CORS: CORS_ORIGINS set', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({
      env: {
        CORS_ORIGINS: `${ALLOWED},${ALSO_ALLOWED}`,
        // Per address: 2 at once, then 1 a second; per player off.
        RATE_LIMIT_PER_IP_PER_SECOND: '1',
        RATE_LIMIT_PER_IP_BURST: '2',
        BODY_LIMIT: '2048',
        BODY_BYTES_IN_FLIGHT_PER_CLIENT: '65536',
      },
    });
  });
  after(async () => {
    await t?.close();
  });

  it("answers a preflight of POST /ingest/events from an allowed origin 204, before the token, with the route's method", async () => {
    const response = await preflight(t, '/ingest/events', ALLOWED, 'POST');
    assert.equal(response.statusCode, 204, response.body);
    assert.equal(response.body, '');
    assert.deepEqual(corsHeaders(response), {
      'access-control-allow-origin': ALLOWED,
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': ALLOWED_HEADERS,
      'access-control-max-age': '7200',
      'access-control-expose-headers': EXPOSED_HEADERS,
    });
    assert.ok(varyNames(response).includes('origin'));
    assert.equal(response.headers.connection === 'close', false, 'a preflight is not refused: its connection stays open');
  });

  it('answers a preflight of GET /ingest/batches/:batch_id and GET /ingest/client-config with GET, for each allowed origin', async () => {
    for (const url of [`/ingest/batches/${randomUUID()}`, '/ingest/client-config']) {
      const response = await preflight(t, url, ALSO_ALLOWED, 'GET');
      assert.equal(response.statusCode, 204, response.body);
      assert.equal(response.headers['access-control-allow-origin'], ALSO_ALLOWED, url);
      assert.equal(response.headers['access-control-allow-methods'], 'GET', url);
      assert.equal(response.headers['access-control-max-age'], '7200', url);
    }
  });

  it('answers a preflight from another origin 204 without any CORS header, which the browser refuses', async () => {
    for (const url of ['/ingest/events', `/ingest/batches/${randomUUID()}`]) {
      const response = await preflight(t, url, OTHER, url === '/ingest/events' ? 'POST' : 'GET');
      assert.equal(response.statusCode, 204, response.body);
      assert.deepEqual(corsHeaders(response), {});
      assert.ok(varyNames(response).includes('origin'), 'caches keep the answer apart from an allowed origin’s');
    }
    // Nor is an OPTIONS request without Access-Control-Request-Method a preflight.
    const plain = await t.inject({ method: 'OPTIONS', url: '/ingest/events', headers: { origin: ALLOWED } });
    assert.equal(plain.statusCode, 204, plain.body);
    assert.deepEqual(corsHeaders(plain), {});
    assert.equal(plain.headers.allow, 'POST, OPTIONS');
  });

  it('does not count preflights against the per-address limit', async () => {
    const from = freshAddress();
    for (let i = 0; i < 6; i++) assert.equal((await preflight(t, '/ingest/events', ALLOWED, 'POST', from)).statusCode, 204);
    // The address still has its whole burst (2) for requests.
    assert.equal((await post(t, { origin: ALLOWED, token: tokenFor('cors-player'), from })).statusCode, 202);
    assert.equal((await post(t, { origin: ALLOWED, token: tokenFor('cors-player'), from })).statusCode, 202);
  });

  it('answers a preflight to a path without a route 404, not 401', async () => {
    const response = await preflight(t, '/nowhere', ALLOWED, 'POST');
    assert.equal(response.statusCode, 404, response.body);
    assert.equal(response.json<{ error: { message: string } }>().error.message, 'not_found');
    assert.deepEqual(corsHeaders(response), {});
  });

  it('never reads the body of an OPTIONS request, and closes its connection', async () => {
    for (const [url, origin, status] of [
      ['/ingest/events', OTHER, 204],
      ['/ingest/events', ALLOWED, 204],
      ['/nowhere', ALLOWED, 404],
    ] as const) {
      // Read, this body would be a 400 (not JSON); unauthenticated, it must not be read at all.
      const response = await t.inject({
        method: 'OPTIONS',
        url,
        remoteAddress: freshAddress(),
        headers: { origin, 'content-type': 'application/json' },
        payload: '{'.repeat(1000),
      });
      assert.equal(response.statusCode, status, `${url} from ${origin}: ${response.body}`);
      assert.equal(response.headers.connection, 'close');
    }
  });

  it('lets an allowed origin read a 202, with the rate-limit headers and the request id exposed', async () => {
    const response = await post(t, { origin: ALLOWED, token: tokenFor('cors-player') });
    assert.equal(response.statusCode, 202, response.body);
    assertReadableBy(response, ALLOWED);
    assert.ok(response.headers['ratelimit-remaining'] !== undefined);
    assert.ok(response.headers['x-request-id'] !== undefined);
  });

  it('gives another origin, or a request without Origin, no CORS header on the answer', async () => {
    for (const origin of [OTHER, undefined]) {
      const response = await post(t, { origin, token: tokenFor('cors-player') });
      assert.equal(response.statusCode, 202, response.body);
      assert.deepEqual(corsHeaders(response), {});
    }
  });

  it('lets an allowed origin read the refusals of the onRequest hooks, in the envelope: 401 (no token), 415, 429', async () => {
    assertReadableError(await post(t, { origin: ALLOWED }), 401, 'missing_token');
    assertReadableError(
      await post(t, { origin: ALLOWED, token: tokenFor('cors-player'), headers: { 'content-type': 'text/plain' } }),
      415,
      'content_type_must_be_application_json',
    );
    const from = freshAddress();
    await post(t, { origin: ALLOWED, from });
    await post(t, { origin: ALLOWED, from });
    const limited = await post(t, { origin: ALLOWED, token: tokenFor('cors-player'), from });
    assertReadableError(limited, 429, 'rate_limited');
    assert.match(String(limited.headers['retry-after']), /^\d+$/);
  });

  it('lets an allowed origin read the refusals of the body parser and the validation: 413, 400', async () => {
    const token = tokenFor('cors-player');
    const tooLarge = await post(t, {
      origin: ALLOWED,
      token,
      body: JSON.stringify({ ...exampleBatch('cors-player'), pad: 'x'.repeat(4096) }),
    });
    assert.equal(tooLarge.statusCode, 413, tooLarge.body);
    assertReadableBy(tooLarge, ALLOWED);
    const invalid = await post(t, { origin: ALLOWED, token, body: JSON.stringify({ ...exampleBatch('cors-player'), events: [] }) });
    assert.equal(invalid.statusCode, 400, invalid.body);
    assertReadableBy(invalid, ALLOWED);
    assert.equal(invalid.json<{ error: { code: string } }>().error.code, 'BAD_REQUEST');
  });

  it('lets an allowed origin read a receipt and its 404', async () => {
    const response = await t.inject({
      method: 'GET',
      url: `/ingest/batches/${randomUUID()}`,
      remoteAddress: freshAddress(),
      headers: { origin: ALLOWED, authorization: `Bearer ${tokenFor('cors-player')}` },
    });
    assert.equal(response.statusCode, 404, response.body);
    assertReadableBy(response, ALLOWED);
  });

  it("lets an allowed origin read the router's refusals, before any hook: a malformed URL (400), a path parameter too long (414)", async () => {
    for (const [url, status] of [
      ['/ingest/batches/%ZZ', 400],
      [`/ingest/batches/${'a'.repeat(150)}`, 414],
    ] as const) {
      const headers = { origin: ALLOWED, authorization: `Bearer ${tokenFor('cors-player')}` };
      const refused = await t.inject({ method: 'GET', url, remoteAddress: freshAddress(), headers });
      assert.equal(refused.statusCode, status, refused.body);
      assertReadableBy(refused, ALLOWED);
      const other = await t.inject({
        method: 'GET',
        url,
        remoteAddress: freshAddress(),
        headers: { ...headers, origin: 'https://evil.example' },
      });
      assert.deepEqual(corsHeaders(other), {}, 'another origin gets none');
    }
  });

  it('leaves the routes not marked for browsers, and the operations listener, without CORS', async () => {
    const health = await t.inject({ method: 'GET', url: '/health/live', headers: { origin: ALLOWED } });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(corsHeaders(health), {});
    const opsPreflight = await t.opsInject({
      method: 'OPTIONS',
      url: '/metrics',
      headers: { origin: ALLOWED, 'access-control-request-method': 'GET' },
    });
    assert.notEqual(opsPreflight.statusCode, 204);
    assert.deepEqual(corsHeaders(opsPreflight), {});
    const metrics = await t.opsInject({ method: 'GET', url: '/metrics', headers: { origin: ALLOWED } });
    assert.equal(metrics.statusCode, 200);
    assert.deepEqual(corsHeaders(metrics), {});
  });
});

describe('CORS: the gateway on its own, its buffer full', () => {
  let t: TestApp;
  before(async () => {
    // A gateway alone (nothing drains the buffer), whose buffer holds fewer events than a batch has.
    t = await bootTestApp({ rootModule: GatewayModule, env: { CORS_ORIGINS: ALLOWED, BUFFER_MAX_EVENTS: '2' } });
  });
  after(async () => {
    await t?.close();
  });

  it('lets an allowed origin read a 503 and its Retry-After', async () => {
    const response = await post(t, { origin: ALLOWED, token: tokenFor('cors-player') });
    assertReadableError(response, 503, 'buffer_full');
    assert.match(String(response.headers['retry-after']), /^\d+$/);
  });
});

describe('CORS: CORS_ORIGINS unset', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
  });
  after(async () => {
    await t?.close();
  });

  it('sends no CORS header and answers no preflight, as before', async () => {
    const answer = await post(t, { origin: ALLOWED, token: tokenFor('cors-player') });
    assert.equal(answer.statusCode, 202, answer.body);
    assert.deepEqual(corsHeaders(answer), {});
    assert.equal(varyNames(answer).includes('origin'), false);
    const refused = await post(t, { origin: ALLOWED });
    assert.equal(refused.statusCode, 401);
    assert.deepEqual(corsHeaders(refused), {});
    const response = await preflight(t, '/ingest/events', ALLOWED, 'POST');
    assert.equal(response.statusCode, 404, response.body);
    assert.deepEqual(corsHeaders(response), {});
  });
});
