/**
 * How long a failing batch keeps being retried: the sum of BullMQ's exponential backoff delays between its
 * attempts (delay · 2^(n-1) after the n-th failure). See https://docs.bullmq.io/guide/retrying-failing-jobs
 */
export function retryWindowMs(attempts: number, backoffMs: number): number {
  return backoffMs * (2 ** (attempts - 1) - 1);
}
