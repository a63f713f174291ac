import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { isMainThread } from 'node:worker_threads';
import { describeError, Metrics, MetricValues } from '#platform';
import { ACTIVITY_COUNTERS } from './pipeline-metrics';

const EVERY_MS = 60_000;
const READ: ReadonlySet<string> = new Set(Object.values(ACTIVITY_COUNTERS));

/** What the counters of one process said at one moment. */
export interface ActivityCounts {
  accepted: number;
  written: number;
  refused: Record<string, number>;
}

/**
 * The line for what happened between two readings, or undefined when nothing did: an idle service writes nothing.
 */
export function describeActivity(before: ActivityCounts, after: ActivityCounts, seconds: number): string | undefined {
  const accepted = after.accepted - before.accepted;
  const written = after.written - before.written;
  const refused = Object.entries(after.refused)
    .map(([reason, count]) => [reason, count - (before.refused[reason] ?? 0)] as const)
    .filter(([, count]) => count > 0)
    .sort(([, a], [, b]) => b - a);
  const refusedTotal = refused.reduce((sum, [, count]) => sum + count, 0);
  if (accepted === 0 && written === 0 && refusedTotal === 0) return undefined;
  const parts = [`${accepted} events accepted`, `${written} written`, `${refusedTotal} requests refused`];
  const reasons = refused.length === 0 ? '' : ` (${refused.map(([reason, count]) => `${reason} ${count}`).join(', ')})`;
  return `last ${seconds} s: ${parts.join(', ')}${reasons}`;
}

/**
 * A line a minute at the default level saying what this process accepted, wrote and refused, so that a newcomer sees
 * the service work and an operator sees trouble start without a dashboard. Read from the process's own metrics.
 */
@Injectable()
export class ActivitySummary implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Activity');
  private timer?: NodeJS.Timeout;
  private last?: ActivityCounts;

  constructor(private readonly metrics: Metrics) {}

  onApplicationBootstrap(): void {
    // A worker thread (the all-in-one's writer) says nothing itself: the main thread's line adds its counts (addThread).
    if (!isMainThread) return;
    void this.report();
    this.timer = setInterval(() => void this.report(), EVERY_MS).unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Never rejects: a summary that cannot be read is skipped. */
  private async report(): Promise<void> {
    try {
      const now = await this.read();
      const line = this.last === undefined ? undefined : describeActivity(this.last, now, EVERY_MS / 1000);
      this.last = now;
      if (line !== undefined) this.logger.log(line);
    } catch (error) {
      this.logger.debug(`activity summary skipped: ${describeError(error)}`);
    }
  }

  private async read(): Promise<ActivityCounts> {
    const values = await this.metrics.counts(READ);
    const refused: Record<string, number> = {};
    for (const { labels, value } of valuesOf(values, ACTIVITY_COUNTERS.refused)) refused[String(labels.reason)] = value;
    return {
      accepted: valuesOf(values, ACTIVITY_COUNTERS.accepted)[0]?.value ?? 0,
      written: valuesOf(values, ACTIVITY_COUNTERS.written)[0]?.value ?? 0,
      refused,
    };
  }
}

function valuesOf(metrics: MetricValues, name: string): MetricValues[number]['values'] {
  return metrics.find((metric) => metric.name === name)?.values ?? [];
}
