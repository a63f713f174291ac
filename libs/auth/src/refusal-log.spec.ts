import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RefusalLog } from './refusal-log';

function harness() {
  const lines: string[] = [];
  let now = 5_000_000;
  const log = new RefusalLog({ warn: (message: unknown) => lines.push(String(message)) }, () => now);
  return { lines, log, advance: (ms: number) => (now += ms) };
}

describe('RefusalLog', () => {
  it('logs the first refusal for a reason at once, then at most one line a minute with the count since the last line', () => {
    const { lines, log, advance } = harness();
    log.refused('unknown kid');
    for (let i = 0; i < 99; i++) {
      advance(500);
      log.refused('unknown kid');
    }
    assert.deepEqual(lines, ['token refused: unknown kid']);
    advance(10_500);
    log.refused('unknown kid');
    assert.deepEqual(lines.slice(1), ['token refused: unknown kid (100 in the 60 s since the last such line)']);
    advance(59_999);
    log.refused('unknown kid');
    assert.equal(lines.length, 2);
    advance(1);
    log.refused('unknown kid');
    assert.deepEqual(lines.slice(2), ['token refused: unknown kid (2 in the 60 s since the last such line)']);
  });

  it('throttles each reason on its own', () => {
    const { lines, log, advance } = harness();
    log.refused('unknown kid');
    log.refused('malformed kid');
    advance(1000);
    log.refused('malformed kid');
    log.refused('unknown kid');
    assert.deepEqual(lines, ['token refused: unknown kid', 'token refused: malformed kid']);
  });
});
