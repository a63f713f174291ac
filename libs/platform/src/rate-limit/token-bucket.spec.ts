import assert from 'node:assert/strict';
import { createServer, Server, Socket } from 'node:net';
import { describe, it, mock } from 'node:test';
import { Redis } from 'ioredis';
import { loadConfig } from '../config/app-config';
import { normalizeAddress } from '../net/client-address';
import { fastFailRedisOptions } from '../redis/redis-options';
import { RATE_LIMIT_DEADLINE_MS, RateLimiter } from './token-bucket';

// No Redis here: the buckets themselves run against the real Redis in test/token-bucket.e2e-spec.ts. These tests
// read client addresses, and stand a closed port or a silent fake server in for Redis.
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function limiterOn(redis: Redis, prefix: string): RateLimiter {
  return new RateLimiter(redis, loadConfig({ NODE_ENV: 'test', QUEUE_PREFIX: prefix }));
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

describe('RateLimiter: client addresses', () => {
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
