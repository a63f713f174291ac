import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { REDIS_CLIENT } from '#platform';
import { bootTestApp, exampleBatch, TestApp, tokenFor } from './support/test-app';

// Per player: 3 at once, then 1 per second. Per address: 8 at once, then 1 per second.
const RATE_LIMITS = {
  RATE_LIMIT_PER_SUB_PER_SECOND: '1',
  RATE_LIMIT_PER_SUB_BURST: '3',
  RATE_LIMIT_PER_IP_PER_SECOND: '1',
  RATE_LIMIT_PER_IP_BURST: '8',
};

/** Every test sends from an address of its own, so that the per-address buckets of tests never meet. */
let lastOctet = 0;
const freshAddress = () => `198.51.100.${++lastOctet}`;
const freshPlayer = (name: string) => `${name}-${randomUUID().slice(0, 8)}`;

interface Send {
  from: string;
  sub?: string;
  body?: unknown;
}

function post(t: TestApp, { from, sub, body }: Send): Promise<LightMyRequestResponse> {
  const options: InjectOptions = {
    method: 'POST',
    url: '/ingest/events',
    remoteAddress: from,
    headers: { 'content-type': 'application/json', ...(sub === undefined ? {} : { authorization: `Bearer ${tokenFor(sub)}` }) },
    payload: JSON.stringify(body ?? exampleBatch(sub)),
  };
  return t.inject(options);
}

/** A request without a token relayed by the proxy at `proxy`, which says it came from `forwardedFor`. */
function postViaProxy(t: TestApp, proxy: string, forwardedFor: string): Promise<LightMyRequestResponse> {
  return t.inject({
    method: 'POST',
    url: '/ingest/events',
    remoteAddress: proxy,
    headers: { 'content-type': 'application/json', 'x-forwarded-for': forwardedFor },
    payload: JSON.stringify(exampleBatch()),
  });
}

function limitHeaders(response: LightMyRequestResponse): { limit: number; remaining: number; reset: number } {
  for (const name of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) {
    assert.match(String(response.headers[name]), /^\d+$/, `${name} is an integer number of seconds or requests: ${response.body}`);
  }
  return {
    limit: Number(response.headers['ratelimit-limit']),
    remaining: Number(response.headers['ratelimit-remaining']),
    reset: Number(response.headers['ratelimit-reset']),
  };
}

/** A 429 in the envelope, with Retry-After (whole seconds, ≥ 1) and the RateLimit-* headers of the refusing bucket. */
function assertRateLimited(response: LightMyRequestResponse, limit: number): number {
  assert.equal(response.statusCode, 429, response.body);
  assert.deepEqual(response.json(), { error: { code: 'TOO_MANY_REQUESTS', message: 'rate_limited' } });
  assert.match(String(response.headers['retry-after']), /^[1-9]\d*$/);
  const retryAfter = Number(response.headers['retry-after']);
  const headers = limitHeaders(response);
  assert.equal(headers.limit, limit);
  assert.equal(headers.remaining, 0);
  assert.ok(headers.reset >= retryAfter, `RateLimit-Reset ${headers.reset} is not before Retry-After ${retryAfter}`);
  return retryAfter;
}

