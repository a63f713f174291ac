import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '#platform';
import { retryWindowMs } from './ingest-queue';

describe('retryWindowMs', () => {
  it('adds up the exponential backoff delays between attempts', () => {
    assert.equal(retryWindowMs(1, 1000), 0);
    assert.equal(retryWindowMs(2, 1000), 1000);
    assert.equal(retryWindowMs(4, 100), 100 + 200 + 400);
  });

  it('rides out a database outage of more than 10 minutes with the default settings', () => {
    const { jobAttempts, jobBackoffMs } = loadConfig({ NODE_ENV: 'test' }).queue;
    assert.ok(retryWindowMs(jobAttempts, jobBackoffMs) > 10 * 60 * 1000);
  });
});
