import { createServer, IncomingMessage, request as httpRequest, Server, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { seededRandom } from '../../packages/client/src/testing/fakes';
import { freePort } from '../../support/local-services';

/**
 * What the proxy does to one request. `pass` forwards it; `throttled` forwards it and adds RateLimit-Remaining: 0;
 * `slow` forwards it late (after the client may have given up: then it arrives at the server all the same);
 * `unavailable` (503), `rate_limited` (429) and `server_error` (500) answer without forwarding; `reset` resets the
 * connection before forwarding, `lost_answer` after the server has answered; `blackhole` never answers (and forwards
 * half the time); `invalid` answers 400 naming events of the request the service has not had (and refuses them from
 * then on, as the service would); `token_expired` answers 401 token_expired. An unreachable service is a 502.
 */
export type Fault =
  | 'pass'
  | 'throttled'
  | 'slow'
  | 'unavailable'
  | 'rate_limited'
  | 'server_error'
  | 'reset'
  | 'lost_answer'
  | 'blackhole'
  | 'invalid'
  | 'token_expired';

export type FaultWeights = Partial<Record<Fault, number>>;

/** The time the proxy records and waits in: the client's clock, so that Retry-After is measured as the client sees it. */
export interface ProxyClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
}

export interface ProxiedRequest {
  seq: number;
  /** The x-test-client header: which client sent it. */
  client: string;
  /** The x-test-request header: the client's name for this request. */
  requestId: string;
  method: string;
  path: string;
  fault: Fault;
  /** The request reached the service (its events may be stored whatever the client saw). */
  forwarded: boolean;
  arrivedAt: number;
  /** When the proxy answered it, reset it, or saw the client give it up. */
  endedAt?: number;
  /** The status the client was sent; 0 when it got none (reset, blackhole, given up). */
  status?: number;
  /** The client closed the connection before an answer. */
  abandoned: boolean;
  /** No request of events before this instant, as the answer's Retry-After or RateLimit-Reset says. */
  notBefore?: number;
  /** The part of notBefore RateLimit-Remaining: 0 and RateLimit-Reset make (which applies whatever the request). */
  rateLimitedUntil?: number;
  /** The event_ids of a POST /ingest/events. */
  eventIds: string[];
  /** Its body came gzipped. */
  gzipped: boolean;
  /** The event_ids a 400 named. */
  invalidIds: string[];
}

type Table = { faults: [Fault, number][]; total: number };

function table(weights: FaultWeights): Table {
  const faults = Object.entries(weights) as [Fault, number][];
  return { faults, total: faults.reduce((sum, [, weight]) => sum + weight, 0) };
}

