import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LoginThrottle } from './login-throttle';

function harness(maxFailures = 3) {
  let now = 5_000_000;
  return { throttle: new LoginThrottle(maxFailures, () => now), advance: (ms: number) => (now += ms) };
}

describe('LoginThrottle', () => {
  it('refuses a client after its failures within a minute, until the oldest is a minute old', () => {
    const { throttle, advance } = harness();
    throttle.failed('203.0.113.7');
    advance(10_000);
    throttle.failed('203.0.113.7');
    assert.equal(throttle.retryAfterSeconds('203.0.113.7'), 0, 'two failures: it may try again');
    advance(10_000);
    throttle.failed('203.0.113.7');
    assert.equal(throttle.retryAfterSeconds('203.0.113.7'), 40, 'until the first failure is a minute old');
    assert.equal(throttle.retryAfterSeconds('198.51.100.1'), 0, 'another client is not affected');
    advance(39_500);
    assert.equal(throttle.retryAfterSeconds('203.0.113.7'), 1);
    advance(500);
    assert.equal(throttle.retryAfterSeconds('203.0.113.7'), 0, 'a minute after the first failure, two remain');
    throttle.failed('203.0.113.7');
    assert.equal(throttle.retryAfterSeconds('203.0.113.7'), 10, 'and one more failure refuses it again');
  });

  it('forgets failures older than a minute, and all of them after a success', () => {
    const { throttle, advance } = harness();
    throttle.failed('a');
    throttle.failed('a');
    advance(60_000);
    throttle.failed('a');
    throttle.failed('a');
    assert.equal(throttle.retryAfterSeconds('a'), 0);
    throttle.succeeded('a');
    throttle.failed('a');
    throttle.failed('a');
    assert.equal(throttle.retryAfterSeconds('a'), 0);
    throttle.failed('a');
    assert.equal(throttle.retryAfterSeconds('a'), 60);
  });

  it('remembers at most 10,000 clients, forgetting first those whose minute is over, then the least recent', () => {
    const { throttle, advance } = harness(1);
    throttle.failed('early');
    advance(60_000);
    throttle.failed('recent');
    for (let i = 0; i < 9_999; i++) throttle.failed(`flood-${i}`);
    assert.equal(throttle.retryAfterSeconds('recent'), 60, 'a client within its minute is kept while another can go');
    throttle.failed('flood-9999');
    assert.equal(throttle.retryAfterSeconds('recent'), 0, 'then the least recent goes');
    assert.equal(throttle.retryAfterSeconds('flood-0'), 60);
    assert.equal(throttle.retryAfterSeconds('flood-9999'), 60);
  });
});
