import { backoffDelay, rateLimitPauseMs, retryAfterMs, SERVER_WAIT_CAP_MS } from './backoff.js';
import { browserLifecycle } from './browser-lifecycle.js';
import { BrowserStorage } from './browser-storage.js';
import { GZIP_FROM_BYTES, gzip } from './compression.js';
import { checkEvent, eventRules, parseClientConfig, type ClientConfig, type EventRules } from './config.js';
import { randomUuid, utf8Length } from './encoding.js';
import { MemoryStorage } from './memory-storage.js';
import { abortController, globalFetch, systemClock } from './system.js';
import type {
  BatchOutcome,
  ClientError,
  Clock,
  DropReason,
  FetchLike,
  FieldProblem,
  Lifecycle,
  LifecycleEvent,
  RequestLike,
  ResponseLike,
  Stats,
  Storage,
  WireEvent,
} from './types.js';

/** The most events the API takes in one request. */
export const MAX_BATCH_EVENTS = 200;
/** How often the client-config is read at most. */
export const CONFIG_REFRESH_MS = 5 * 60_000;
/** Changes to the queue are saved at most this long after they are made (several tracks make one write). */
export const SAVE_DELAY_MS = 250;
/**
 * Bytes of events in a request sent while the page is hidden or closing. Browsers give a page 64 KiB of keepalive
 * bodies in flight (https://fetch.spec.whatwg.org/#http-network-or-cache-fetch, step "inflightKeepaliveBytes"); one
 * request is in flight at a time, and this leaves room for the rest of the body.
 */
export const KEEPALIVE_EVENT_BYTES = 60 * 1024;

export interface IngestClientOptions {
  /** The service's base URL: events go to `${endpoint}/ingest/events`. */
  endpoint: string;
  gameId: string;
  /** The player: the `sub` of the token. */
  userId: string;
  /** The player's access token; called again (once, however many requests wait) when the server answers token_expired. */
  getToken: () => Promise<string>;
  /**
   * Where the queue is kept between runs. Default: in a browser, IndexedDB, falling back to localStorage, then memory
   * (one queue per endpoint, game and player); elsewhere, memory. Keep one per player and game.
   */
  storage?: Storage;
  /** The app's lifecycle: the client sends on 'background' and 'exit'. Default: the page's in a browser, none elsewhere. */
  lifecycle?: Lifecycle;
  clock?: Clock;
  fetch?: FetchLike;
  /** Math.random by default: the backoff's jitter (and UUIDs where the platform has no crypto). */
  random?: () => number;
  /** Send once this many events are queued (default 50, or the client-config's flush_at). */
  flushAt?: number;
  /** Send at the latest this long after the oldest queued event (default 10 000 ms, or the client-config's). */
  flushIntervalMs?: number;
  /** Events per request (at most 200, and at most the client-config's max_batch_events). */
  maxBatchEvents?: number;
  /** UTF-8 bytes the `events` array of one request may take (default 512 000, and at most the client-config's max_batch_bytes). */
  maxBatchBytes?: number;
  /** Events the queue holds at most (default 10 000); the oldest are dropped first. */
  maxQueueEvents?: number;
  /** Bytes the queue's events take at most (default 4 MiB); the oldest are dropped first. */
  maxQueueBytes?: number;
  /** A request not answered within this is abandoned and retried (default 15 000 ms). */
  requestTimeoutMs?: number;
  /**
   * Send `sent_at`, the device's time of the attempt, with each request (default true), so that the server can tell a
   * device's clock that is off. Against a server that refuses it, the client goes on without it.
   */
  sendSentAt?: boolean;
  /** Gzip request bodies of 2 KiB and more where the platform has CompressionStream (default true). */
  compression?: boolean;
  /** Read GET /ingest/client-config at start and at most every 5 minutes (default true). */
  clientConfig?: boolean;
  onDrop?: (reason: DropReason, events: WireEvent[], details?: FieldProblem[]) => void;
  onBatch?: (outcome: BatchOutcome) => void;
  onError?: (error: ClientError) => void;
}

export interface TrackOptions {
  /** Required for `Custom` events (the client-config says which types need it). */
  customEventName?: string;
}

export interface IngestClient {
  /** Queues an event and returns its event_id. Synchronous; never throws: what cannot be sent is reported to onDrop. */
  track(type: string, customdata?: Record<string, unknown>, options?: TrackOptions): string;
  /** Sends what is queued, one request at a time, until the queue is empty or the client has to wait (retry, rate limit, stop). */
  flush(): Promise<void>;
  /**
   * Sends what is queued, retrying when a retry falls within `timeoutMs` (default 5000), then saves the queue and stops:
   * later events are dropped as `closed`. Resolves within `timeoutMs`; what is not sent stays saved for the next start.
   */
  shutdown(options?: { timeoutMs?: number }): Promise<void>;
  /** Sends again after a stop (401 other than token_expired, 403, an answer the client cannot act on). */
  resume(): void;
  stats(): Stats;
}