interface Upstream {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * An HTTP proxy in front of the service that draws a fault for each request from a seeded schedule while `faulty`
 * is true, and records every request (in the client's time) for the test to check the client's manners against.
 */
export class HttpFaultProxy {
  readonly records: ProxiedRequest[] = [];
  /** Off: every request passes. */
  faulty = true;
  private readonly random: () => number;
  /** For POST /ingest/events, and for the rest (GET /ingest/client-config). */
  private readonly tables: { post: Table; other: Table };
  private server?: Server;
  /** Events that reached the service, and events a 400 named. */
  private readonly forwardedIds = new Set<string>();
  private readonly refused = new Set<string>();

  private constructor(
    readonly port: number,
    private target: URL,
    private readonly clock: ProxyClock,
    seed: number,
    weights: { post: FaultWeights; other: FaultWeights },
    /** The longest a `slow` answer is held (client time). */
    private readonly maxDelayMs: number,
  ) {
    this.random = seededRandom(seed);
    this.tables = { post: table(weights.post), other: table(weights.other) };
  }

  static async start(
    target: string,
    options: { clock: ProxyClock; seed: number; weights: { post: FaultWeights; other: FaultWeights }; maxDelayMs: number },
  ): Promise<HttpFaultProxy> {
    const proxy = new HttpFaultProxy(await freePort(), new URL(target), options.clock, options.seed, options.weights, options.maxDelayMs);
    const server = createServer((req, res) => void proxy.handle(req, res));
    proxy.server = server;
    await new Promise<void>((resolve) => server.listen(proxy.port, '127.0.0.1', resolve));
    return proxy;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Forwards to another address from now on (a service restarted on another port). */
  retarget(target: string): void {
    this.target = new URL(target);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** How many requests got each fault. */
  tally(): Partial<Record<Fault, number>> {
    const counts: Partial<Record<Fault, number>> = {};
    for (const record of this.records) counts[record.fault] = (counts[record.fault] ?? 0) + 1;
    return counts;
  }

  /** `invalid` passes a request without events. */
  private draw(method: string): Fault {
    if (!this.faulty) return 'pass';
    const { faults, total } = method === 'POST' ? this.tables.post : this.tables.other;
    let point = this.random() * total;
    let fault: Fault = 'pass';
    for (const [candidate, weight] of faults) {
      fault = candidate;
      point -= weight;
      if (point < 0) break;
    }
    return fault;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: ProxiedRequest = {
      seq: this.records.length,
      client: String(req.headers['x-test-client'] ?? ''),
      requestId: String(req.headers['x-test-request'] ?? ''),
      method: req.method ?? '',
      path: (req.url ?? '').split('?')[0],
      fault: this.draw(req.method ?? ''),
      forwarded: false,
      arrivedAt: this.clock.now(),
      abandoned: false,
      eventIds: [],
      gzipped: req.headers['content-encoding'] === 'gzip',
      invalidIds: [],
    };
    // Every parameter of the fault drawn now, in the order requests arrive, so that a seed replays the same schedule.
    const [r1, r2, r3] = [this.random(), this.random(), this.random()];
    const seconds = (max: number) => 1 + Math.floor(r1 * max);
    this.records.push(record);
    res.on('close', () => {
      if (record.endedAt !== undefined) return;
      record.endedAt = this.clock.now();
      record.status = 0;
      record.abandoned = true;
    });
    const body = await readBody(req).catch(() => undefined);
    if (body === undefined) return;
    if (record.method === 'POST') record.eventIds = eventIdsOf(body, req.headers['content-encoding']);
    const answer = (status: number, headers: Record<string, string | string[] | undefined>, payload: Buffer | string) => {
      if (record.endedAt !== undefined || res.destroyed) return;
      record.endedAt = this.clock.now();
      record.status = status;
      const retryAfter = headers['retry-after'];
      if (typeof retryAfter === 'string' && /^\d+$/.test(retryAfter)) record.notBefore = record.endedAt + Number(retryAfter) * 1000;
      if (headers['ratelimit-remaining'] === '0' && typeof headers['ratelimit-reset'] === 'string') {
        record.rateLimitedUntil = record.endedAt + Number(headers['ratelimit-reset']) * 1000;
        record.notBefore = Math.max(record.notBefore ?? 0, record.rateLimitedUntil);
      }
      res.writeHead(status, headers);
      res.end(payload);
    };
    const error = (status: number, code: string, message: string, headers: Record<string, string> = {}, details?: unknown[]) =>
      answer(
        status,
        { 'content-type': 'application/json; charset=utf-8', ...headers },
        JSON.stringify({ error: { code, message, ...(details === undefined ? {} : { details }) } }),
      );
    const reset = () => {
      if (record.endedAt !== undefined) return;
      record.endedAt = this.clock.now();
      record.status = 0;
      req.socket.resetAndDestroy();
    };
    const forward = async (): Promise<Upstream> => {
      // A server refuses an event it refused before: a late or repeated request with it is refused again.
      const refused = record.eventIds.flatMap((id, index) => (this.refused.has(id) ? [index] : []));
      if (refused.length > 0) return invalid(refused);
      record.forwarded = true;
      for (const id of record.eventIds) this.forwardedIds.add(id);
      return this.forward(req, body);
    };
    const invalid = (indexes: number[]): Upstream => {
      const details = indexes.map((index) => ({ field: `events[${index}].type`, message: 'refused by the fault proxy' }));
      for (const index of indexes) this.refused.add(record.eventIds[index]);
      record.invalidIds = indexes.map((index) => record.eventIds[index]);
      const body = JSON.stringify({ error: { code: 'BAD_REQUEST', message: 'invalid_payload', details } });
      return { status: 400, headers: { 'content-type': 'application/json; charset=utf-8' }, body: Buffer.from(body) };
    };
    const relay = (upstream: Upstream, extra: Record<string, string> = {}) => {
      const headers = { ...upstream.headers, ...extra };
      delete headers['transfer-encoding'];
      delete headers.connection;
      delete headers['keep-alive'];
      answer(upstream.status, headers, upstream.body);
    };

    try {
      switch (record.fault) {
        case 'pass':
          return relay(await forward());
        case 'throttled':
          return relay(await forward(), { 'ratelimit-remaining': '0', 'ratelimit-reset': String(seconds(3)) });
        case 'slow':
          await this.sleep(r1 * this.maxDelayMs);
          return relay(await forward());
        case 'unavailable':
          return error(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable', { 'retry-after': String(seconds(5)) });
        case 'rate_limited': {
          if (r2 < 0.4) return error(429, 'TOO_MANY_REQUESTS', 'rate_limited', { 'retry-after': String(seconds(4)) });
          if (r2 < 0.8) {
            const reset = String(seconds(4));
            return error(429, 'TOO_MANY_REQUESTS', 'rate_limited', { 'ratelimit-remaining': '0', 'ratelimit-reset': reset });
          }
          return error(429, 'TOO_MANY_REQUESTS', 'rate_limited');
        }
        case 'server_error':
          return error(500, 'INTERNAL_SERVER_ERROR', 'internal_error');
        case 'reset':
          return reset();
        case 'lost_answer':
          await forward();
          return reset();
        case 'blackhole':
          if (r1 < 0.5) await forward();
          return;
        case 'invalid': {
          // Only events the service has not seen: it would have refused them the first time.
          const fresh = record.eventIds.flatMap((id, index) => (this.forwardedIds.has(id) ? [] : [index]));
          if (fresh.length === 0) return relay(await forward());
          return relay(
            invalid([...new Set([fresh[Math.floor(r2 * fresh.length)], fresh[Math.floor(r3 * fresh.length)]])].sort((a, b) => a - b)),
          );
        }
        case 'token_expired':
          return error(401, 'UNAUTHORIZED', 'token_expired');
      }
    } catch {
      // The service could not be reached: as a gateway would.
      error(502, 'BAD_GATEWAY', 'upstream unreachable');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.clock.setTimeout(resolve, ms));
  }

  private forward(req: IncomingMessage, body: Buffer): Promise<Upstream> {
    const target = this.target;
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: target.host };
      delete headers['x-test-client'];
      delete headers['x-test-request'];
      const upstream = httpRequest({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (response) => {
        readBody(response).then(
          (payload) => resolve({ status: response.statusCode ?? 502, headers: response.headers, body: payload }),
          reject,
        );
      });
      upstream.on('error', reject);
      upstream.end(body);
    });
  }
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
    stream.on('aborted', () => reject(new Error('aborted')));
  });
}

function eventIdsOf(body: Buffer, encoding: string | undefined): string[] {
  try {
    const json = encoding === 'gzip' ? gunzipSync(body) : body;
    const { events } = JSON.parse(json.toString('utf8')) as { events?: { event_id?: string }[] };
    return (events ?? []).map((event) => String(event.event_id));
  } catch {
    return [];
  }
}
