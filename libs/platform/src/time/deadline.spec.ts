import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { failOnUnhandledRejections, flush } from '../../../../support/test-hooks';
import { DeadlineExceeded, valueWithin, withDeadline } from './deadline';

/** A promise settled by the test. */
function pending<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (error: Error) => void } {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('withDeadline', () => {
  failOnUnhandledRejections({ mockTimers: true });

  it('settles as the operation does within the deadline, and never calls the late handlers', async () => {
    const succeeded = mock.fn();
    const failed = mock.fn();
    const ok = pending<number>();
    const bounded = withDeadline(ok.promise, 100, 'Redis', { succeeded, failed });
    mock.timers.tick(99);
    ok.resolve(7);
    assert.equal(await bounded, 7);

    const bad = pending<number>();
    const refused = withDeadline(bad.promise, 100, 'Redis', { succeeded, failed });
    bad.reject(new Error('ECONNREFUSED'));
    await assert.rejects(refused, /ECONNREFUSED/);
    mock.timers.tick(1000);
    await flush();
    assert.equal(succeeded.mock.callCount(), 0);
    assert.equal(failed.mock.callCount(), 0);
  });

  it('rejects with DeadlineExceeded at the deadline, naming what did not answer', async () => {
    const never = pending<number>();
    const bounded = withDeadline(never.promise, 1500, 'Redis');
    mock.timers.tick(1499);
    await flush();
    let settled = false;
    void bounded.then(
      () => (settled = true),
      () => (settled = true),
    );
    await flush();
    assert.equal(settled, false, 'still waiting 1 ms before the deadline');
    mock.timers.tick(1);
    await assert.rejects(bounded, (error: unknown) => {
      assert.ok(error instanceof DeadlineExceeded);
      assert.equal(error.message, 'no answer from Redis within 1500 ms');
      return true;
    });
  });

  it('hands a late success to `succeeded`', async () => {
    const succeeded = mock.fn((_value: string) => undefined);
    const late = pending<string>();
    const bounded = withDeadline(late.promise, 100, 'Redis', { succeeded });
    mock.timers.tick(100);
    await assert.rejects(bounded, DeadlineExceeded);
    late.resolve('OK');
    await flush();
    assert.deepEqual(
      succeeded.mock.calls.map((call) => call.arguments),
      [['OK']],
    );
  });

  it('hands a late failure to `failed`, and handles it when there is no handler (the crash of a blackholed Redis)', async () => {
    const failed = mock.fn();
    const late = pending<string>();
    const bounded = withDeadline(late.promise, 100, 'Redis', { failed });
    mock.timers.tick(100);
    await assert.rejects(bounded, DeadlineExceeded);
    late.reject(new Error('Command timed out'));
    await flush();
    assert.equal(failed.mock.callCount(), 1);
    assert.match(String(failed.mock.calls[0].arguments[0]), /Command timed out/);

    const unattended = pending<string>();
    const dropped = withDeadline(unattended.promise, 100, 'Redis', { succeeded: () => undefined });
    mock.timers.tick(100);
    await assert.rejects(dropped, DeadlineExceeded);
    unattended.reject(new Error('Command timed out'));
    // afterEach asserts that nothing was left unhandled.
  });

  it('contains late handlers that throw or reject', async () => {
    const first = pending<number>();
    const second = pending<number>();
    const a = withDeadline(first.promise, 10, 'Redis', {
      succeeded: () => {
        throw new Error('handler threw');
      },
    });
    const b = withDeadline(second.promise, 10, 'Redis', { failed: () => Promise.reject(new Error('handler rejected')) });
    mock.timers.tick(10);
    await assert.rejects(a, DeadlineExceeded);
    await assert.rejects(b, DeadlineExceeded);
    first.resolve(1);
    second.reject(new Error('late'));
    // afterEach asserts that nothing was left unhandled.
  });
});

describe('valueWithin', () => {
  it('is the value in time, undefined on a failure or past the deadline', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      assert.equal(await valueWithin(Promise.resolve(3), 50, 'Redis'), 3);
      assert.equal(await valueWithin(Promise.reject(new Error('down')), 50, 'Redis'), undefined);
      const slow = valueWithin(new Promise<number>(() => undefined), 50, 'Redis');
      mock.timers.tick(50);
      assert.equal(await slow, undefined);
    } finally {
      mock.timers.reset();
    }
  });
});
