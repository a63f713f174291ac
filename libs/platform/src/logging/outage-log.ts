import type { LoggerService } from '@nestjs/common';
import { isMainThread } from 'node:worker_threads';
import { describeError } from './describe-error';

const REMINDER_MS = 60_000;

/**
 * The log of something that fails repeatedly (a dependency out of reach, requests refused because of it): one line
 * when it starts failing, a reminder at most once a minute while it goes on, and one line when it works again, instead
 * of a line (and a stack trace) per attempt.
 */
export class OutageLog {
  private since?: number;
  private failures = 0;
  private remindedAt = 0;

  constructor(
    private readonly logger: Pick<LoggerService, 'log' | 'warn' | 'error'>,
    /** What is failing, as the start of a sentence: "Redis 127.0.0.1:6379 unreachable, retrying". */
    private readonly subject: string,
    private readonly level: 'warn' | 'error' = 'warn',
    private readonly now: () => number = Date.now,
  ) {}

  get failing(): boolean {
    return this.since !== undefined;
  }

  failed(cause: unknown): void {
    const now = this.now();
    this.failures += 1;
    if (this.since === undefined) {
      this.since = now;
      this.remindedAt = now;
      this.logger[this.level](`${this.subject}: ${describeError(cause)}`);
    } else if (now - this.remindedAt >= REMINDER_MS) {
      this.remindedAt = now;
      const seconds = Math.round((now - this.since) / 1000);
      this.logger[this.level](
        `${this.subject}: still failing after ${seconds} s, ${this.failures} failures (last: ${describeError(cause)})`,
      );
    }
  }

  recovered(): void {
    if (this.since === undefined) return;
    const seconds = Math.round((this.now() - this.since) / 1000);
    this.logger.log(`${this.subject}: recovered after ${seconds} s, ${this.failures} failures`);
    this.since = undefined;
    this.failures = 0;
  }
}

/**
 * Where a connection's outage lines go: `logger`, or its debug level on a worker thread (the all-in-one's writer),
 * whose connections reach the same servers as the main thread's, which say the outage once for the process.
 */
export function connectionOutageLogger(logger: LoggerService): Pick<LoggerService, 'log' | 'warn' | 'error'> {
  if (isMainThread) return logger;
  const debug = (message: string): void => {
    logger.debug?.(message);
  };
  return { log: debug, warn: debug, error: debug };
}