interface Entry {
  event: WireEvent;
  bytes: number;
}

interface Answer {
  response: ResponseLike;
  text: string;
}

/** The snapshot the storage keeps. */
interface Snapshot {
  v: 1;
  user_id: string;
  game_id: string;
  events: WireEvent[];
  /** The end of the wait the server asked for (Retry-After, RateLimit-Reset), ms since the epoch: a restart keeps it. */
  not_before?: number;
}

export function createIngestClient(options: IngestClientOptions): IngestClient {
  return new Client(options);
}

class Client implements IngestClient {
  private readonly clock: Clock;
  private readonly fetch: FetchLike;
  private readonly storage: Storage;
  private readonly random: () => number;
  private readonly endpoint: string;

  private queue: Entry[] = [];
  private queueBytes = 0;
  private readonly counts = { sent: 0, retried: 0, dropped: {} as Partial<Record<DropReason, number>> };

  private readonly loaded: Promise<void>;
  private isLoaded = false;
  private dirty = false;
  private saving: Promise<void> | undefined;
  private saveTimer: unknown;

  private config: ClientConfig | undefined;
  private rules: EventRules | undefined;
  private configAttemptAt: number | undefined;
  private configFetch: Promise<void> | undefined;

  private tokenPromise: Promise<string> | undefined;
  /** Hidden or closing: requests go with keepalive, within its budget, and nothing waits for a later task. */
  private unloading = false;
  /** Counts the times the app started going away: a batch taken before is taken again, for keepalive. */
  private unloadings = 0;
  private readonly unloadWaiters = new Set<() => void>();
  /** A save started while the app goes away, beside the one that may be running. */
  private urgentSave: Promise<void> | undefined;
  private expiredBefore = false;

  private pumping: Promise<boolean> | undefined;
  private draining = false;
  /** No request before this instant (backoff, Retry-After, RateLimit-Reset). */
  private blockedUntil = 0;
  /** The part of blockedUntil the server asked for: saved with the queue. */
  private serverWaitUntil = 0;
  private attempt = 0;
  /** After a 413: the most events a request holds. */
  private countCap = MAX_BATCH_EVENTS;
  private sentAt: boolean;
  private stopped: ClientError | undefined;
  private closed = false;
  private halted = false;
  /** Abandons the POST in flight; whether it goes with keepalive. */
  private abortInFlight: ((reason: AbandonReason) => void) | undefined;
  private inFlightKeepalive = false;
  /** The event_ids of the request in flight: the queue's bounds spare them. */
  private inFlight: string[] = [];

  private intervalTimer: unknown;
  private shutdownTimer: unknown;
  private wakeTimer: unknown;
  private wakeAt = 0;
  private readonly unsubscribe: (() => void) | undefined;

  constructor(private readonly options: IngestClientOptions) {
    this.clock = options.clock ?? systemClock;
    this.fetch = options.fetch ?? globalFetch();
    this.random = options.random ?? Math.random;
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    const page = browserLifecycle();
    const lifecycle = options.lifecycle ?? page;
    this.storage =
      options.storage ??
      (page !== undefined ? new BrowserStorage(`${this.endpoint} ${options.gameId} ${options.userId}`) : new MemoryStorage());
    this.sentAt = options.sendSentAt !== false;
    this.loaded = this.restore();
    this.refreshConfigIfStale();
    this.unsubscribe = lifecycle?.subscribe((event) => this.onLifecycle(event));
  }

  private onLifecycle(event: LifecycleEvent): void {
    if (this.halted) return;
    if (event === 'foreground') {
      this.unloading = false;
      this.refreshConfigIfStale();
      this.draining = true;
      void this.kick();
      return;
    }
    // The page may not run another task: start the save now, and send within this task's microtasks. A request in
    // flight without keepalive would be cancelled with the page: it is abandoned and its events go again with keepalive.
    if (!this.unloading) {
      this.unloading = true;
      this.unloadings += 1;
      for (const wake of this.unloadWaiters) wake();
      if (!this.inFlightKeepalive) this.abortInFlight?.('unload');
    }
    this.saveNow();
    void this.flush();
  }

