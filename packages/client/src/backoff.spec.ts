import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelay, rateLimitPauseMs, retryAfterMs } from './backoff.js';
import type { ResponseLike } from './types.js';

function response(headers: Record<string, string>): ResponseLike {
  const map = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return { status: 503, headers: { get: (name) => map.get(name.toLowerCase()) ?? null }, text: () => Promise.resolve('') };
}

describe('backoff', () => {
  it('is full jitter under a ceiling that doubles from 1 s to 60 s, and never under 1 s', () => {
    const ceilings = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000];
    assert.deepEqual(
      ceilings.map((_, i) => backoffDelay(i + 1, () => 1)),
      ceilings,
    );
    assert.deepEqual(
      ceilings.map((_, i) => backoffDelay(i + 1, () => 0.5)),
      [1000, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
    );
    assert.deepEqual(
      ceilings.map((_, i) => backoffDelay(i + 1, () => 0)),
      ceilings.map(() => 1000),
    );
    assert.equal(
      backoffDelay(1000, () => 1),
      60_000,
      'a long outage does not overflow',
    );
    assert.equal(
      backoffDelay(7, () => 0.25),
      15_000,
    );
    assert.equal(
      backoffDelay(3, () => 7),
      4000,
      'a random() out of [0, 1] is clamped',
    );
  });

  it('reads Retry-After as seconds or an HTTP date, and caps it at 5 minutes', () => {
    const now = Date.UTC(2026, 3, 22, 14, 30);
    assert.equal(retryAfterMs(response({}), now), undefined);
    assert.equal(retryAfterMs(response({ 'Retry-After': '7' }), now), 7000);
    assert.equal(retryAfterMs(response({ 'Retry-After': '3600' }), now), 300_000);
    assert.equal(retryAfterMs(response({ 'Retry-After': new Date(now + 90_000).toUTCString() }), now), 90_000);
    assert.equal(retryAfterMs(response({ 'Retry-After': new Date(now - 90_000).toUTCString() }), now), 0);
    assert.equal(retryAfterMs(response({ 'Retry-After': 'soon' }), now), undefined);
    assert.equal(retryAfterMs(response({ 'Retry-After': '-5' }), now), undefined);
  });

  it('pauses only when RateLimit-Remaining is 0, for RateLimit-Reset seconds (at most 5 minutes)', () => {
    assert.equal(rateLimitPauseMs(response({ 'RateLimit-Remaining': '3', 'RateLimit-Reset': '20' })), undefined);
    assert.equal(rateLimitPauseMs(response({ 'RateLimit-Remaining': '0', 'RateLimit-Reset': '20' })), 20_000);
    assert.equal(rateLimitPauseMs(response({ 'RateLimit-Remaining': '0', 'RateLimit-Reset': '100000' })), 300_000);
    assert.equal(rateLimitPauseMs(response({ 'RateLimit-Remaining': '0' })), 1000);
    assert.equal(rateLimitPauseMs(response({})), undefined);
  });
});
