/** The small interfaces the client runs on: each has a default, and each can be replaced (in tests, or on a platform). */

/** Time and timers. `now()` is milliseconds since the epoch. */
export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** What the client reads of an HTTP answer (a subset of the Fetch API's `Response`). */
export interface ResponseLike {
  readonly status: number;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
}

/** What the client passes to `fetch` (a subset of the Fetch API's `RequestInit`). */
export interface RequestLike {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** JSON, or JSON gzipped (with a `content-encoding: gzip` header). */
  body?: string | Uint8Array;
  /** Set while the page is hidden or closing: the browser finishes the request after the page has gone. */
  keepalive?: boolean;
  /**
   * The platform's AbortSignal, aborted when the client gives the request up. Typed `never` so that the platform's own
   * fetch fits FetchLike without the DOM's or Node's types: a fetch of your own may read it as its platform's type.
   */
  signal?: never;
}

/** The Fetch API's `fetch`, as far as the client uses it. */
export type FetchLike = (url: string, init: RequestLike) => Promise<ResponseLike>;

/**
 * Where the queue is kept between runs: one snapshot of the whole queue, replaced at each save. `save` must be atomic
 * (a later `load` sees this snapshot or the one before it, never a mix). The default keeps it in memory.
 */
export interface Storage {
  /** The last saved snapshot, or null when there is none. */
  load(): Promise<string | null>;
  save(snapshot: string): Promise<void>;
  /**
   * Optional: every snapshot the storage holds for this queue, when it may hold more than one (BrowserStorage: an
   * earlier run that fell back to another place, a closed tab's queue). Called instead of `load`; the client merges
   * them by event_id.
   */
  loadAll?(): Promise<string[]>;
  /** Optional: called by `shutdown()` once the queue is saved. */
  close?(): void;
}

/** What the app's lifecycle tells the client. */
export type LifecycleEvent = 'background' | 'foreground' | 'exit';

/** The app's lifecycle (browser visibility, React Native AppState, Node's beforeExit): the client flushes on 'background' and 'exit'. */
export interface Lifecycle {
  /** Starts calling `listener`; returns the function that stops it. */
  subscribe(listener: (event: LifecycleEvent) => void): () => void;
}

/** One event as the API takes it. */
export interface WireEvent {
  event_id: string;
  type: string;
  timestamp: string;
  customEventName?: string;
  customdata?: Record<string, unknown>;
}

/** A field the server (or the client's own check) refused: `events[3].timestamp`, `customdata`… */
export interface FieldProblem {
  field: string;
  message: string;
}

/**
 * Why events were dropped. `queue_full`: the queue was over `maxQueueEvents`/`maxQueueBytes` (the oldest go first);
 * `invalid`: the server (400) or the client's check against the published client-config refused them; `too_large`: one
 * event over the byte budget of a request, or alone in a 413; `identity_changed`: saved by another user or game;
 * `closed`: tracked after `shutdown()`.
 */
export type DropReason = 'queue_full' | 'invalid' | 'too_large' | 'identity_changed' | 'closed';

/** A problem the client does not drop events for: it keeps them and reports it. */
export interface ClientError {
  /**
   * `auth`: 401 other than token_expired, or 403 — sending stops until `resume()`; `rejected`: another answer the
   * client cannot act on (a 400 naming no event, 404, 415…) — sending stops until `resume()`; `token`: getToken()
   * failed (retried with backoff); `storage`: the storage failed (the queue goes on in memory); `config`: the
   * client-config could not be read (tried again at most every 5 minutes).
   */
  kind: 'auth' | 'rejected' | 'token' | 'storage' | 'config';
  status?: number;
  code?: string;
  message: string;
}

/** What became of one request of events. */
export interface BatchOutcome {
  /** `sent`: 202; `retry`: will be sent again after `retryInMs`; `refresh`: token_expired, sent again with a new token; `split`: 413, sent again in halves; `invalid`: 400, the named events dropped; `stopped`: see onError. */
  outcome: 'sent' | 'retry' | 'refresh' | 'split' | 'invalid' | 'stopped';
  /** The HTTP status, or 0 for a network error or a timeout. */
  status: number;
  events: number;
  batchId?: string;
  retryInMs?: number;
}

export interface Stats {
  /** Events waiting to be sent. */
  queued: number;
  /** Events the server accepted (202). */
  sent: number;
  /** Requests sent again after a network error, a timeout, 408, 429 or 5xx. */
  retried: number;
  /** Events dropped, by reason. */
  dropped: Partial<Record<DropReason, number>>;
}