  track(type: string, customdata?: Record<string, unknown>, options?: TrackOptions): string {
    let id = '';
    try {
      id = randomUuid(this.random);
      const event: WireEvent = { event_id: id, type, timestamp: new Date(this.clock.now()).toISOString() };
      if (this.closed) {
        this.drop('closed', [event]);
        return id;
      }
      const customEventName = options?.customEventName;
      if (customEventName !== undefined) event.customEventName = customEventName;
      let customdataBytes = 0;
      if (customdata !== undefined) {
        // A copy as JSON sends it (the caller may change its object later), and the size the server measures.
        const text = safeStringify(customdata);
        if (text === undefined) {
          this.drop('invalid', [event], [{ field: 'customdata', message: 'cannot be written as JSON' }]);
          return id;
        }
        event.customdata = JSON.parse(text) as Record<string, unknown>;
        customdataBytes = utf8Length(text);
      }
      const problems = checkEvent(type, customEventName, event.customdata, customdataBytes, this.rules);
      if (problems.length > 0) {
        this.drop('invalid', [event], problems);
        return id;
      }
      const bytes = utf8Length(JSON.stringify(event));
      if (bytes + 2 > this.batchBytes()) {
        this.drop('too_large', [event], [{ field: '', message: `the event takes ${bytes} bytes, over a request's ${this.batchBytes()}` }]);
        return id;
      }
      this.queue.push({ event, bytes });
      this.queueBytes += bytes;
      this.enforceBounds();
      this.markDirty();
      this.refreshConfigIfStale();
      if (this.queue.length >= this.flushAt()) {
        this.draining = true;
        void this.kick();
      } else this.armInterval();
    } catch (error) {
      this.report({ kind: 'rejected', message: `track failed: ${String(error)}` });
    }
    return id;
  }

  async flush(): Promise<void> {
    if (this.halted) return;
    await this.loaded;
    // A pump may be ending as this starts: go on while there is something that may be sent now.
    do {
      this.draining = true;
      if (!(await this.kick())) return; // the loop failed (reported): no second try from here
    } while (this.canSendNow());
  }

  async shutdown(options?: { timeoutMs?: number }): Promise<void> {
    if (this.closed) return this.persisted();
    this.closed = true;
    const timeoutMs = options?.timeoutMs ?? 5000;
    const deadlineAt = this.clock.now() + timeoutMs;
    // The end of the timeout is kept for saving what is left.
    const sendUntil = deadlineAt - Math.min(1000, timeoutMs / 5);
    await this.until(this.flushUntil(sendUntil), sendUntil);
    this.clock.clearTimeout(this.shutdownTimer);
    this.halted = true;
    this.abortInFlight?.('shutdown');
    this.clock.clearTimeout(this.intervalTimer);
    this.clock.clearTimeout(this.wakeTimer);
    this.unsubscribe?.();
    // A getToken, a storage or a client-config read that never answers does not hold shutdown past its timeout.
    await this.until(
      Promise.all([this.pumping, this.persisted()]).then(() => this.storage.close?.()),
      deadlineAt,
    );
  }

  /** `work`, or the clock reaching `at`, whichever comes first. */
  private async until(work: Promise<unknown>, at: number): Promise<void> {
    let timer: unknown;
    const deadline = new Promise<void>((resolve) => {
      timer = this.clock.setTimeout(resolve, Math.max(at - this.clock.now(), 0));
    });
    await Promise.race([work, deadline]);
    this.clock.clearTimeout(timer);
  }

  /** Flushes, and again after each wait (a retry, a rate limit) that ends before `deadlineAt`. */
  private async flushUntil(deadlineAt: number): Promise<void> {
    for (;;) {
      await this.flush();
      const waitUntil = this.blockedUntil;
      if (this.queue.length === 0 || this.halted || this.stopped !== undefined || this.config?.enabled === false) return;
      if (waitUntil >= deadlineAt) return;
      await new Promise<void>((resolve) => {
        this.shutdownTimer = this.clock.setTimeout(resolve, Math.max(waitUntil - this.clock.now(), 0));
      });
    }
  }

  resume(): void {
    this.stopped = undefined;
    this.draining = true;
    void this.kick();
  }

  stats(): Stats {
    return { queued: this.queue.length, sent: this.counts.sent, retried: this.counts.retried, dropped: { ...this.counts.dropped } };
  }

  // --- sending ---------------------------------------------------------------------------------------------------

  private flushAt(): number {
    return this.options.flushAt ?? this.config?.flush_at ?? 50;
  }

  private batchBytes(): number {
    return Math.min(this.options.maxBatchBytes ?? 512_000, this.config?.max_batch_bytes ?? Infinity);
  }

  private batchEvents(): number {
    return Math.max(
      1,
      Math.min(
        MAX_BATCH_EVENTS,
        this.options.maxBatchEvents ?? MAX_BATCH_EVENTS,
        this.config?.max_batch_events ?? MAX_BATCH_EVENTS,
        this.countCap,
      ),
    );
  }

