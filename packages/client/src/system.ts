import type { Clock, FetchLike } from './types.js';

type Timer = { unref?: () => void };

/**
 * The platform's clock. Its timers do not keep a Node process alive (unref): a client waiting to retry lets the process
 * end, and the queue is in storage for the next run.
 */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(callback, ms) {
    const handle = setTimeout(callback, ms) as unknown;
    if (typeof handle === 'object' && handle !== null) (handle as Timer).unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as Parameters<typeof clearTimeout>[0]),
};

/** The platform's fetch, looked up when called (so that a polyfill installed later is found). */
export function globalFetch(): FetchLike {
  return (url, init) => {
    const fetch = (globalThis as { fetch?: FetchLike }).fetch;
    if (typeof fetch !== 'function') return Promise.reject(new Error('no global fetch: pass the fetch option'));
    return fetch(url, init);
  };
}

/** An AbortController where the platform has one. */
export function abortController(): { signal: unknown; abort(): void } | undefined {
  const Controller = (globalThis as { AbortController?: new () => { signal: unknown; abort(): void } }).AbortController;
  return typeof Controller === 'function' ? new Controller() : undefined;
}
