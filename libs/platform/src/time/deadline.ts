import { Logger } from '@nestjs/common';
import { describeError } from '../logging/describe-error';

/** An operation gave no answer within its deadline. What it does afterwards is handed to its LateOutcome. */
export class DeadlineExceeded extends Error {
  override readonly name = 'DeadlineExceeded';

  constructor(
    readonly what: string,
    readonly ms: number,
  ) {
    super(`no answer from ${what} within ${ms} ms`);
  }
}

/**
 * What to do with an operation's outcome once its caller has stopped waiting for it. Each handler may return a
 * promise; a handler that throws or rejects is logged, never left unhandled.
 */
export interface LateOutcome<T> {
  succeeded?: (value: T) => unknown;
  /** Without it a late failure is dropped: the caller has already reported the operation as failed. */
  failed?: (error: unknown) => unknown;
}

const logger = new Logger('Deadline');

function runLate<A>(handler: ((argument: A) => unknown) | undefined, argument: A, what: string): void {
  if (handler === undefined) return;
  const report = (error: unknown) => logger.error(`handling the late answer of ${what} failed: ${describeError(error)}`);
  try {
    const result = handler(argument);
    if (result instanceof Promise) result.catch(report);
  } catch (error) {
    report(error);
  }
}

/**
 * `operation` bounded in time, settled later: settles as the operation does when it settles within `ms`, and rejects
 * with DeadlineExceeded otherwise. Every outcome of an operation given up on is handled: a late success goes to
 * `late.succeeded`, a late failure to `late.failed` or nowhere, so no rejection is ever left unhandled (Node exits
 * on one). The operation itself is not cancelled: it runs on, and must be bounded by its own client's timeouts.
 */
export function withDeadline<T>(operation: Promise<T>, ms: number, what: string, late: LateOutcome<T> = {}): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let expired = false;
    const timer = setTimeout(() => {
      expired = true;
      reject(new DeadlineExceeded(what, ms));
    }, ms);
    void operation.then(
      (value) => {
        if (expired) return runLate(late.succeeded, value, what);
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        if (expired) return runLate(late.failed, error, what);
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}

/** The operation's value, or undefined when it failed or gave no answer within `ms` (for reads whose absence is reported). */
export async function valueWithin<T>(operation: Promise<T>, ms: number, what: string): Promise<T | undefined> {
  try {
    return await withDeadline(operation, ms, what);
  } catch {
    return undefined;
  }
}