describe('rate limits: per player and per client address, held in Redis', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({ env: RATE_LIMITS });
  });
  after(async () => {
    await t.close();
  });

  it('202 answers carry RateLimit-* headers for the most restrictive bucket', async () => {
    const from = freshAddress();
    const sub = freshPlayer('headers');
    const first = await post(t, { from, sub });
    assert.equal(first.statusCode, 202, first.body);
    // The player's bucket (2 of 3 left) is tighter than the address's (7 of 8 left): it is the one reported.
    assert.deepEqual(limitHeaders(first), { limit: 3, remaining: 2, reset: 1 });
    assert.equal(first.headers['retry-after'], undefined);
    const second = await post(t, { from, sub });
    assert.equal(second.statusCode, 202);
    assert.deepEqual(limitHeaders(second), { limit: 3, remaining: 1, reset: 2 });
  });

  it('reports the address bucket when it is the tighter one', async () => {
    const from = freshAddress();
    for (let i = 0; i < 6; i++) await post(t, { from });
    // The address has 1 of 8 left after this request, the player 2 of 3.
    const response = await post(t, { from, sub: freshPlayer('crowded') });
    assert.equal(response.statusCode, 202, response.body);
    const { limit, remaining, reset } = limitHeaders(response);
    assert.deepEqual([limit, remaining], [8, 1]);
    assert.ok(reset >= 6 && reset <= 7, `a full bucket is about 7 s away, not ${reset}`);
  });

  it('the 4th quick request of one player is 429 TOO_MANY_REQUESTS; other players are not affected', async () => {
    const from = freshAddress();
    const sub = freshPlayer('eager');
    for (let i = 0; i < 3; i++) assert.equal((await post(t, { from, sub })).statusCode, 202);
    assertRateLimited(await post(t, { from, sub }), 3);
    // Another address does not help: the limit follows the player.
    assertRateLimited(await post(t, { from: freshAddress(), sub }), 3);

    const other = await post(t, { from, sub: freshPlayer('patient') });
    assert.equal(other.statusCode, 202, other.body);
    assert.equal(limitHeaders(other).remaining, 2);
  });

  it('a refused player may send again after Retry-After seconds', async () => {
    const from = freshAddress();
    const sub = freshPlayer('retry');
    for (let i = 0; i < 3; i++) await post(t, { from, sub });
    const retryAfter = assertRateLimited(await post(t, { from, sub }), 3);
    await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
    const again = await post(t, { from, sub });
    assert.equal(again.statusCode, 202, again.body);
    assert.equal(limitHeaders(again).remaining, 0);
  });

  it('runs before validation and before the user_id check: a limited player gets 429, not 400 or 403', async () => {
    const from = freshAddress();
    const sub = freshPlayer('invalid');
    const invalid = { user_id: sub, game_id: 'bad', events: [] };
    // Refused bodies cost a token too.
    const answers = [
      await post(t, { from, sub, body: invalid }),
      await post(t, { from, sub, body: { ...exampleBatch(), user_id: 'someone-else' } }),
      await post(t, { from, sub }),
    ];
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      [400, 403, 202],
    );
    assert.deepEqual(
      answers.map((r) => limitHeaders(r).remaining),
      [2, 1, 0],
      'errors carry the headers too',
    );
    assertRateLimited(await post(t, { from, sub, body: invalid }), 3);
    assertRateLimited(await post(t, { from, sub, body: { ...invalid, user_id: 'someone-else' } }), 3);
  });

  it('limits an address before authentication: 401 while its bucket lasts, then 429, with or without a token', async () => {
    const from = freshAddress();
    const answers = [];
    for (let i = 0; i < 8; i++) answers.push(await post(t, { from, body: exampleBatch() }));
    assert.deepEqual(
      answers.map((r) => r.statusCode),
      Array(8).fill(401),
    );
    assert.deepEqual(
      answers.map((r) => limitHeaders(r).remaining),
      [7, 6, 5, 4, 3, 2, 1, 0],
    );
    assertRateLimited(await post(t, { from, body: exampleBatch() }), 8);
    // Not even a valid token gets through: the address is refused before the token is looked at.
    assertRateLimited(await post(t, { from, sub: freshPlayer('neighbour') }), 8);
    // Nor a body Fastify would refuse on its own (no content type: 415).
    const noContentType = await t.inject({ method: 'POST', url: '/ingest/events', remoteAddress: from, payload: '{}' });
    assertRateLimited(noContentType, 8);

    // Other addresses are not affected, but a client cannot pick another one with X-Forwarded-For: by default
    // (TRUST_PROXY unset) no proxy is believed.
    const elsewhere = await post(t, { from: freshAddress(), body: exampleBatch() });
    assert.equal(elsewhere.statusCode, 401);
    const spoofed = await t.inject({
      method: 'POST',
      url: '/ingest/events',
      remoteAddress: from,
      headers: { 'content-type': 'application/json', 'x-forwarded-for': freshAddress() },
      payload: JSON.stringify(exampleBatch()),
    });
    assert.equal(spoofed.statusCode, 429, spoofed.body);
  });

  it('counts an IPv6 client by its /56 (RATE_LIMIT_IPV6_PREFIX): every address of that /56 shares one bucket', async () => {
    const network = `2001:db8:${++lastOctet}`;
    for (let i = 1; i <= 8; i++) assert.equal((await post(t, { from: `${network}:${i}::${i}`, body: exampleBatch() })).statusCode, 401);
    assertRateLimited(await post(t, { from: `${network}:ff:ffff:ffff:ffff:ffff`, body: exampleBatch() }), 8);
    assert.equal((await post(t, { from: `${network}:100::1`, body: exampleBatch() })).statusCode, 401, 'the next /56 is another client');
  });

  it('believes X-Forwarded-For only from the proxies named in TRUST_PROXY', async () => {
    const proxy = freshAddress();
    const behindProxy = await bootTestApp({ env: { ...RATE_LIMITS, TRUST_PROXY: proxy } });
    try {
      const client = freshAddress();
      const viaProxy = (forwardedFor: string) => postViaProxy(behindProxy, proxy, forwardedFor);
      for (let i = 0; i < 8; i++) assert.equal((await viaProxy(client)).statusCode, 401);
      assert.equal((await viaProxy(client)).statusCode, 429, 'the client behind the proxy is limited');
      assert.equal((await viaProxy(freshAddress())).statusCode, 401, 'other clients behind the same proxy are not');
    } finally {
      await behindProxy.close();
    }
  });

  it('counts an X-Forwarded-For entry that is not an address against the socket, not as a key the client chose', async () => {
    const proxy = freshAddress();
    const behindProxy = await bootTestApp({ env: { ...RATE_LIMITS, TRUST_PROXY: proxy } });
    try {
      const viaProxy = (forwardedFor: string) => postViaProxy(behindProxy, proxy, forwardedFor);
      // A new string each time: were each its own bucket, none would ever be limited.
      for (let i = 0; i < 8; i++) assert.equal((await viaProxy(`not-an-address-${i}`)).statusCode, 401);
      assert.equal((await viaProxy('not-an-address-9')).statusCode, 429);
    } finally {
      await behindProxy.close();
    }
  });

  it('does not limit health checks or the documentation', async () => {
    const from = freshAddress();
    for (let i = 0; i < 9; i++) await post(t, { from });
    assertRateLimited(await post(t, { from }), 8);
    for (const url of ['/health/live', '/health/ready', '/docs-json']) {
      const response = await t.inject({ method: 'GET', url, remoteAddress: from });
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      assert.equal(response.headers['ratelimit-limit'], undefined, url);
    }
  });

  it('keeps its buckets in Redis under the queue prefix', async () => {
    const from = freshAddress();
    const sub = freshPlayer('stored');
    await post(t, { from, sub });
    const prefix = t.config.queue.prefix;
    for (const key of [`${prefix}:ratelimit:sub:${sub}`, `${prefix}:ratelimit:ip:${from}`]) {
      assert.equal(await t.redis.exists(key), 1, key);
      assert.ok((await t.redis.pttl(key)) > 0, `${key} expires once idle`);
    }
  });

  it('holds across gateway instances sharing Redis', async () => {
    const second = await bootTestApp({
      rootModule: GatewayModule,
      env: RATE_LIMITS,
      shared: { databaseUrl: t.databaseUrl, prefix: t.config.queue.prefix },
    });
    try {
      const sub = freshPlayer('roaming');
      assert.equal((await post(t, { from: freshAddress(), sub })).statusCode, 202);
      assert.equal((await post(second, { from: freshAddress(), sub })).statusCode, 202);
      const third = await post(t, { from: freshAddress(), sub });
      assert.equal(third.statusCode, 202);
      assert.equal(limitHeaders(third).remaining, 0);
      assertRateLimited(await post(second, { from: freshAddress(), sub }), 3);
    } finally {
      await second.close();
    }
  });

  it('documents 429 with an example and the headers', async () => {
    const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<{
      paths: Record<
        string,
        Record<
          string,
          { responses: Record<string, { headers?: object; content?: Record<string, { examples?: Record<string, { value: unknown }> }> }> }
        >
      >;
    }>();
    const responses = doc.paths['/ingest/events'].post.responses;
    assert.deepEqual(responses['429']?.content?.['application/json']?.examples?.rate_limited?.value, {
      error: { code: 'TOO_MANY_REQUESTS', message: 'rate_limited' },
    });
    assert.deepEqual(Object.keys(responses['429'].headers ?? {}).sort(), [
      'RateLimit-Limit',
      'RateLimit-Remaining',
      'RateLimit-Reset',
      'Retry-After',
    ]);
    assert.ok(responses['202'].headers && 'RateLimit-Remaining' in responses['202'].headers);
  });
});

