// Test doubles for the client's interfaces: a clock whose time moves only when told, and a server behind a fake fetch
// that records every request. Used by the *.spec.ts files; not part of the package (tsconfig.*.json leave it out).
import { gunzipSync } from 'node:zlib';
import { createIngestClient, type IngestClient, type IngestClientOptions } from '../client.js';
import type { ClientConfig } from '../config.js';
import { MemoryStorage } from '../memory-storage.js';
import type { Clock, FetchLike, RequestLike, ResponseLike, WireEvent } from '../types.js';

/** mulberry32: a small seeded generator standing for Math.random, so that a seed replays the same run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lets every pending promise callback run (each round drains the microtask queue). */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  private readonly timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;

  constructor(public time = Date.UTC(2026, 3, 22, 14, 30)) {}

  now(): number {
    return this.time;
  }

  setTimeout(callback: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.time + Math.max(0, ms), callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** Timers waiting to fire. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time on by `ms`, firing the timers due on the way in their order, and letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      let next: [number, { at: number; callback: () => void }] | undefined;
      for (const timer of this.timers) if (timer[1].at <= end && (next === undefined || timer[1].at < next[1].at)) next = timer;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.time = next[1].at;
      next[1].callback();
    }
    this.time = end;
    await settle();
  }
}

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: { user_id: string; game_id: string; events: WireEvent[]; sent_at?: string } | undefined;
  /** The bytes sent (gzipped where they were). */
  bodyBytes: number;
  keepalive: boolean;
  at: number;
}

/** A server behind a fake fetch: `events` answers POST /ingest/events (202 by default), `config` GET /ingest/client-config. */
export class FakeServer {
  readonly requests: Recorded[] = [];
  inFlight = 0;
  maxInFlight = 0;
  events: (request: Recorded) => Reply | Promise<Reply> = (request) => accepted(request);
  config: (request: Recorded) => Reply | Promise<Reply> = () => ({
    status: 404,
    body: { error: { code: 'NOT_FOUND', message: 'not_found' } },
  });

  constructor(private readonly clock: FakeClock) {}

  get posts(): Recorded[] {
    return this.requests.filter((request) => request.method === 'POST');
  }

  /** The event_ids of every POST, one array a request. */
  get sentIds(): string[][] {
    return this.posts.map((request) => request.body?.events.map((event) => event.event_id) ?? []);
  }

  readonly fetch: FetchLike = async (url: string, init: RequestLike): Promise<ResponseLike> => {
    const request: Recorded = {
      method: init.method,
      url,
      headers: init.headers,
      body: init.body === undefined ? undefined : (JSON.parse(decode(init.body)) as Recorded['body']),
      bodyBytes: init.body === undefined ? 0 : typeof init.body === 'string' ? Buffer.byteLength(init.body) : init.body.byteLength,
      keepalive: init.keepalive === true,
      at: this.clock.now(),
    };
    this.requests.push(request);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const reply = await (url.endsWith('/ingest/client-config') ? this.config(request) : this.events(request));
      const headers = new Map(Object.entries(reply.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
      const text = reply.body === undefined ? '' : JSON.stringify(reply.body);
      return {
        status: reply.status,
        headers: { get: (name) => headers.get(name.toLowerCase()) ?? null },
        text: () => Promise.resolve(text),
      };
    } finally {
      this.inFlight -= 1;
    }
  };
}

/** A body as the server reads it: gzip undone. */
function decode(body: string | Uint8Array): string {
  return typeof body === 'string' ? body : gunzipSync(body).toString('utf8');
}

export function accepted(request: Recorded): Reply {
  const n = request.body?.events.length ?? 0;
  return { status: 202, body: { success: true, message: `accepted:${n} buffered:${n}`, batch_id: `batch-${n}` } };
}

export function failure(
  status: number,
  code: string,
  message: string,
  details?: { field: string; message: string }[],
  headers?: Record<string, string>,
): Reply {
  return { status, body: { error: { code, message, ...(details ? { details } : {}) } }, headers };
}

/** A storage that keeps what it is given and lets a test look at it. */
export class InspectableStorage extends MemoryStorage {
  saves = 0;
  /** Set by a test to hand the client several snapshots, as BrowserStorage may. */
  loadAll?: () => Promise<string[]>;

  override async save(snapshot: string): Promise<void> {
    this.saves += 1;
    await super.save(snapshot);
  }

  async ids(): Promise<string[]> {
    const text = await this.load();
    return text === null ? [] : (JSON.parse(text) as { events: WireEvent[] }).events.map((event) => event.event_id);
  }
}

export interface Harness {
  clock: FakeClock;
  server: FakeServer;
  storage: InspectableStorage;
  client: IngestClient;
  drops: { reason: string; ids: string[]; details?: unknown }[];
  errors: { kind: string; code?: string; status?: number }[];
  tokens: number;
}

/** A client on a fake clock, a fake server and an inspectable storage; the client-config is off unless the options say. */
export function harness(
  options: Partial<IngestClientOptions> = {},
  parts: { clock?: FakeClock; server?: FakeServer; storage?: InspectableStorage } = {},
): Harness {
  const clock = parts.clock ?? new FakeClock();
  const server = parts.server ?? new FakeServer(clock);
  const storage = parts.storage ?? new InspectableStorage();
  const h = { clock, server, storage, drops: [], errors: [], tokens: 0 } as unknown as Harness;
  h.client = createIngestClient({
    endpoint: 'https://ingest.example.com/',
    gameId: 'com.example.stackblaster',
    userId: 'device-abc-123',
    getToken: () => Promise.resolve(`token-${++h.tokens}`),
    storage,
    clock,
    fetch: server.fetch,
    random: () => 0.5,
    clientConfig: false,
    // CompressionStream works on the platform's own tasks, which a fake clock does not wait for; it has its own tests.
    compression: false,
    onDrop: (reason, events, details) => h.drops.push({ reason, ids: events.map((event) => event.event_id), details }),
    onError: (error) => h.errors.push({ kind: error.kind, code: error.code, status: error.status }),
    ...options,
  });
  return h;
}

/** The answer of GET /ingest/client-config as the server gives it by default (test/client-contract.spec.ts holds it to the
 * server's OpenAPI document). */
export function defaultClientConfig(overrides: Partial<ClientConfig> = {}): ClientConfig {
  return {
    enabled: true,
    flush_at: 50,
    flush_interval_ms: 10_000,
    max_batch_events: 200,
    max_batch_bytes: 1_046_528,
    event_types: [
      ...['SessionStarted', 'SessionEnded', 'LevelStarted', 'LevelCompleted', 'LevelFailed', 'AdImpression', 'AdClicked', 'Purchase'].map(
        (name) => ({
          name,
          requires_custom_event_name: false,
        }),
      ),
      { name: 'Custom', requires_custom_event_name: true },
    ],
    custom_event_name: { pattern: '^\\p{L}[\\p{L}\\p{Nd}_.-]{0,63}$', min_length: 1, max_length: 64 },
    customdata_limits: {
      max_bytes: 8192,
      max_depth: 5,
      max_keys: 100,
      max_array_items: 100,
      forbidden_keys: ['__proto__', 'constructor', 'prototype'],
    },
    timestamp: { max_future_seconds: 86_400, max_age_seconds: null },
    ...overrides,
  };
}
