import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { fastFailRedisOptions, loadConfig, RateLimitDecision, RateLimiter, rateLimitKey } from '#platform';
import { deletePrefix, REDIS_URL } from './support/test-app';

// The token buckets' Lua script against the real Redis (127.0.0.1:6379), under a prefix of its own that is removed
// afterwards. What needs no Redis (address keys, failing open) is in libs/platform/src/rate-limit/token-bucket.spec.ts.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function limiterOn(redis: Redis, prefix: string, env: Record<string, string> = {}): RateLimiter {
  return new RateLimiter(redis, loadConfig({ NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: prefix, ...env }));
}

describe('RateLimiter: token buckets in Redis', () => {
  const prefix = `e2e-ratelimit-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let limiter: RateLimiter;
  const key = (name: string) => rateLimitKey(prefix, 'sub', `${name}-${randomUUID()}`);

  before(async () => {
    redis = new Redis(fastFailRedisOptions(REDIS_URL));
    await new Promise((resolve) => redis.once('ready', resolve));
    limiter = limiterOn(redis, prefix);
  });
  after(async () => {
    await deletePrefix(redis, prefix);
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