describe('rate limits: fail open when Redis does not answer', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({ env: RATE_LIMITS });
  });
  after(async () => {
    await t.close();
  });

  it('answers 503 queue_unavailable at once, never 429 or 500', async () => {
    // The limiter and the buffered-events counter share this client; cut it off for good.
    t.app.get<Redis>(REDIS_CLIENT).disconnect();
    const from = freshAddress();
    const sub = freshPlayer('outage');
    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      const response = await post(t, { from, sub });
      const ms = performance.now() - started;
      assert.equal(response.statusCode, 503, response.body);
      assert.deepEqual(response.json(), { error: { code: 'SERVICE_UNAVAILABLE', message: 'queue_unavailable' } });
      assert.equal(response.headers['ratelimit-limit'], undefined, 'nothing is reported for buckets that were not counted');
      assert.ok(ms < 250, `answered in ${ms.toFixed(0)} ms`);
    }
    // Without a token the order is unchanged: the address limit passes, authentication refuses.
    assert.equal((await post(t, { from })).statusCode, 401);
  });
});

describe('per-player event limit', () => {
  // 200 events at once (a full batch), then 10 a second: one player cannot fill the buffer everyone shares.
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({ env: { RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND: '10', RATE_LIMIT_EVENTS_PER_SUB_BURST: '200' } });
  });
  after(async () => {
    await t.close();
  });

  const batchOf = (sub: string, events: number) => {
    const [event] = exampleBatch(sub).events as unknown[];
    return { ...exampleBatch(sub), events: Array.from({ length: events }, () => event) };
  };

  it('counts events, not requests: a full batch passes, the next is a 429 with the wait for its events', async () => {
    const sub = freshPlayer('events');
    const from = freshAddress();
    assert.equal((await post(t, { from, sub, body: batchOf(sub, 200) })).statusCode, 202);
    const refused = await post(t, { from, sub, body: batchOf(sub, 50) });
    assert.equal(refused.statusCode, 429, refused.body);
    assert.deepEqual(refused.json(), { error: { code: 'TOO_MANY_REQUESTS', message: 'rate_limited' } });
    // 50 events at 10 a second.
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(retryAfter >= 4 && retryAfter <= 5, `Retry-After ${retryAfter}`);
    const other = freshPlayer('events-other');
    assert.equal(
      (await post(t, { from, sub: other, body: batchOf(other, 200) })).statusCode,
      202,
      'another player has a bucket of its own',
    );
    assert.equal(await t.redis.exists(`${t.config.queue.prefix}:ratelimit:events:${sub}`), 1);
  });
});
