import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SECURITY_LINES_PER_WINDOW, SecurityEvent, SecurityEventLog } from './security-event-log';

function harness() {
  const lines: Array<Record<string, unknown>> = [];
  let now = 1_000_000;
  const log = new SecurityEventLog({ warn: (line: Record<string, unknown>) => lines.push(line) }, 56, () => now);
  const event = (overrides: Partial<SecurityEvent> = {}): SecurityEvent => ({
    status: 401,
    reason: 'invalid_token',
    address: '203.0.113.7',
    method: 'POST',
    route: '/ingest/events',
    requestId: 'req-1',
    ...overrides,
  });
  return { lines, log, event, advance: (ms: number) => (now += ms) };
}

describe('SecurityEventLog', () => {
  it('writes one line per reason and client a minute, with the address, route, reason and request id', () => {
    const { lines, log, event, advance } = harness();
    log.record(event());
    assert.deepEqual(lines, [
      {
        msg: 'refused 401 invalid_token',
        status: 401,
        reason: 'invalid_token',
        address: '203.0.113.7',
        method: 'POST',
        route: '/ingest/events',
        reqId: 'req-1',
      },
    ]);
    for (let i = 0; i < 1000; i++) {
      advance(50);
      log.record(event({ requestId: `req-${i + 2}` }));
    }
    assert.equal(lines.length, 1, '50 s of a flood from one client is one line');
    log.record(event({ address: '198.51.100.1' }));
    log.record(event({ status: 429, reason: 'rate_limited' }));
    log.record(event({ address: '2001:db8:0:12::1' }));
    log.record(event({ address: '2001:db8:0:34::1' }));
    assert.deepEqual(
      lines.slice(1).map((line) => [line.status, line.reason, line.address]),
      [
        [401, 'invalid_token', '198.51.100.1'],
        [429, 'rate_limited', '203.0.113.7'],
        [401, 'invalid_token', '2001:db8:0:12::1'],
      ],
      'another client or reason has its own line; an IPv6 client is its /56',
    );
  });

  it('sums up, once a minute, what it did not write, and writes a client again after a minute', () => {
    const { lines, log, event, advance } = harness();
    log.record(event());
    for (let i = 0; i < 30; i++) log.record(event());
    for (let i = 0; i < 5; i++) log.record(event({ status: 413, reason: 'body_too_large: the limit is 1024 bytes' }));
    advance(59_999);
    log.flush();
    assert.equal(lines.length, 2, 'no summary before the minute is over');
    advance(1);
    log.flush();
    log.flush();
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[2], {
      msg: '34 more refusals in the last 60 s, not logged one by one',
      suppressed: { '401 invalid_token': 30, '413 body_too_large: the limit is 1024 bytes': 4 },
    });
    log.record(event());
    assert.equal(lines.length, 4, 'a new minute, a new line');
    advance(120_000);
    log.flush();
    assert.equal(lines.length, 4, 'nothing to sum up after a quiet minute');
  });

  it(`writes at most ${SECURITY_LINES_PER_WINDOW} lines a minute however many clients there are`, () => {
    const { lines, log, event, advance } = harness();
    for (let i = 0; i < 5000; i++) log.record(event({ address: `198.51.${i >> 8}.${i & 255}` }));
    assert.equal(lines.length, SECURITY_LINES_PER_WINDOW);
    advance(60_000);
    log.record(event({ address: '192.0.2.1' }));
    assert.equal(lines.length, SECURITY_LINES_PER_WINDOW + 2);
    assert.deepEqual(lines[SECURITY_LINES_PER_WINDOW].suppressed, { '401 invalid_token': 5000 - SECURITY_LINES_PER_WINDOW });
    assert.equal(lines[SECURITY_LINES_PER_WINDOW + 1].address, '192.0.2.1');
  });
});
