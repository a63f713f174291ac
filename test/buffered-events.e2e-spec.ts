import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { BufferedEvents, bufferedEventsKey, PipelineMetrics } from '#pipeline';
import { loadConfig, Metrics } from '#platform';
import { deletePrefix, REDIS_URL } from './support/test-app';

// The buffered counter's scripts against the real Redis (127.0.0.1:6379), under a prefix of its own that is removed
// afterwards. A release that fails is counted in libs/pipeline/src/buffered-events.spec.ts.

describe('BufferedEvents: reserve and release, once per batch', () => {
  const prefix = `e2e-buffered-${randomUUID().slice(0, 8)}`;
  const config = loadConfig({ NODE_ENV: 'test', REDIS_URL, QUEUE_PREFIX: prefix, BUFFER_MAX_EVENTS: '10' });
  let redis: Redis;
  let buffered: BufferedEvents;
  const counter = () => redis.get(bufferedEventsKey(prefix)).then((value) => Number(value ?? 0));

  before(() => {
    redis = new Redis(REDIS_URL);
    buffered = new BufferedEvents(redis, config, new PipelineMetrics(new Metrics()));
    assert.equal(buffered.shards.length, 1);
  });
  after(async () => {
    await deletePrefix(redis, prefix);
    redis.disconnect();
  });

  it('counts a batch once and releases it once, however often either is sent', async () => {
    const start = await counter();
    const batch = randomUUID();
    assert.deepEqual(await buffered.reserve(buffered.shards[0], batch, 3), { accepted: true, buffered: start + 3 });
    assert.deepEqual(
      await buffered.reserve(buffered.shards[0], batch, 3),
      { accepted: true, buffered: start + 3 },
      'a repeated reservation counts nothing',
    );
    assert.equal(await buffered.release(buffered.shards[0], batch, 3), true);
    assert.equal(await buffered.release(buffered.shards[0], batch, 3), false);
    assert.equal(await counter(), start);
  });

  it('releasing a batch that was never reserved (its reservation was lost) changes nothing', async () => {
    const start = await counter();
    assert.equal(await buffered.release(buffered.shards[0], randomUUID(), 5), false);
    assert.equal(await counter(), start);
  });

  it('refuses a batch that would pass BUFFER_MAX_EVENTS, and counts nothing for it', async () => {
    const start = await counter();
    const first = randomUUID();
    assert.equal((await buffered.reserve(buffered.shards[0], first, 10 - start)).accepted, true);
    const refused = randomUUID();
    assert.deepEqual(await buffered.reserve(buffered.shards[0], refused, 1), { accepted: false, buffered: 10 });
    assert.equal(await buffered.release(buffered.shards[0], refused, 1), false, 'nothing reserved, nothing to release');
    assert.equal(await buffered.release(buffered.shards[0], first, 10 - start), true);
    assert.equal(await counter(), start);
  });

  it('releases a job queued before reservations once, by its released marker', async () => {
    const batch = randomUUID();
    await redis.incrby(bufferedEventsKey(prefix), 4);
    const start = await counter();
    assert.equal(await buffered.release(buffered.shards[0], batch, 4, true), true);
    assert.equal(await buffered.release(buffered.shards[0], batch, 4, true), false);
    assert.equal(await counter(), start - 4);
  });
});
