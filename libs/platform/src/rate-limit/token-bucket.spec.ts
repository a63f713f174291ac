import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, Server, Socket } from 'node:net';
import { after, before, describe, it, mock } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig } from '../config/app-config';
import { normalizeAddress } from '../net/client-address';
import { fastFailRedisOptions } from '../redis/redis-options';
import { RATE_LIMIT_DEADLINE_MS, RateLimitDecision, RateLimiter, rateLimitKey } from './token-bucket';

// These run against the real Redis (127.0.0.1:6379), under a prefix of their own that is removed afterwards.
const REDIS_URL = 'redis://127.0.0.1:6379';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function limiterOn(redis: Redis, prefix: string, env: Record<string, string> = {}): RateLimiter {
  return new RateLimiter(redis, loadConfig({ NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: prefix, ...env }));
}

/** Whether `promise` has settled after the pending I/O callbacks have run (a few turns of the event loop). */
async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let turn = 0; turn < 20 && !settled; turn++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

describe('RateLimiter: token buckets in Redis', () => {
  const prefix = `unit-ratelimit-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let limiter: RateLimiter;
  const key = (name: string) => rateLimitKey(prefix, 'sub', `${name}-${randomUUID()}`);

  before(async () => {
    redis = new Redis(fastFailRedisOptions(REDIS_URL));
    await new Promise((resolve) => redis.once('ready', resolve));
    limiter = limiterOn(redis, prefix);
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('allows the burst at once, then refuses with a Retry-After that matches the rate', async () => {
    const bucket = key('burst');
    const decisions: RateLimitDecision[] = [];
    for (let i = 0; i < 3; i++) decisions.push(await limiter.consume(bucket, 10, 2));
    assert.deepEqual(
      decisions.map((d) => [d.enforced, d.allowed, d.limit, d.remaining]),
      [
        [true, true, 2, 1],
        [true, true, 2, 0],
        [true, false, 2, 0],
      ],
    );
    assert.equal(decisions[0].retryAfterSeconds, 0, 'no Retry-After while allowed');
    // At 10/s the next token is at most 100 ms away: Retry-After is whole seconds, at least 1.
    assert.equal(decisions[2].retryAfterSeconds, 1);
    // Two tokens at 10/s refill within 200 ms: rounded up, one second.
    assert.equal(decisions[2].resetSeconds, 1);
  });

  it('Retry-After and Reset follow the bucket at slow rates', async () => {
    const bucket = key('slow');
    // 1 token per second, burst 5: after five requests, the next token is 1 s away and a full bucket 5 s away.
    for (let i = 0; i < 5; i++) assert.equal((await limiter.consume(bucket, 1, 5)).allowed, true);
    const refused = await limiter.consume(bucket, 1, 5);
    assert.equal(refused.allowed, false);
    assert.equal(refused.retryAfterSeconds, 1);
    assert.ok(refused.resetSeconds >= 4 && refused.resetSeconds <= 5, `reset ${refused.resetSeconds}`);
  });

  it('refills over time at the configured rate', async () => {
    const bucket = key('refill');
    // 5/s is one token every 200 ms.
    for (let i = 0; i < 4; i++) assert.equal((await limiter.consume(bucket, 5, 4)).allowed, true);
    assert.equal((await limiter.consume(bucket, 5, 4)).allowed, false);
    await sleep(300);
    // About 1.5 tokens back: one request, not two.
    const refilled = [await limiter.consume(bucket, 5, 4), await limiter.consume(bucket, 5, 4)];
    assert.deepEqual(
      refilled.map((d) => [d.allowed, d.remaining]),
      [
        [true, 0],
        [false, 0],
      ],
    );
  });

  it('never refills beyond the burst, also when the burst is lowered', async () => {
    const bucket = key('cap');
    assert.equal((await limiter.consume(bucket, 1, 5)).remaining, 4);
    assert.equal((await limiter.consume(bucket, 1, 2)).remaining, 1);
  });

  it('keeps one bucket per key', async () => {
    const a = key('a');
    const b = key('b');
    assert.equal((await limiter.consume(a, 1, 1)).allowed, true);
    assert.equal((await limiter.consume(a, 1, 1)).allowed, false);
    assert.equal((await limiter.consume(b, 1, 1)).allowed, true);
  });

  it('never lets concurrent requests take more than the burst', async () => {
    const bucket = key('race');
    const decisions = await Promise.all(Array.from({ length: 50 }, () => limiter.consume(bucket, 1, 10)));
    assert.equal(decisions.filter((d) => d.allowed).length, 10);
  });

  it('stores a bucket under the queue prefix, with a TTL of its refill time', async () => {
    const sub = `player-${randomUUID()}`;
    const sublimiter = limiterOn(redis, prefix, { RATE_LIMIT_PER_SUB_PER_SECOND: '4', RATE_LIMIT_PER_SUB_BURST: '8' });
    await sublimiter.consumeForSub(sub);
    await sublimiter.consumeForSub(sub);
    const stored = `${prefix}:ratelimit:sub:${sub}`;
    assert.equal(await redis.exists(stored), 1);
    // Two tokens short at 4/s: full again, and gone, within 500 ms.
    const ttl = await redis.pttl(stored);
    assert.ok(ttl > 0 && ttl <= 500, `ttl ${ttl} ms`);
    await sleep(ttl + 50);
    assert.equal(await redis.exists(stored), 0, 'an idle bucket disappears');
    assert.equal((await sublimiter.consumeForSub(sub)).remaining, 7, 'and comes back full');
  });

  it('keys addresses per client: IPv4-mapped IPv6 as IPv4, IPv6 by its network of the configured prefix', () => {
    for (const prefix of [32, 48, 56, 64, 128]) {
      assert.equal(normalizeAddress('::ffff:203.0.113.7', prefix), '203.0.113.7');
      assert.equal(normalizeAddress('::FFFF:cb00:7107', prefix), '203.0.113.7');
      assert.equal(normalizeAddress('203.0.113.7', prefix), '203.0.113.7');
    }
    for (const address of [
      '2001:db8:0:1::1',
      '2001:DB8:0:1:ffff:ffff:ffff:ffff',
      '2001:0db8:0000:0001:0:0:0:2%eth0',
      '2001:db8:0:1::10.0.0.1',
    ]) {
      assert.equal(normalizeAddress(address, 64), '2001:db8:0:1::/64', address);
    }
    assert.equal(normalizeAddress('2001:db8::1', 64), '2001:db8:0:0::/64');
    assert.equal(normalizeAddress('::1', 64), '0:0:0:0::/64');
    assert.equal(normalizeAddress('fe80::1:2:3:4', 64), 'fe80:0:0:0::/64');
    assert.notEqual(normalizeAddress('2001:db8:0:1::1', 64), normalizeAddress('2001:db8:0:2::1', 64));

    // A home's /56: its 256 /64s are one client, the next /56 is another. A prefix inside a group masks its bits.
    for (const address of ['2001:db8:aa:1200::1', '2001:db8:aa:12ff:ffff:ffff:ffff:ffff', '2001:db8:aa:1234::abcd']) {
      assert.equal(normalizeAddress(address, 56), '2001:db8:aa:1200::/56', address);
    }
    assert.equal(normalizeAddress('2001:db8:aa:1300::1', 56), '2001:db8:aa:1300::/56');
    assert.equal(normalizeAddress('2001:db8:aa:1234::1', 48), '2001:db8:aa::/48');
    assert.equal(normalizeAddress('2001:db8:aa:1234::1', 60), '2001:db8:aa:1230::/60');
    assert.equal(normalizeAddress('2001:db8:aa:1234::1', 32), '2001:db8::/32');
    assert.equal(normalizeAddress('2001:db8:aa:1234::1', 128), '2001:db8:aa:1234:0:0:0:1/128');
    assert.equal(normalizeAddress('2001:db8::10.0.0.1', 128), '2001:db8:0:0:0:0:a00:1/128', 'an embedded IPv4 address is read');
    assert.notEqual(normalizeAddress('2001:db8::1', 128), normalizeAddress('2001:db8::2', 128));

    // Not an address it can read: keyed as it is rather than lumped with others.
    for (const malformed of ['2001:db8::1::2', '1:2:3:4:5:6:7:8::9', '1:2:3:4:5:6:7', '2001:db8::1.2.3.256', '2001:db8::g', ':1::']) {
      assert.equal(normalizeAddress(malformed, 56), malformed);
    }
  });

  it('buckets an address by its client: IPv4-mapped as IPv4, IPv6 by its /56 unless RATE_LIMIT_IPV6_PREFIX says otherwise', async () => {
    const iplimiter = limiterOn(redis, prefix, { RATE_LIMIT_PER_IP_PER_SECOND: '1', RATE_LIMIT_PER_IP_BURST: '1' });
    assert.equal((await iplimiter.consumeForIp('::ffff:198.51.100.9')).allowed, true);
    assert.equal((await iplimiter.consumeForIp('198.51.100.9')).allowed, false);
    assert.equal(await redis.exists(`${prefix}:ratelimit:ip:198.51.100.9`), 1);

    const network = `2001:db8:${randomUUID().slice(0, 4)}`;
    assert.equal((await iplimiter.consumeForIp(`${network}:100::1`)).allowed, true);
    assert.equal((await iplimiter.consumeForIp(`${network}:1ff::2`)).allowed, false, 'another /64 of the same /56');
    assert.equal((await iplimiter.consumeForIp(`${network}:200::1`)).allowed, true, 'the next /56');

    const per64 = limiterOn(redis, prefix, {
      RATE_LIMIT_PER_IP_PER_SECOND: '1',
      RATE_LIMIT_PER_IP_BURST: '1',
      RATE_LIMIT_IPV6_PREFIX: '64',
    });
    const other = `2001:db8:${randomUUID().slice(0, 4)}`;
    assert.equal((await per64.consumeForIp(`${other}:100::1`)).allowed, true);
    assert.equal((await per64.consumeForIp(`${other}:101::1`)).allowed, true, 'another /64');
    assert.equal((await per64.consumeForIp(`${other}:101::2`)).allowed, false, 'the same /64');
  });

  it('a rate of 0 switches the limit off and touches nothing in Redis', async () => {
    const off = limiterOn(redis, prefix, { RATE_LIMIT_PER_SUB_PER_SECOND: '0', RATE_LIMIT_PER_SUB_BURST: '1' });
    const sub = `off-${randomUUID()}`;
    for (let i = 0; i < 5; i++) {
      const decision = await off.consumeForSub(sub);
      assert.equal(decision.allowed, true);
      assert.equal(decision.enforced, false);
    }
    assert.equal(await redis.exists(`${prefix}:ratelimit:sub:${sub}`), 0);
  });
});

describe('RateLimiter: fails open, fast, when Redis does not answer', () => {
  it('lets the request through at once when Redis is unreachable', async () => {
    // A port nobody listens on: the fail-fast client (no offline queue) refuses commands at once.
    const closed = await listen(() => undefined);
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const redis = new Redis({ ...fastFailRedisOptions(`redis://127.0.0.1:${port}`), lazyConnect: true });
    redis.on('error', () => undefined);
    try {
      // No timer fires while the clock is held: an answer now did not wait for the deadline.
      mock.timers.enable({ apis: ['setTimeout'] });
      const decision = limiterOn(redis, 'unreachable').consume('unreachable:k', 1, 1);
      assert.ok(await settledSoon(decision), 'answered without waiting for the deadline');
      const value = await decision;
      assert.deepEqual([value.enforced, value.allowed], [false, true]);
    } finally {
      mock.timers.reset();
      redis.disconnect();
    }
  });

  it('lets the request through within the deadline when Redis is connected but silent', async () => {
    // Answers what the client sends on connecting (CLIENT SETINFO, then the INFO ready check), then nothing: a hung
    // Redis. Commands are told apart by their RESP array headers, since several may arrive in one chunk.
    const sockets = new Set<Socket>();
    let unanswered = 0;
    const server = await listen((socket) => {
      sockets.add(socket);
      let ready = false;
      socket.on('data', (chunk) => {
        for (const command of chunk
          .toString()
          .split(/^\*\d+\r\n/m)
          .slice(1)) {
          if (ready) {
            unanswered += 1;
            continue;
          }
          if (/^\$4\r\ninfo\r\n/i.test(command)) {
            const info = 'redis_version:7.0.0\r\nloading:0\r\n';
            socket.write(`$${info.length}\r\n${info}\r\n`);
            ready = true;
          } else {
            socket.write('+OK\r\n');
          }
        }
      });
    });
    const redis = new Redis(fastFailRedisOptions(`redis://127.0.0.1:${(server.address() as { port: number }).port}`));
    redis.on('error', () => undefined);
    try {
      await new Promise((resolve) => redis.once('ready', resolve));
      const limiter = limiterOn(redis, 'silent');
      // The clock moves only when the test says: the answer comes at the limiter's deadline, not before, and not at
      // the client's own command timeout (2 s).
      mock.timers.enable({ apis: ['setTimeout'] });
      const decision = limiter.consume('silent:k', 1, 1);
      assert.equal(await settledSoon(decision), false, 'waits for Redis');
      mock.timers.tick(RATE_LIMIT_DEADLINE_MS - 1);
      assert.equal(await settledSoon(decision), false, 'still waits just before the deadline');
      mock.timers.tick(1);
      assert.ok(await settledSoon(decision), 'answers at the deadline');
      mock.timers.reset();
      const value = await decision;
      assert.deepEqual([value.enforced, value.allowed], [false, true]);
      const sent = unanswered;
      assert.ok(sent >= 1, 'the first request asked Redis');
      // For a moment after that, requests pass without asking a Redis that does not answer.
      for (let i = 0; i < 5; i++) assert.deepEqual((await limiter.consume('silent:k', 1, 1)).enforced, false);
      await sleep(50);
      assert.equal(unanswered, sent, 'no command sent while paused');
    } finally {
      mock.timers.reset();
      redis.disconnect();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

function listen(onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer(onConnection);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