  private canSendNow(): boolean {
    return (
      this.queue.length > 0 &&
      !this.halted &&
      this.stopped === undefined &&
      this.config?.enabled !== false &&
      this.blockedUntil <= this.clock.now()
    );
  }

  /** Starts the one upload loop unless it runs; the promise of the loop (false when it failed). */
  private kick(): Promise<boolean> {
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
    });
    return this.pumping;
  }

  private async pump(): Promise<boolean> {
    try {
      await this.loaded;
      while (this.draining && this.queue.length > 0 && !this.halted && this.stopped === undefined) {
        if (this.configFetch !== undefined && !this.unloading) await this.configFetch;
        if (this.config?.enabled === false) {
          // The kill switch: keep the queue, look again when the configuration may be read again.
          this.wake((this.configAttemptAt ?? this.clock.now()) + CONFIG_REFRESH_MS);
          return true;
        }
        if (this.blockedUntil > this.clock.now()) {
          this.wake(this.blockedUntil);
          return true;
        }
        const unloadings = this.unloadings;
        const { batch, keepalive } = this.takeBatch(this.unloading);
        if (batch.length === 0) continue;
        // Saved before sent. When the app is going away, the save has started (saveNow) and the request does not wait
        // for it; if the removal after the 202 is never saved, the next start sends the events again and the server
        // stores them once.
        if (this.unloading) this.saveNow();
        else await this.persistedUnlessUnloading();
        if (this.halted) return true;
        if (this.unloadings !== unloadings) continue; // taken for an ordinary request: again, for keepalive
        this.inFlight = batch.map((entry) => entry.event.event_id);
        try {
          await this.send(batch, keepalive, unloadings);
        } finally {
          this.inFlight = [];
        }
      }
      if (this.queue.length === 0) {
        this.draining = false;
        this.clock.clearTimeout(this.intervalTimer);
        this.intervalTimer = undefined;
      } else if (!this.draining) this.armInterval();
      return true;
    } catch (error) {
      this.report({ kind: 'rejected', message: `sending failed: ${String(error)}` });
      return false;
    }
  }

  /**
   * The head of the queue, as much as one request takes (with keepalive while unloading: within its budget); an event
   * alone over a request's budget is dropped. An event alone over the keepalive budget goes in an ordinary request,
   * which a closing page may cancel: it then stays saved for the next start.
   */
  private takeBatch(unloading: boolean): { batch: Entry[]; keepalive: boolean } {
    const maxEvents = this.batchEvents();
    const limit = this.batchBytes();
    const maxBytes = unloading ? Math.min(limit, KEEPALIVE_EVENT_BYTES) : limit;
    const batch: Entry[] = [];
    let bytes = 1; // "[" and "]", and a comma between two events
    for (const entry of this.queue) {
      if (batch.length >= maxEvents || bytes + entry.bytes + 1 > maxBytes) break;
      batch.push(entry);
      bytes += entry.bytes + 1;
    }
    if (batch.length > 0 || this.queue.length === 0) return { batch, keepalive: unloading };
    const [head] = this.queue;
    if (head.bytes + 2 <= limit) return { batch: [head], keepalive: false };
    this.remove(new Set([head.event.event_id]));
    this.drop('too_large', [head.event], [{ field: '', message: `the event takes ${head.bytes} bytes, over a request's ${limit}` }]);
    return { batch: [], keepalive: false };
  }

  /** Sends `batch` until an answer settles it; returns early, leaving it queued, when the app starts going away. */
  private async send(batch: Entry[], keepalive: boolean, unloadings: number): Promise<void> {
    // After a token_expired retried with backoff, the token is new already: another 401 is not refreshed at once.
    let refreshed = this.expiredBefore;
    this.expiredBefore = false;
    for (;;) {
      const tokenPromise = this.token();
      let token: string;
      try {
        token = await tokenPromise;
      } catch (error) {
        this.report({ kind: 'token', message: `getToken failed: ${String(error)}` });
        return this.retryLater(batch, 0, undefined);
      }
      const body: Record<string, unknown> = {
        user_id: this.options.userId,
        game_id: this.options.gameId,
        events: batch.map((entry) => entry.event),
      };
      if (this.sentAt) body.sent_at = new Date(this.clock.now()).toISOString();
      const encoded = await this.encode(JSON.stringify(body), keepalive);
      // Taken for an ordinary request: the pump takes it again. Or shut down meanwhile (getToken and gzip take time): no
      // request may start once shutdown has aborted the one in flight.
      if (this.unloadings !== unloadings || this.halted) return;
      let answer: Answer;
      try {
        answer = await this.request('POST', `${this.endpoint}/ingest/events`, token, encoded, keepalive);
      } catch (error) {
        if (error instanceof Abandoned && error.reason === 'unload') return;
        return this.retryLater(batch, 0, undefined);
      }
      const { response, text } = answer;
      const status = response.status;
      const pause = rateLimitPauseMs(response);
      if (pause !== undefined) this.serverWait(pause);
      const error = parseError(text);
      if (status === 202) {
        this.attempt = 0;
        this.remove(new Set(batch.map((entry) => entry.event.event_id)));
        this.counts.sent += batch.length;
        this.notify({ outcome: 'sent', status, events: batch.length, batchId: parseBatchId(text) });
        return;
      }
      if (status === 401 && error.reason === 'token_expired' && !refreshed) {
        // Not a retry: the same events again at once with a new token (one getToken for every waiting request).
        refreshed = true;
        this.notify({ outcome: 'refresh', status, events: batch.length });
        this.refreshToken(tokenPromise);
        continue;
      }
      if (status === 401 && error.reason === 'token_expired') {
        // Expired again at once (a clock off, a token source behind): wait, and ask for another token then.
        this.refreshToken(tokenPromise);
        this.expiredBefore = true;
        return this.retryLater(batch, status, retryAfterMs(response, this.clock.now()));
      }
      if (status === 401 || status === 403) return this.stop(batch, { kind: 'auth', status, code: error.reason, message: error.message });
      if (status === 400) return this.invalid(batch, error);
      if (status === 413) {
        if (batch.length === 1) {
          this.remove(new Set([batch[0].event.event_id]));
          this.drop('too_large', [batch[0].event], [{ field: '', message: error.message }]);
        } else this.countCap = Math.ceil(batch.length / 2);
        this.notify({ outcome: 'split', status, events: batch.length });
        return;
      }
      if (status === 408 || status === 429 || status >= 500)
        return this.retryLater(batch, status, retryAfterMs(response, this.clock.now()));
      return this.stop(batch, { kind: 'rejected', status, code: error.reason, message: error.message });
    }
  }

  /** A 400: drop the events its details name (`events[3]…`) and send the rest; with none named, stop. */
  private invalid(batch: Entry[], error: ParsedError): void {
    const named = new Map<number, FieldProblem[]>();
    for (const problem of error.details) {
      const match = /^events\[(\d+)\]/.exec(problem.field);
      const index = match === null ? -1 : Number(match[1]);
      if (index >= 0 && index < batch.length) named.set(index, [...(named.get(index) ?? []), problem]);
    }
    if (named.size > 0) {
      const events = [...named.keys()].sort((a, b) => a - b).map((index) => batch[index].event);
      this.remove(new Set(events.map((event) => event.event_id)));
      this.drop('invalid', events, [...named.values()].flat());
      this.notify({ outcome: 'invalid', status: 400, events: batch.length });
      return;
    }
    if (this.sentAt && error.details.some((problem) => problem.field === 'sent_at')) {
      // The server does not take sent_at yet: send without it from now on.
      this.sentAt = false;
      this.report({ kind: 'rejected', status: 400, code: error.reason, message: 'the server refused sent_at: sending without it' });
      return;
    }
    this.stop(batch, { kind: 'rejected', status: 400, code: error.reason, message: JSON.stringify(error.details) });
  }

  private retryLater(batch: Entry[], status: number, retryAfter: number | undefined): void {
    this.attempt += 1;
    this.counts.retried += 1;
    this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + backoffDelay(this.attempt, this.random));
    if (retryAfter !== undefined) this.serverWait(retryAfter);
    this.notify({ outcome: 'retry', status, events: batch.length, retryInMs: this.blockedUntil - this.clock.now() });
  }

  /** No request of events for `ms`, as the server asked: saved with the queue, so that a restart waits as long. */
  private serverWait(ms: number): void {
    const at = this.clock.now() + ms;
    this.blockedUntil = Math.max(this.blockedUntil, at);
    if (at <= this.serverWaitUntil) return;
    this.serverWaitUntil = at;
    this.markDirty();
  }

  private stop(batch: Entry[], error: ClientError): void {
    this.stopped = error;
    this.notify({ outcome: 'stopped', status: error.status ?? 0, events: batch.length });
    this.report(error);
  }

  /**
   * The body as sent: gzipped from GZIP_FROM_BYTES on where the platform can, except with keepalive (compressing takes
   * tasks a closing page may not get).
   */
  private async encode(json: string, keepalive: boolean): Promise<{ body: string | Uint8Array; gzipped: boolean }> {
    if (keepalive || this.options.compression === false || utf8Length(json) < GZIP_FROM_BYTES) return { body: json, gzipped: false };
    const gzipped = await gzip(json).catch(() => undefined);
    return gzipped === undefined ? { body: json, gzipped: false } : { body: gzipped, gzipped: true };
  }

  /** One request, abandoned after requestTimeoutMs (or at the end of shutdown): the answer and its body. */
  private async request(
    method: 'GET' | 'POST',
    url: string,
    token: string,
    encoded?: { body: string | Uint8Array; gzipped: boolean },
    keepalive = false,
  ): Promise<Answer> {
    const controller = abortController();
    let timer: unknown;
    const abandoned = new Promise<never>((_, reject) => {
      const abort = (reason: AbandonReason) => {
        controller?.abort();
        reject(new Abandoned(reason));
      };
      timer = this.clock.setTimeout(() => abort('timeout'), this.options.requestTimeoutMs ?? 15_000);
      if (method === 'POST') {
        this.abortInFlight = abort;
        this.inFlightKeepalive = keepalive;
      }
    });
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
    if (encoded !== undefined) headers['content-type'] = 'application/json';
    if (encoded?.gzipped === true) headers['content-encoding'] = 'gzip';
    const init: RequestLike = { method, headers, body: encoded?.body, signal: controller?.signal as never };
    if (keepalive) init.keepalive = true;
    try {
      const response = await Promise.race([this.fetch(url, init), abandoned]);
      const text = await Promise.race([response.text(), abandoned]);
      return { response, text };
    } finally {
      this.clock.clearTimeout(timer);
      if (method === 'POST') {
        this.abortInFlight = undefined;
        this.inFlightKeepalive = false;
      }
    }
  }

  private token(): Promise<string> {
    if (this.tokenPromise === undefined) {
      const promise = Promise.resolve().then(() => this.options.getToken());
      this.tokenPromise = promise;
      promise.catch(() => {
        if (this.tokenPromise === promise) this.tokenPromise = undefined;
      });
    }
    return this.tokenPromise;
  }

  /** A new token unless another caller has asked for one since `stale` was handed out. */
  private refreshToken(stale: Promise<string>): void {
    if (this.tokenPromise === stale) this.tokenPromise = undefined;
  }

  // --- the client-config -----------------------------------------------------------------------------------------

  private refreshConfigIfStale(): void {
    if (this.options.clientConfig === false || this.configFetch !== undefined || this.halted) return;
    const now = this.clock.now();
    if (this.configAttemptAt !== undefined && now - this.configAttemptAt < CONFIG_REFRESH_MS) return;
    this.configAttemptAt = now;
    this.configFetch = this.fetchConfig().finally(() => {
      this.configFetch = undefined;
    });
  }

  private async fetchConfig(): Promise<void> {
    const url = `${this.endpoint}/ingest/client-config`;
    try {
      let tokenPromise = this.token();
      let answer = await this.request('GET', url, await tokenPromise);
      if (answer.response.status === 401 && parseError(answer.text).reason === 'token_expired') {
        this.refreshToken(tokenPromise);
        tokenPromise = this.token();
        answer = await this.request('GET', url, await tokenPromise);
      }
      const pause = rateLimitPauseMs(answer.response);
      if (pause !== undefined) this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + pause);
      const config = answer.response.status === 200 ? parseClientConfig(answer.text) : undefined;
      if (config === undefined) {
        const status = answer.response.status;
        return this.report({
          kind: 'config',
          status,
          message: status === 200 ? 'unreadable client-config' : `client-config answered ${status}`,
        });
      }
      const wasDisabled = this.config?.enabled === false;
      this.config = config;
      this.rules = eventRules(config);
      if (config.enabled && (wasDisabled || this.queue.length >= this.flushAt())) {
        this.draining = true;
        void this.kick();
      }
    } catch (error) {
      this.report({ kind: 'config', message: `client-config: ${String(error)}` });
    }
  }

  // --- the queue and its storage ---------------------------------------------------------------------------------

  /** Loads what earlier runs saved (every snapshot the storage holds, merged by event_id). Never rejects. */
  private async restore(): Promise<void> {
    try {
      const storage = this.storage;
      const texts = storage.loadAll !== undefined ? await storage.loadAll() : [await storage.load()];
      const present = new Set(this.queue.map((entry) => entry.event.event_id));
      const restored: Entry[] = [];
      let replaced = texts.length > 1;
      for (const text of texts) {
        if (text === null || text === '') continue;
        const snapshot = parseSnapshot(text);
        if (snapshot === undefined) {
          this.report({ kind: 'storage', message: 'a saved queue is not readable: ignored' });
          continue;
        }
        if (snapshot.user_id !== this.options.userId || snapshot.game_id !== this.options.gameId) {
          if (snapshot.events.length > 0) this.drop('identity_changed', snapshot.events);
          replaced = true;
          continue;
        }
        if (snapshot.not_before !== undefined) {
          // Never longer than a server may ask for, should the device's clock have been set back since.
          this.serverWaitUntil = Math.max(this.serverWaitUntil, Math.min(snapshot.not_before, this.clock.now() + SERVER_WAIT_CAP_MS));
          this.blockedUntil = Math.max(this.blockedUntil, this.serverWaitUntil);
        }
        for (const event of snapshot.events) {
          if (present.has(event.event_id)) continue;
          present.add(event.event_id);
          restored.push({ event, bytes: utf8Length(JSON.stringify(event)) });
        }
      }
      this.queue = [...restored, ...this.queue];
      this.queueBytes += restored.reduce((sum, entry) => sum + entry.bytes, 0);
      this.enforceBounds();
      // The merged queue replaces the snapshots it was made of.
      if (replaced) this.markDirty();
      if (restored.length > 0) {
        // Saved by an earlier run: send them without waiting for more.
        this.draining = true;
        void this.kick();
      }
    } catch (error) {
      this.report({ kind: 'storage', message: `load failed: ${String(error)}` });
    } finally {
      this.isLoaded = true;
    }
  }

  private snapshot(): string {
    const snapshot: Snapshot = {
      v: 1,
      user_id: this.options.userId,
      game_id: this.options.gameId,
      events: this.queue.map((entry) => entry.event),
    };
    if (this.serverWaitUntil > this.clock.now()) snapshot.not_before = this.serverWaitUntil;
    return JSON.stringify(snapshot);
  }

  /** Saves the queue within SAVE_DELAY_MS: the changes made meanwhile make one write, and one write runs at a time. */
  private markDirty(): void {
    this.dirty = true;
    if (this.saving !== undefined || this.saveTimer !== undefined) return;
    this.saveTimer = this.clock.setTimeout(() => {
      this.saveTimer = undefined;
      this.saving ??= this.save();
    }, SAVE_DELAY_MS);
  }

  private async save(): Promise<void> {
    try {
      await this.loaded;
      this.dirty = false;
      await this.storage.save(this.snapshot());
    } catch (error) {
      this.report({ kind: 'storage', message: `save failed: ${String(error)}` });
    } finally {
      this.saving = undefined;
      if (this.dirty) this.markDirty();
    }
  }

  /**
   * Starts saving the queue as it is now when it has changes not saved, beside a save that may be running: the app is
   * going away, and may not wait for that one. Storages keep the order in which saves start (IndexedDB commits the
   * transactions of a store in the order they began; localStorage is synchronous; FileStorage queues them).
   */
  private saveNow(): void {
    if (!this.isLoaded || (!this.dirty && this.saveTimer === undefined)) return;
    this.clock.clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.dirty = false;
    const saved = this.storage.save(this.snapshot()).then(
      () => undefined,
      (error: unknown) => this.report({ kind: 'storage', message: `save failed: ${String(error)}` }),
    );
    this.urgentSave = saved;
    void saved.then(() => {
      if (this.urgentSave === saved) this.urgentSave = undefined;
    });
  }

  /** Saves what is not saved yet, now; resolves once every change so far is saved (or its save failed). Never rejects. */
  private async persisted(): Promise<void> {
    for (;;) {
      if (this.saveTimer !== undefined) {
        this.clock.clearTimeout(this.saveTimer);
        this.saveTimer = undefined;
        this.saving ??= this.save();
      }
      const pending = this.saving ?? this.urgentSave;
      if (pending === undefined) return;
      await pending;
    }
  }

  /** persisted(), or the app starting to go away, whichever comes first. */
  private async persistedUnlessUnloading(): Promise<void> {
    let wake: () => void = () => undefined;
    const unloading = new Promise<void>((resolve) => (wake = resolve));
    this.unloadWaiters.add(wake);
    try {
      await Promise.race([this.persisted(), unloading]);
    } finally {
      this.unloadWaiters.delete(wake);
    }
  }

  private remove(ids: Set<string>): void {
    const kept: Entry[] = [];
    for (const entry of this.queue) {
      if (ids.has(entry.event.event_id)) this.queueBytes -= entry.bytes;
      else kept.push(entry);
    }
    this.queue = kept;
    this.markDirty();
  }

  /** Drops the oldest events while the queue is over its bounds, sparing the request in flight. */
  private enforceBounds(): void {
    const maxEvents = this.options.maxQueueEvents ?? 10_000;
    const maxBytes = this.options.maxQueueBytes ?? 4 * 1024 * 1024;
    if (this.queue.length <= maxEvents && this.queueBytes <= maxBytes) return;
    const inFlight = new Set(this.inFlight);
    const dropped: Entry[] = [];
    let [count, bytes] = [this.queue.length, this.queueBytes];
    for (const entry of this.queue) {
      if (count <= maxEvents && bytes <= maxBytes) break;
      if (inFlight.has(entry.event.event_id)) continue;
      dropped.push(entry);
      count -= 1;
      bytes -= entry.bytes;
    }
    if (dropped.length === 0) return;
    this.remove(new Set(dropped.map((entry) => entry.event.event_id)));
    this.drop(
      'queue_full',
      dropped.map((entry) => entry.event),
    );
  }

  private armInterval(): void {
    if (this.intervalTimer !== undefined || this.queue.length === 0 || this.halted) return;
    const interval = this.options.flushIntervalMs ?? this.config?.flush_interval_ms ?? 10_000;
    this.intervalTimer = this.clock.setTimeout(() => {
      this.intervalTimer = undefined;
      this.draining = true;
      void this.kick();
    }, interval);
  }

  /** Runs the upload loop again at `at` (one timer: the latest call wins). */
  private wake(at: number): void {
    if (this.wakeTimer !== undefined && this.wakeAt === at) return;
    this.clock.clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = this.clock.setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.refreshConfigIfStale();
        void this.kick();
      },
      Math.max(at - this.clock.now(), 0),
    );
  }

  // --- callbacks ---------------------------------------------------------------------------------------------------

  private drop(reason: DropReason, events: WireEvent[], details?: FieldProblem[]): void {
    this.counts.dropped[reason] = (this.counts.dropped[reason] ?? 0) + events.length;
    callSafely(() => this.options.onDrop?.(reason, events, details));
  }

  private notify(outcome: BatchOutcome): void {
    callSafely(() => this.options.onBatch?.(outcome));
  }

  private report(error: ClientError): void {
    callSafely(() => this.options.onError?.(error));
  }
}

