import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MetricValue } from 'prom-client';
import { Metrics } from '#platform';
import { PipelineMetrics, rejectionReason } from './pipeline-metrics';

/** One sample by its full name (`…_count`, `…_bucket` included) and labels. */
async function sample(metrics: Metrics, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name) ?? metrics.registry.getSingleMetric(name.replace(/_(bucket|count|sum)$/, ''));
  const values: Array<MetricValue<string> & { metricName?: string }> = (await metric?.get())?.values ?? [];
  return values.find(
    (v) => (v.metricName ?? name) === name && Object.entries(labels).every(([key, value]) => String(v.labels[key]) === value),
  )?.value;
}

describe('rejectionReason', () => {
  it('maps an error answer to a fixed set of reasons, whatever its message', () => {
    assert.equal(rejectionReason(400, 'invalid_payload'), 'invalid_payload');
    assert.equal(rejectionReason(401, 'missing_token'), 'missing_token');
    assert.equal(rejectionReason(401, 'token_expired'), 'token_expired');
    assert.equal(rejectionReason(401, 'invalid_token'), 'invalid_token');
    assert.equal(rejectionReason(401, 'anything a client could make us say'), 'invalid_token');
    assert.equal(rejectionReason(403, 'user_id_mismatch'), 'forbidden');
    assert.equal(rejectionReason(413, 'body_too_large: the limit is 1024 bytes'), 'too_large');
    assert.equal(rejectionReason(415, 'unsupported_content_encoding'), 'unsupported_media_type');
    assert.equal(rejectionReason(429, 'rate_limited'), 'rate_limited');
    assert.equal(rejectionReason(503, 'buffer_full'), 'buffer_full');
    assert.equal(rejectionReason(503, 'queue_unavailable'), 'queue_unavailable');
    assert.equal(rejectionReason(503, 'shutting_down'), 'unavailable');
    assert.equal(rejectionReason(500, 'internal_error'), 'internal_error');
    assert.equal(rejectionReason(404, 'not_found'), 'other');
  });
});

describe('PipelineMetrics', () => {
  it('counts a rejected request always, and its events only when the body holds an events array', async () => {
    const metrics = new Metrics();
    const pipeline = new PipelineMetrics(metrics);
    pipeline.recordRejection(400, 'invalid_payload', { events: [{}, {}, {}] });
    pipeline.recordRejection(400, 'invalid_payload', { events: 'not an array' });
    pipeline.recordRejection(413, 'body_too_large', undefined);
    assert.equal(await sample(metrics, 'playsmart_ingest_requests_rejected_total', { reason: 'invalid_payload' }), 2);
    assert.equal(await sample(metrics, 'playsmart_ingest_requests_rejected_total', { reason: 'too_large' }), 1);
    assert.equal(await sample(metrics, 'playsmart_events_rejected_total', { reason: 'invalid_payload' }), 3);
    assert.equal(await sample(metrics, 'playsmart_events_rejected_total', { reason: 'too_large' }), undefined);
  });

  it('observes the lag of a write that stored rows, never negative, and not of a redelivery that stored none', async () => {
    const metrics = new Metrics();
    const pipeline = new PipelineMetrics(metrics);
    const acceptedAt = Date.parse('2026-04-22T14:30:00.000Z');
    pipeline.recordWrite('2026-04-22T14:30:00.000Z', 3, acceptedAt + 90_000);
    pipeline.recordWrite('2026-04-22T14:30:00.000Z', 2, acceptedAt - 50);
    pipeline.recordWrite('2026-04-22T14:30:00.000Z', 0, acceptedAt + 120_000);
    assert.equal(await sample(metrics, 'playsmart_event_rows_written_total'), 5);
    assert.equal(await sample(metrics, 'playsmart_ingest_lag_seconds_count'), 2);
    assert.equal(await sample(metrics, 'playsmart_ingest_lag_seconds_sum'), 90);
    assert.equal(await sample(metrics, 'playsmart_ingest_lag_seconds_bucket', { le: '60' }), 1);
    assert.equal(await sample(metrics, 'playsmart_ingest_lag_seconds_bucket', { le: '120' }), 2);
  });

  it("registers in its application's registry: two applications' do not collide", async () => {
    const [a, b] = [new Metrics(), new Metrics()];
    new PipelineMetrics(a).eventsAccepted.inc(3);
    new PipelineMetrics(b);
    assert.equal(await sample(a, 'playsmart_events_accepted_total'), 3);
    assert.equal(await sample(b, 'playsmart_events_accepted_total'), 0);
  });
});
