import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Metrics } from './metrics';

describe('Metrics', () => {
  it('keeps its own registry: two instances do not collide', async () => {
    const [a, b] = [new Metrics(), new Metrics()];
    a.httpRequestDuration.observe({ method: 'GET', route: '/health/live', status_code: 200 }, 0.002);
    const count = async (metrics: Metrics) =>
      (await metrics.registry.getSingleMetric('playsmart_http_request_duration_seconds')?.get())?.values.find(
        (value) => (value as { metricName?: string }).metricName === 'playsmart_http_request_duration_seconds_count',
      )?.value;
    assert.equal(await count(a), 1);
    assert.equal(await count(b), undefined);
  });
});