type AbandonReason = 'timeout' | 'unload' | 'shutdown';

/** A request the client gave up: no answer in time, the app going away (sent again with keepalive), or shutdown. */
class Abandoned extends Error {
  constructor(readonly reason: AbandonReason) {
    super(`request abandoned (${reason})`);
  }
}

interface ParsedError {
  /** The reason before any colon: token_expired, user_id_mismatch, body_too_large… ('' when the body says none). */
  reason: string;
  message: string;
  details: FieldProblem[];
}

/** The error envelope `{"error":{"code","message","details"}}`, as far as it is there. */
function parseError(text: string): ParsedError {
  try {
    const { error } = JSON.parse(text) as { error?: { message?: unknown; details?: unknown } };
    const message = typeof error?.message === 'string' ? error.message : '';
    const details = Array.isArray(error?.details)
      ? (error.details as unknown[]).filter(
          (item): item is FieldProblem =>
            typeof (item as FieldProblem)?.field === 'string' && typeof (item as FieldProblem).message === 'string',
        )
      : [];
    return { reason: message.split(':')[0].trim(), message, details };
  } catch {
    return { reason: '', message: text.slice(0, 200), details: [] };
  }
}

/** A saved queue, with the events that have what an event needs; undefined when it is not one. */
function parseSnapshot(text: string): Snapshot | undefined {
  let snapshot: unknown;
  try {
    snapshot = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof snapshot !== 'object' || snapshot === null) return undefined;
  const { user_id, game_id, events, not_before } = snapshot as Partial<Snapshot>;
  const valid = (Array.isArray(events) ? (events as unknown[]) : []).filter(
    (event): event is WireEvent =>
      typeof event === 'object' &&
      event !== null &&
      typeof (event as WireEvent).event_id === 'string' &&
      typeof (event as WireEvent).type === 'string' &&
      typeof (event as WireEvent).timestamp === 'string',
  );
  const parsed: Snapshot = { v: 1, user_id: String(user_id), game_id: String(game_id), events: valid };
  if (typeof not_before === 'number' && Number.isFinite(not_before)) parsed.not_before = not_before;
  return parsed;
}

function parseBatchId(text: string): string | undefined {
  try {
    const { batch_id } = JSON.parse(text) as { batch_id?: unknown };
    return typeof batch_id === 'string' ? batch_id : undefined;
  } catch {
    return undefined;
  }
}

function safeStringify(value: unknown): string | undefined {
  try {
    const text = JSON.stringify(value) as string | undefined;
    return typeof text === 'string' && text.startsWith('{') ? text : undefined;
  } catch {
    return undefined;
  }
}

function callSafely(callback: () => void): void {
  try {
    callback();
  } catch {
    // A callback of the game's that throws does not stop the client.
  }
}
