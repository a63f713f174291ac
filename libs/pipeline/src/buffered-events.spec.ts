import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { fastFailRedisOptions, loadConfig, Metrics } from '#platform';
import { BufferedEvents } from './buffered-events';
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
