import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock } from 'node:test';

/** Lets every promise callback queued so far run (setImmediate, which mocked timers leave alone). */
export const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * For each test of the enclosing describe: fails it when it leaves a rejection unhandled (Node would end the process
 * on it), and with `mockTimers` runs it on node:test's mocked setTimeout, moved on by `mock.timers.tick()`.
 */
export function failOnUnhandledRejections(options: { mockTimers?: boolean } = {}): void {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  beforeEach(() => {
    if (options.mockTimers === true) mock.timers.enable({ apis: ['setTimeout'] });
    unhandled.length = 0;
    process.on('unhandledRejection', onUnhandled);
  });
  afterEach(async () => {
    // An unhandled rejection is reported after the microtasks of the turn that made it.
    await flush();
    process.off('unhandledRejection', onUnhandled);
    if (options.mockTimers === true) mock.timers.reset();
    assert.deepEqual(unhandled, [], 'no unhandled rejection');
  });
}
