import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Redis } from 'ioredis';
import { fastFailRedisOptions, loadConfig, Metrics } from '#platform';
import { BufferedEvents, OTHER_SHARDS_MAX_AGE_MS } from './buffered-events';
import { PipelineMetrics } from './pipeline-metrics';

// No Redis here: reserving and releasing run against the real Redis in test/buffered-events.e2e-spec.ts.

describe('BufferedEvents: reserve and release, once per batch', () => {
  const config = loadConfig({ NODE_ENV: 'test', BUFFER_MAX_EVENTS: '10' });

  it('counts a release that fails in buffered_release_failures_total, and rethrows it', async () => {
    const metrics = new PipelineMetrics(new Metrics());
    const down = new Redis({ ...fastFailRedisOptions('redis://127.0.0.1:1'), lazyConnect: true });
    down.on('error', () => undefined);
    try {
      const failing = new BufferedEvents(down, config, metrics);
      await assert.rejects(failing.release(failing.shards[0], randomUUID(), 1));
      assert.equal((await metrics.bufferedReleaseFailures.get()).values[0].value, 1);
    } finally {
      down.disconnect();
    }
  });
});

/**
 * A Redis of counters only: the reserve script as the Lua does it (refuse past the limit, else count once), GET, and a
 * counter whose GET fails (its node is down).
 */
function counterRedis() {
  const counts = new Map<string, number>();
  const reservations = new Set<string>();
  const failing = new Set<string>();
  const redis = {
    defineCommand: () => undefined,
    playsmartReserveBuffered: (counter: string, reservation: string, count: number, limit: number) => {
      const buffered = counts.get(counter) ?? 0;
      if (buffered + count > limit) return Promise.resolve([0, buffered]);
      if (!reservations.has(reservation)) {
        reservations.add(reservation);
        counts.set(counter, buffered + count);
      }
      return Promise.resolve([1, counts.get(counter)]);
    },
    get: (key: string) =>
      failing.has(key) ? Promise.reject(new Error('CLUSTERDOWN')) : Promise.resolve(counts.has(key) ? String(counts.get(key)) : null),
  };
  return { redis: redis as unknown as Redis, counts, failing };
}

describe('BufferedEvents over shards: buffered:M and BUFFER_MAX_EVENTS', () => {
  beforeEach(() => mock.timers.enable({ apis: ['Date'] }));
  afterEach(() => mock.timers.reset());
  const config = loadConfig({ NODE_ENV: 'test', BUFFER_MAX_EVENTS: '100', QUEUE_SHARDS: '3' });

  it("is the shard's exact count plus the others' as read at most OTHER_SHARDS_MAX_AGE_MS ago", async () => {
    const { redis, counts } = counterRedis();
    const buffered = new BufferedEvents(redis, config, new PipelineMetrics(new Metrics()));
    const [s0, s1] = buffered.shards;
    counts.set(s1.counterKey, 10);
    assert.deepEqual(await buffered.reserve(s0, randomUUID(), 2), { accepted: true, buffered: 12 });
    counts.set(s1.counterKey, 20);
    assert.deepEqual(await buffered.reserve(s0, randomUUID(), 2), { accepted: true, buffered: 14 }, 'shard 1 as read before');
    mock.timers.tick(OTHER_SHARDS_MAX_AGE_MS);
    assert.deepEqual(await buffered.reserve(s0, randomUUID(), 2), { accepted: true, buffered: 26 }, 'read again');
    // Its own count is always exact, whatever was read of it as another shard's.
    assert.deepEqual(await buffered.reserve(s1, randomUUID(), 1), { accepted: true, buffered: 27 });
  });

  it('refuses a batch that would take the sum past BUFFER_MAX_EVENTS, and counts nothing for it', async () => {
    const { redis, counts } = counterRedis();
    const buffered = new BufferedEvents(redis, config, new PipelineMetrics(new Metrics()));
    const [s0, s1, s2] = buffered.shards;
    counts.set(s1.counterKey, 60);
    counts.set(s2.counterKey, 30);
    assert.deepEqual(await buffered.reserve(s0, randomUUID(), 11), { accepted: false, buffered: 90 });
    assert.equal(counts.get(s0.counterKey), undefined);
    assert.deepEqual(await buffered.reserve(s0, randomUUID(), 10), { accepted: true, buffered: 100 });
  });

  it('keeps the last count of a shard that does not answer, and never reports below zero', async () => {
    const { redis, counts, failing } = counterRedis();
    const buffered = new BufferedEvents(redis, config, new PipelineMetrics(new Metrics()));
    const [s0, s1, s2] = buffered.shards;
    counts.set(s1.counterKey, 7);
    counts.set(s2.counterKey, -4);
    assert.deepEqual(await buffered.reserve(s0, randomUUID(), 1), { accepted: true, buffered: 8 });
    failing.add(s1.counterKey);
    counts.set(s1.counterKey, 50);
    mock.timers.tick(OTHER_SHARDS_MAX_AGE_MS);
    assert.deepEqual(await buffered.reserve(s0, randomUUID(), 1), { accepted: true, buffered: 9 });
    assert.equal(await buffered.current().catch(() => 'failed'), 'failed', 'current() reads every counter, or fails');
    failing.clear();
    assert.equal(await buffered.current(), 52);
  });

  it('finds the reserved batches of every shard on every master of a cluster', async () => {
    const { redis, counts } = counterRedis();
    const buffered = new BufferedEvents(redis, config, new PipelineMetrics(new Metrics()));
    const [s0, , s2] = buffered.shards;
    const [b0, b2] = [randomUUID(), randomUUID()];
    counts.set(`${s0.counterKey}:reserved:${b0}`, 3);
    counts.set(`${s2.counterKey}:reserved:${b2}`, 4);
    // Two masters, each holding one of the two reservations; SCAN on the client itself would see neither.
    const master = (key: string) => ({
      scan: (_cursor: string, _match: string, pattern: string) => Promise.resolve(['0', key.startsWith(pattern.slice(0, -1)) ? [key] : []]),
    });
    Object.assign(redis, {
      scan: () => Promise.reject(new Error('not a node')),
      nodes: () => [master(`${s0.counterKey}:reserved:${b0}`), master(`${s2.counterKey}:reserved:${b2}`)],
    });
    const found = [];
    for await (const batch of buffered.reserved()) found.push([batch.shard.label, batch.batchId, batch.events]);
    assert.deepEqual(found, [
      ['shard-0', b0, 3],
      ['shard-2', b2, 4],
    ]);
  });
});
