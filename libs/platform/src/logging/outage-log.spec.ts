import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OutageLog } from './outage-log';

function harness() {
  const lines: string[] = [];
  let now = 1_000_000;
  const logger = {
    log: (message: unknown) => lines.push(`log ${String(message)}`),
    warn: (message: unknown) => lines.push(`warn ${String(message)}`),
    error: (message: unknown) => lines.push(`error ${String(message)}`),
  };
  const outage = new OutageLog(logger, 'Redis 127.0.0.1:6379 unreachable, retrying', 'warn', () => now);
  return { lines, outage, advance: (ms: number) => (now += ms) };
}

describe('OutageLog', () => {
  it('says an outage once, reminds at most once a minute, and says when it is over', () => {
    const { lines, outage, advance } = harness();
    outage.failed(new Error('connect ECONNREFUSED'));
    for (let i = 0; i < 100; i++) {
      advance(500);
      outage.failed(new Error('connect ECONNREFUSED'));
    }
    assert.deepEqual(lines, ['warn Redis 127.0.0.1:6379 unreachable, retrying: connect ECONNREFUSED']);
    advance(10_000);
    outage.failed(new Error('connect ETIMEDOUT'));
    assert.equal(lines.length, 2);
    assert.equal(
      lines[1],
      'warn Redis 127.0.0.1:6379 unreachable, retrying: still failing after 60 s, 102 failures (last: connect ETIMEDOUT)',
    );
    advance(59_000);
    outage.failed('again');
    assert.equal(lines.length, 2, 'no second reminder within the minute');
    outage.recovered();
    outage.recovered();
    assert.equal(lines.length, 3);
    assert.equal(lines[2], 'log Redis 127.0.0.1:6379 unreachable, retrying: recovered after 119 s, 103 failures');
    assert.equal(outage.failing, false);
  });

  it('a new outage after a recovery is said again', () => {
    const { lines, outage, advance } = harness();
    outage.recovered();
    assert.deepEqual(lines, [], 'nothing to say when nothing failed');
    outage.failed(new Error('a'));
    outage.recovered();
    advance(1000);
    outage.failed(new Error('b'));
    assert.deepEqual(lines, [
      'warn Redis 127.0.0.1:6379 unreachable, retrying: a',
      'log Redis 127.0.0.1:6379 unreachable, retrying: recovered after 0 s, 1 failures',
      'warn Redis 127.0.0.1:6379 unreachable, retrying: b',
    ]);
  });
});
