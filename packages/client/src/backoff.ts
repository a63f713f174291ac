import type { ResponseLike } from './types.js';

export const BACKOFF_BASE_MS = 1000;
export const BACKOFF_CAP_MS = 60_000;
/** The longest wait a server's Retry-After or RateLimit-Reset imposes (a longer one is taken as this). */
export const SERVER_WAIT_CAP_MS = 5 * 60_000;

/**
 * The wait before retry number `attempt` (1 for the first retry): full jitter, `random()` × min(cap, base × 2^(attempt−1)),
 * never under `base`, so that a `random()` near 0 cannot make a tight loop (at most one request a second).
 */
export function backoffDelay(attempt: number, random: () => number, baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.max(baseMs, Math.round(r * ceiling));
}

/** Retry-After in milliseconds (delta-seconds or an HTTP date, against `now`), capped at 5 minutes; undefined when absent or unreadable. */
export function retryAfterMs(response: ResponseLike, now: number): number | undefined {
  const value = response.headers.get('retry-after')?.trim();
  if (value === undefined || value === '') return undefined;
  let ms: number;
  if (/^\d+$/.test(value)) ms = Number(value) * 1000;
  else {
    // An HTTP date names its day and its zone ("Wed, 22 Apr 2026 14:30:00 GMT"): no letter, no date.
    const date = /[a-z]/i.test(value) ? Date.parse(value) : NaN;
    if (Number.isNaN(date)) return undefined;
    ms = date - now;
  }
  return Math.min(Math.max(ms, 0), SERVER_WAIT_CAP_MS);
}

/** When RateLimit-Remaining is 0: the wait RateLimit-Reset names (seconds, capped at 5 minutes; 1 s when absent). */
export function rateLimitPauseMs(response: ResponseLike): number | undefined {
  const remaining = response.headers.get('ratelimit-remaining')?.trim();
  if (remaining === undefined || !/^\d+$/.test(remaining) || Number(remaining) > 0) return undefined;
  const reset = response.headers.get('ratelimit-reset')?.trim();
  const seconds = reset !== undefined && /^\d+$/.test(reset) ? Number(reset) : 1;
  return Math.min(seconds * 1000, SERVER_WAIT_CAP_MS);
}
