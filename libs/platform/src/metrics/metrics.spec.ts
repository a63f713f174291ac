import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
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

describe('Metrics.addThread (the all-in-one writer thread)', () => {
  it("adds another thread's counters and histograms to this registry's, leaves out its gauges, and keeps the process metrics", async () => {
    const main = new Metrics();
    // What a worker thread's Metrics holds: its own metrics, no process metrics (those are the main thread's).
    const thread = new Registry();
    const metricsOf = (registry: Registry) => ({
      rows: new Counter({ name: 'playsmart_rows_test_total', help: 'rows', registers: [registry] }),
      depth: new Gauge({ name: 'playsmart_depth_test', help: 'depth', registers: [registry] }),
      duration: new Histogram({ name: 'playsmart_duration_test_seconds', help: 'duration', buckets: [0.1, 1], registers: [registry] }),
    });
    const ours = metricsOf(main.registry);
    const theirs = metricsOf(thread);
    ours.rows.inc(2);
    theirs.rows.inc(40);
    ours.depth.set(5);
    theirs.depth.set(7);
    ours.duration.observe(0.05);
    theirs.duration.observe(0.5);
    main.addThread(() => thread.getMetricsAsJSON());

    const text = await main.exposition();
    assert.match(text, /^playsmart_rows_test_total 42$/m);
    assert.match(text, /^playsmart_depth_test 5$/m, "the thread's gauge is left out");
    assert.match(text, /^playsmart_duration_test_seconds_bucket\{le="0.1"\} 1$/m);
    assert.match(text, /^playsmart_duration_test_seconds_count 2$/m);
    assert.match(text, /^playsmart_process_start_time_seconds \d+$/m, 'kept, although its aggregator is "omit"');
    assert.equal(text.match(/^# TYPE playsmart_process_cpu_seconds_total /gm)?.length, 1);
    const values = await main.counts(new Set(['playsmart_rows_test_total']));
    assert.deepEqual(
      values.map((metric) => [metric.name, metric.values[0]?.value]),
      [['playsmart_rows_test_total', 42]],
    );
  });
});
