import { INGEST_QUEUE } from '#contract';

/** Redis key (under the queue prefix) counting events accepted but not yet written. */
export const BUFFERED_EVENTS_KEY = 'buffered-events';

export function bufferedEventsKey(prefix: string): string {
  return `${prefix}:${INGEST_QUEUE}:${BUFFERED_EVENTS_KEY}`;
}

/**
 * How long a failing batch keeps being retried: the sum of BullMQ's exponential backoff delays between its
 * attempts (delay · 2^(n-1) after the n-th failure). See https://docs.bullmq.io/guide/retrying-failing-jobs
 */
export function retryWindowMs(attempts: number, backoffMs: number): number {
  return backoffMs * (2 ** (attempts - 1) - 1);
}
