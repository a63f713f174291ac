import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '#platform';
import { ClientConfigService, ENVELOPE_HEADROOM_BYTES, maxBatchBytes } from './client-config.service';
import { EVENT_TYPE_NAMES } from './event-types';

describe('ClientConfigService', () => {
  it('leaves the events BODY_LIMIT less the envelope, and half of a tiny BODY_LIMIT', () => {
    assert.equal(maxBatchBytes(1024 * 1024), 1024 * 1024 - ENVELOPE_HEADROOM_BYTES);
    assert.equal(maxBatchBytes(2 * ENVELOPE_HEADROOM_BYTES), ENVELOPE_HEADROOM_BYTES);
    assert.equal(maxBatchBytes(1024), 512);
    assert.equal(maxBatchBytes(1025), 513);
  });

  it('answers the configuration, and a copy each time', () => {
    const service = new ClientConfigService(loadConfig({ NODE_ENV: 'test', CLIENT_ENABLED: 'no', TIMESTAMP_MAX_AGE_SECONDS: '60' }));
    const answer = service.answer();
    assert.equal(answer.enabled, false);
    assert.equal(answer.timestamp.max_age_seconds, 60);
    assert.deepEqual(
      answer.event_types.map((type) => type.name),
      EVENT_TYPE_NAMES,
    );
    answer.customdata_limits.forbidden_keys.pop();
    assert.equal(service.answer().customdata_limits.forbidden_keys.length, 3);
  });

  it('tells the stricter of TIMESTAMP_MAX_AGE_SECONDS and EVENTS_RETENTION_DAYS as the maximum age', () => {
    const maxAge = (env: Record<string, string>) =>
      new ClientConfigService(loadConfig({ NODE_ENV: 'test', ...env })).answer().timestamp.max_age_seconds;
    assert.equal(maxAge({}), null);
    assert.equal(maxAge({ EVENTS_RETENTION_DAYS: '2' }), 172_800);
    assert.equal(maxAge({ EVENTS_RETENTION_DAYS: '2', TIMESTAMP_MAX_AGE_SECONDS: '60' }), 60);
    assert.equal(maxAge({ EVENTS_RETENTION_DAYS: '2', TIMESTAMP_MAX_AGE_SECONDS: '864000' }), 172_800);
  });
});
