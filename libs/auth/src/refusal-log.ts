import type { LoggerService } from '@nestjs/common';

const INTERVAL_MS = 60_000;

/**
 * Logs why tokens are refused, at most one line a minute per reason, each line counting the refusals for that reason
 * since the line before: a flood of forged tokens costs a line a minute, and a refusal is never silent. Reasons
 * must be fixed texts (no token content), which also bounds how many are remembered.
 */
export class RefusalLog {
  private readonly lines = new Map<string, { loggedAt: number; since: number }>();

  constructor(
    private readonly logger: Pick<LoggerService, 'warn'>,
    private readonly now: () => number = Date.now,
  ) {}

  refused(reason: string): void {
    const now = this.now();
    const line = this.lines.get(reason);
    if (line !== undefined && now - line.loggedAt < INTERVAL_MS) {
      line.since += 1;
      return;
    }
    const seconds = line === undefined ? 0 : Math.round((now - line.loggedAt) / 1000);
    const count = line === undefined ? '' : ` (${line.since + 1} in the ${seconds} s since the last such line)`;
    this.logger.warn(`token refused: ${reason}${count}`);
    this.lines.set(reason, { loggedAt: now, since: 0 });
  }
}
