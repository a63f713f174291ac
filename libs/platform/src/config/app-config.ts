import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export type Env = Readonly<Record<string, string | undefined>>;

export type JwtAlgorithm =
  'HS256' | 'HS384' | 'HS512' | 'RS256' | 'RS384' | 'RS512' | 'ES256' | 'ES384' | 'ES512' | 'PS256' | 'PS384' | 'PS512';

const HMAC_ALGORITHMS: readonly JwtAlgorithm[] = ['HS256', 'HS384', 'HS512'];
const PUBLIC_KEY_ALGORITHMS: readonly JwtAlgorithm[] = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'];

/** RFC 6838 restricted names: `type` or `type/subtype`, as the JOSE header `typ` carries them. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}(\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126})?$/;

/** The secret `npm start` uses outside production when no JWT key is configured. Never valid in production. */
export const DEVELOPMENT_JWT_SECRET = 'playsmart-development-secret-do-not-use-in-production';

export type JwtKeyConfig =
  | { kind: 'secret'; secret: string; isDevelopmentSecret: boolean }
  | { kind: 'public-key'; pem: string }
  /** The key set is fetched at most once every refreshSeconds, whatever kids the tokens name. */
  | { kind: 'jwks'; uri: string; refreshSeconds: number };

export interface JwtConfig {
  key: JwtKeyConfig;
  algorithms: JwtAlgorithm[];
  issuer?: string;
  audience?: string;
  clockToleranceSeconds: number;
  /** Tokens longer than this are refused before any parsing. */
  maxTokenBytes: number;
  /** Tokens whose `exp` lies further ahead than this (plus the clock tolerance) are refused. */
  maxLifetimeSeconds: number;
  /** When set, the JOSE header `typ` must name this media type (RFC 8725 §3.11), e.g. `at+jwt`. */
  type?: string;
  /** The claim naming the game a token is for; the body's game_id must equal it. Unset: tokens are not bound to a game. */
  gameClaim?: string;
  /** Tokens without the game claim are refused. */
  requireGameClaim: boolean;
}

export interface ValidationLimits {
  timestampMaxFutureMs: number;
  /** Undefined: no maximum age (games are played offline). */
  timestampMaxAgeMs?: number;
  /**
   * EVENTS_RETENTION_DAYS in ms: a timestamp older than this, as stored (without the device's clock correction) and by
   * the server's clock, is refused, since the retention would drop it. Undefined: events are kept forever.
   */
  retentionMs?: number;
  customdataMaxBytes: number;
  customdataMaxDepth: number;
  customdataMaxKeys: number;
  customdataMaxItems: number;
}

/** A Redis server, as REDIS_SENTINELS and REDIS_CLUSTER_NODES list them (`host:port`). */
export interface RedisNode {
  host: string;
  port: number;
}

/**
 * Which Redis the queue lives in, and how to reach it: exactly one of REDIS_URL (one server, the default),
 * REDIS_SENTINELS with REDIS_SENTINEL_MASTER (the primary Sentinel names), REDIS_CLUSTER_NODES (Redis Cluster).
 */
export type RedisTopology =
  | { kind: 'standalone'; url: string }
  | { kind: 'sentinel'; sentinels: RedisNode[]; masterName: string }
  | { kind: 'cluster'; nodes: RedisNode[] };

export interface RedisConnectionConfig {
  topology: RedisTopology;
  /** The data nodes' ACL user and password with Sentinel or Cluster (REDIS_USERNAME, REDIS_PASSWORD); in REDIS_URL otherwise. */
  username?: string;
  password?: string;
  /** The sentinels' own password, when they have one (REDIS_SENTINEL_PASSWORD). */
  sentinelPassword?: string;
  /** TLS to every node: `rediss:` in REDIS_URL, REDIS_TLS=true with Sentinel or Cluster. */
  tls: boolean;
  /** PEM of the CA that signed the Redis servers' certificates (REDIS_TLS_CA_FILE). */
  tlsCa?: string;
  /** A batch is answered 202 only once this many replicas acknowledge its job (WAIT); 0: once the primary has it. */
  waitReplicas: number;
  /** How long WAIT waits for them before the batch is answered 503. */
  waitTimeoutMs: number;
}

export interface QueueConfig {
  redis: RedisConnectionConfig;
  prefix: string;
  /** QUEUE_SHARDS: how many BullMQ queues the batches are spread over, each in one Redis Cluster hash slot. */
  shards: number;
  /** QUEUE_DRAIN_UNSHARDED: with several shards, workers and tools cover the unsharded queue too. */
  drainUnsharded: boolean;
  jobAttempts: number;
  jobBackoffMs: number;
  workerConcurrency: number;
  /**
   * WRITER_THREAD: the all-in-one runs its queue worker in a worker thread of its own, off the HTTP event loop.
   * Only on a PostgreSQL server: the embedded database runs on the main thread, so its writer stays there too.
   */
  writerThread: boolean;
  /** How long a worker holds a job; a job whose worker died is picked up again after about this long. */
  workerLockDurationMs: number;
  /** Above this many buffered events the gateway answers 503 instead of accepting more. */
  bufferMaxEvents: number;
  /** How often a worker releases batches counted as buffered whose job does not exist; 0: never. */
  bufferReconcileIntervalMs: number;
}

/** Token buckets held in Redis; a rate of 0 switches that limit off. */
export interface RateLimitConfig {
  perSubPerSecond: number;
  perSubBurst: number;
  perIpPerSecond: number;
  perIpBurst: number;
  /** Events (not requests) per player: what one player may put into the buffer everyone shares. */
  eventsPerSubPerSecond: number;
  eventsPerSubBurst: number;
  /** An IPv6 client is its network of this many bits, for the per-address limits (normalizeAddress). */
  ipv6Prefix: number;
}

/** The embedded development database: PGlite (PostgreSQL compiled to WebAssembly) keeping its files in `dir`. */
export interface EmbeddedDatabaseConfig {
  /** EMBEDDED_DB_DIR, as given (relative to the working directory). */
  dir: string;
  /** EMBEDDED_DB_PORT: where psql finds it on 127.0.0.1; 0, or the default port taken, means a free port. */
  port: number;
}

/**
 * Exactly one of `url` and `embedded`: a PostgreSQL server (DATABASE_URL, required in production), or, outside
 * production with no DATABASE_URL, the embedded database that the all-in-one service starts itself.
 */
export type DatabaseConfig = {
  migrationsRun: boolean;
  /** Pool size per process on a PostgreSQL server (the embedded database is used over one connection). */
  poolSize: number;
} & ({ url: string; embedded?: undefined } | { url?: undefined; embedded: EmbeddedDatabaseConfig });

/** Batch receipts (`GET /ingest/batches/:batch_id`) of written batches. */
export interface ReceiptConfig {
  /** A written batch's receipt is deleted this long after the write (the worker sweeps hourly). */
  retentionSeconds: number;
}

export type PartitionInterval = 'month' | 'week' | 'day';
export const PARTITION_INTERVALS: readonly PartitionInterval[] = ['month', 'week', 'day'];

/** How table `events` is partitioned by `occurred_at` (UTC), and how long its rows are kept. */
export interface EventStorageConfig {
  /** The range of one partition (EVENTS_PARTITION_INTERVAL); weeks start on Monday. */
  partitionInterval: PartitionInterval;
  /** Partitions created ahead of the current one (EVENTS_PARTITIONS_AHEAD). */
  partitionsAhead: number;
  /** Partitions entirely older than this many days are dropped (EVENTS_RETENTION_DAYS); undefined: kept forever. */
  retentionDays?: number;
}

/** The operator's credentials for Bull Board (`/admin/queues`, HTTP Basic auth). */
export interface AdminConfig {
  user: string;
  password: string;
}

/** Bounds on what one connection or one client can hold of an HTTP server, before anything is authenticated. */
export interface HttpServerConfig {
  /** The whole request, body included, must arrive within this (Node's server.requestTimeout). */
  requestTimeoutMs: number;
  /** The request line and headers must arrive within this (server.headersTimeout). */
  headersTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (server.keepAliveTimeout). */
  keepAliveTimeoutMs: number;
  /** Connections one process accepts at once; more are refused (server.maxConnections). */
  maxConnections: number;
  /** Body bytes one client address may have in flight at once, all its requests together. */
  bodyBytesInFlightPerClient: number;
}

/** The batching policy GET /ingest/client-config hands the game client library (CLIENT_*). */
export interface ClientPolicyConfig {
  /** The kill switch: false tells clients to keep their queue and send nothing until their next check. */
  enabled: boolean;
  /** A client sends its queue once it holds this many events (at most a full batch). */
  flushAt: number;
  /** …and at the latest this long after the oldest queued event. */
  flushIntervalMs: number;
}

export interface AppConfig {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  bodyLimitBytes: number;
  http: HttpServerConfig;
  swaggerEnabled: boolean;
  /** Swagger UI and the OpenAPI document on the players' port too, not only on the operations listener. */
  docsPublic: boolean;
  /** The operations listener: /metrics, Bull Board, the docs and the health checks, off the players' port. */
  ops: { port: number; host: string };
  logLevel: LogLevel;
  jwt: JwtConfig;
  limits: ValidationLimits;
  queue: QueueConfig;
  database: DatabaseConfig;
  rateLimit: RateLimitConfig;
  receipts: ReceiptConfig;
  events: EventStorageConfig;
  client: ClientPolicyConfig;
  /** Set only when ADMIN_USER and ADMIN_PASSWORD both are: without them Bull Board is not served at all. */
  admin?: AdminConfig;
  /** Fastify's trustProxy: false, a hop count, or addresses/CIDRs of the proxies to believe (never true). */
  trustProxy: false | number | string;
  /** CORS_ORIGINS: the browser origins allowed to call the players' API, `*` (any, outside production), or unset: no CORS. */
  corsOrigins?: CorsOrigins;
  /** On SIGTERM: how long in-flight requests and the active jobs get before the process exits anyway. */
  shutdownTimeoutMs: number;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'log' | 'debug' | 'verbose';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

function readWriterThread(reader: EnvReader, onServer: boolean): boolean {
  const thread = reader.bool('WRITER_THREAD', onServer);
  if (thread && !onServer) {
    reader.problems.push('WRITER_THREAD=true needs DATABASE_URL: the embedded database runs on the main thread, and so does its writer');
  }
  return thread;
}

/** Where the embedded development database keeps its files when EMBEDDED_DB_DIR is not set. */
export const DEFAULT_EMBEDDED_DB_DIR = './data/pglite';
/** Its port when EMBEDDED_DB_PORT is not set: one that stays the same from start to start, away from PostgreSQL's. */
export const DEFAULT_EMBEDDED_DB_PORT = 54329;
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export class ConfigValidationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigValidationError';
  }
}

/** Reads one environment at a time and collects every problem, so a bad start-up names all of them at once. */
class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  string(name: string): string | undefined {
    const raw = this.env[name];
    if (raw === undefined) return undefined;
    const value = raw.trim();
    return value === '' ? undefined : value;
  }

  int(name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return Number(raw);
  }

  /** A value taken as it is (a password may start or end with a space); blank is unset. */
  raw(name: string): string | undefined {
    const raw = this.env[name];
    return raw === undefined || raw.trim() === '' ? undefined : raw;
  }

  /** The contents of the file the variable names, or undefined when it is unset; a file that cannot be read is a problem. */
  file(name: string): string | undefined {
    const path = this.string(name);
    if (path === undefined) return undefined;
    try {
      return readFileSync(path, 'utf8');
    } catch {
      this.problems.push(`${name} cannot be read: ${path}`);
      return undefined;
    }
  }

  optionalInt(name: string, min: number): number | undefined {
    return this.string(name) === undefined ? undefined : this.int(name, 0, min);
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.string(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes'].includes(raw)) return true;
    if (['false', '0', 'no'].includes(raw)) return false;
    this.problems.push(`${name} must be true or false, got "${raw}"`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string, protocols: readonly string[], fallback: string | undefined): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name} must use ${protocols.join(' or ')}, got "${parsed.protocol}"`);
      }
    } catch {
      this.problems.push(`${name} is not a valid URL`);
    }
    return raw;
  }
}

/** `host:port,host:port…` ([::1]:port for IPv6), or a problem naming the variable. */
function readRedisNodes(reader: EnvReader, name: string, raw: string | undefined): RedisNode[] | undefined {
  if (raw === undefined) return undefined;
  const nodes: RedisNode[] = [];
  for (const entry of raw.split(',').map((e) => e.trim())) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]/@]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (match === null || port < 1 || port > 65535) {
      reader.problems.push(`${name} must list host:port entries separated by commas, got "${entry}"`);
      continue;
    }
    nodes.push({ host: match[1].replace(/^\[|\]$/g, ''), port });
  }
  return nodes.length === 0 ? undefined : nodes;
}

/**
 * REDIS_URL, REDIS_SENTINELS (with REDIS_SENTINEL_MASTER) or REDIS_CLUSTER_NODES: at most one; none is REDIS_URL's
 * default. Credentials and TLS are in REDIS_URL for one server, in REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS for
 * the others (every node of a deployment shares them).
 */
function readRedisConfig(reader: EnvReader): RedisConnectionConfig {
  const url = reader.url('REDIS_URL', ['redis:', 'rediss:'], undefined);
  const sentinels = readRedisNodes(reader, 'REDIS_SENTINELS', reader.string('REDIS_SENTINELS'));
  const masterName = reader.string('REDIS_SENTINEL_MASTER');
  const clusterNodes = readRedisNodes(reader, 'REDIS_CLUSTER_NODES', reader.string('REDIS_CLUSTER_NODES'));
  const set = (
    [
      ['REDIS_URL', url],
      ['REDIS_SENTINELS', sentinels],
      ['REDIS_CLUSTER_NODES', clusterNodes],
    ] as const
  ).filter(([, value]) => value !== undefined);
  if (set.length > 1) {
    reader.problems.push(
      `REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES are exclusive (one Redis server, Sentinel, Cluster): set at most one, got ${set.map(([name]) => name).join(' and ')}`,
    );
  }
  if (sentinels !== undefined && masterName === undefined)
    reader.problems.push('REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the name of the primary the sentinels monitor');
  if (sentinels === undefined && masterName !== undefined) reader.problems.push('REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS');

  const username = reader.string('REDIS_USERNAME');
  const password = reader.raw('REDIS_PASSWORD');
  const sentinelPassword = reader.raw('REDIS_SENTINEL_PASSWORD');
  const tlsSet = reader.string('REDIS_TLS') !== undefined;
  const tls = reader.bool('REDIS_TLS', false);
  const single = sentinels === undefined && clusterNodes === undefined;
  if (single && (username !== undefined || password !== undefined || tlsSet)) {
    reader.problems.push(
      'REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS apply to REDIS_SENTINELS or REDIS_CLUSTER_NODES; for one server put them in REDIS_URL (redis://user:password@host:port, rediss: for TLS)',
    );
  }
  if (username !== undefined && password === undefined) reader.problems.push('REDIS_USERNAME needs REDIS_PASSWORD');
  if (sentinelPassword !== undefined && sentinels === undefined)
    reader.problems.push('REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS');

  const waitReplicas = reader.int('REDIS_WAIT_REPLICAS', 0, 0, 100);
  // Below the producer's 1.5 s deadline for Redis, so that a missing replica is a 503, not a request that hangs.
  const waitTimeoutMs = reader.int('REDIS_WAIT_TIMEOUT_MS', 500, 1, 1000);

  const topology: RedisTopology =
    sentinels !== undefined && masterName !== undefined
      ? { kind: 'sentinel', sentinels, masterName }
      : clusterNodes !== undefined
        ? { kind: 'cluster', nodes: clusterNodes }
        : { kind: 'standalone', url: url ?? DEFAULT_REDIS_URL };
  return {
    topology,
    ...(single ? {} : { username, password, sentinelPassword }),
    tls: topology.kind === 'standalone' ? /^rediss:/i.test(topology.url) : tls,
    tlsCa: reader.file('REDIS_TLS_CA_FILE'),
    waitReplicas,
    waitTimeoutMs,
  };
}

function readJwtConfig(reader: EnvReader, nodeEnv: AppConfig['env'] | undefined): JwtConfig {
  const isProduction = nodeEnv === 'production';
  const secret = reader.string('JWT_SECRET');
  let publicKey = reader.string('JWT_PUBLIC_KEY');
  const publicKeyFile = reader.string('JWT_PUBLIC_KEY_FILE');
  const jwksUri = reader.url('JWT_JWKS_URI', ['https:', 'http:'], undefined);
  if (isProduction && jwksUri !== undefined && /^http:/i.test(jwksUri)) {
    reader.problems.push('JWT_JWKS_URI must use https: when NODE_ENV=production (whoever serves the key set decides which tokens pass)');
  }

  if (publicKeyFile !== undefined) {
    try {
      publicKey = readFileSync(publicKeyFile, 'utf8');
    } catch {
      reader.problems.push(`JWT_PUBLIC_KEY_FILE cannot be read: ${publicKeyFile}`);
    }
  }
  // Multi-line PEMs are often passed through env files with literal "\n".
  publicKey = publicKey?.replace(/\\n/g, '\n');

  const configuredKeys = [secret, publicKey, jwksUri].filter((k) => k !== undefined).length;
  if (configuredKeys > 1) {
    reader.problems.push('JWT_SECRET, JWT_PUBLIC_KEY (or JWT_PUBLIC_KEY_FILE) and JWT_JWKS_URI are exclusive: set exactly one');
  }

  let key: JwtKeyConfig;
  if (jwksUri !== undefined) {
    key = { kind: 'jwks', uri: jwksUri, refreshSeconds: reader.int('JWT_JWKS_REFRESH_SECONDS', 60, 1, 3600) };
  } else if (publicKey !== undefined) {
    if (!publicKey.includes('-----BEGIN')) reader.problems.push('JWT_PUBLIC_KEY must be a PEM-encoded public key');
    key = { kind: 'public-key', pem: publicKey };
  } else if (secret !== undefined) {
    if (isProduction && secret === DEVELOPMENT_JWT_SECRET)
      reader.problems.push('JWT_SECRET must not be the published development secret when NODE_ENV=production');
    if (Buffer.byteLength(secret) < 32) reader.problems.push('JWT_SECRET must be at least 32 bytes long');
    key = { kind: 'secret', secret, isDevelopmentSecret: false };
  } else {
    // The development secret is published: only an environment that says it is not production may use it (npm start
    // sets NODE_ENV=development), so that a process started with no NODE_ENV at all fails closed.
    if (nodeEnv === undefined || nodeEnv === 'production') {
      reader.problems.push('JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URI is required unless NODE_ENV is development or test');
    }
    key = { kind: 'secret', secret: DEVELOPMENT_JWT_SECRET, isDevelopmentSecret: true };
  }

  const allowedForKey = key.kind === 'secret' ? HMAC_ALGORITHMS : PUBLIC_KEY_ALGORITHMS;
  const defaultAlgorithms: JwtAlgorithm[] = key.kind === 'secret' ? ['HS256'] : ['RS256', 'ES256'];
  const rawAlgorithms = reader.string('JWT_ALGORITHMS');
  let algorithms = defaultAlgorithms;
  if (rawAlgorithms !== undefined) {
    const listed = rawAlgorithms
      .split(',')
      .map((a) => a.trim())
      .filter((a) => a !== '');
    const wrong = listed.filter((a) => !(allowedForKey as readonly string[]).includes(a));
    if (listed.length === 0 || wrong.length > 0) {
      reader.problems.push(
        `JWT_ALGORITHMS must list only ${allowedForKey.join(', ')} for a ${key.kind === 'secret' ? 'JWT_SECRET' : 'public key'}, got "${rawAlgorithms}"`,
      );
    } else {
      algorithms = listed as JwtAlgorithm[];
    }
  }

  const audience = reader.string('JWT_AUDIENCE');
  // RFC 8725 §3.9: a provider shared with other apps issues tokens for them too, signed with the same keys.
  if (isProduction && key.kind !== 'secret' && audience === undefined) {
    reader.problems.push(
      'JWT_AUDIENCE is required when NODE_ENV=production with JWT_PUBLIC_KEY, JWT_PUBLIC_KEY_FILE or JWT_JWKS_URI: without it, tokens the identity provider issues for other apps are accepted',
    );
  }

  const type = reader.string('JWT_TYPE');
  if (type !== undefined && !MEDIA_TYPE.test(type)) {
    reader.problems.push(`JWT_TYPE must be a media type such as at+jwt or application/at+jwt, got "${type}"`);
  }

  const gameClaim = reader.string('JWT_GAME_CLAIM');
  if (gameClaim !== undefined && (/\s/.test(gameClaim) || gameClaim.length > 256)) {
    reader.problems.push(`JWT_GAME_CLAIM must be a claim name without spaces, at most 256 characters, got "${gameClaim}"`);
  }
  const requireGameClaim = reader.bool('JWT_REQUIRE_GAME_CLAIM', false);
  if (requireGameClaim && gameClaim === undefined) {
    reader.problems.push('JWT_REQUIRE_GAME_CLAIM=true needs JWT_GAME_CLAIM, the name of the claim to require');
  }

  return {
    key,
    algorithms,
    issuer: reader.string('JWT_ISSUER'),
    audience,
    clockToleranceSeconds: reader.int('JWT_CLOCK_TOLERANCE_SECONDS', 30, 0, 3600),
    maxTokenBytes: 8192,
    maxLifetimeSeconds: reader.int('JWT_MAX_LIFETIME_SECONDS', 7 * 86400, 1, 366 * 86400),
    type,
    gameClaim,
    requireGameClaim,
  };
}

/**
 * Which proxies to believe about the client address. Trusting every X-Forwarded-For would let any client pick the
 * address its per-IP rate limit is counted under (the left-most entry, which the client writes), so only a hop count
 * or the proxies' own addresses are accepted, and the default believes none.
 */
function readTrustProxy(reader: EnvReader): false | number | string {
  const raw = reader.string('TRUST_PROXY');
  if (raw === undefined || raw === 'false') return false;
  if (/^\d+$/.test(raw)) return Number(raw);
  const entries = raw.split(',').map((entry) => entry.trim());
  if (raw !== 'true' && entries.every(isAddressOrCidr)) return entries.join(',');
  reader.problems.push(
    `TRUST_PROXY must be false, a hop count, or the comma-separated addresses/CIDRs of your proxies, got "${raw}" ` +
      '(true would believe the address any client writes into X-Forwarded-For)',
  );
  return false;
}

function isAddressOrCidr(entry: string): boolean {
  const [address, prefix, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  return prefix === undefined || (/^\d+$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128));
}

function readHttpServerConfig(reader: EnvReader): HttpServerConfig {
  const requestTimeoutMs = reader.int('HTTP_REQUEST_TIMEOUT_MS', 30_000, 1000, 600_000);
  const headersTimeoutMs = reader.int('HTTP_HEADERS_TIMEOUT_MS', Math.min(10_000, requestTimeoutMs), 1000, 600_000);
  // Node refuses a server whose headers may take longer than the whole request.
  if (headersTimeoutMs > requestTimeoutMs) reader.problems.push('HTTP_HEADERS_TIMEOUT_MS must not exceed HTTP_REQUEST_TIMEOUT_MS');
  return {
    requestTimeoutMs,
    headersTimeoutMs,
    // Longer than the 60 s idle timeout of common load balancers, so that they, not we, close idle connections.
    keepAliveTimeoutMs: reader.int('HTTP_KEEP_ALIVE_TIMEOUT_MS', 72_000, 1000, 600_000),
    maxConnections: reader.int('HTTP_MAX_CONNECTIONS', 10_000, 1, 1_000_000),
    bodyBytesInFlightPerClient: reader.int('BODY_BYTES_IN_FLIGHT_PER_CLIENT', 8 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
  };
}

/** The client batching policy (GET /ingest/client-config). Nothing on the server depends on it. */
function readClientPolicyConfig(reader: EnvReader): ClientPolicyConfig {
  return {
    enabled: reader.bool('CLIENT_ENABLED', true),
    // At most a full batch: 200 events (MAX_EVENTS_PER_BATCH in libs/ingest, which platform cannot import).
    flushAt: reader.int('CLIENT_FLUSH_AT', 50, 1, 200),
    flushIntervalMs: reader.int('CLIENT_FLUSH_INTERVAL_MS', 10_000, 1000, 3_600_000),
  };
}

/** Exact `scheme://host[:port]` origins, as browsers send them in `Origin`; or `*`, any origin (never in production). */
export type CorsOrigins = '*' | readonly string[];

/**
 * CORS_ORIGINS: a comma-separated list of origins, each compared as a string with the request's `Origin`, so each must
 * be written as a browser serializes it (lower-case, no default port, no path or trailing slash).
 */
/**
 * Where the queue's keys go. On a Redis Cluster every key of a queue must share one hash slot, so a queue's BullMQ
 * prefix needs a hash tag (`{…}`): the shards have one each (QUEUE_SHARDS ≥ 2), and the unsharded queue only when
 * QUEUE_PREFIX has one. A QUEUE_PREFIX with braces would break the shards' own tags (Redis hashes the first `{…}`).
 */
function readQueueLayout(reader: EnvReader): Pick<QueueConfig, 'redis' | 'prefix' | 'shards' | 'drainUnsharded'> {
  const redis = readRedisConfig(reader);
  const prefix = reader.string('QUEUE_PREFIX') ?? 'playsmart';
  const shards = reader.int('QUEUE_SHARDS', 1, 1, 64);
  const cluster = redis.topology.kind === 'cluster';
  const tagged = /\{[^}]+\}/.test(prefix);
  if (shards > 1 && /[{}]/.test(prefix))
    reader.problems.push(`QUEUE_PREFIX must not contain { or } with QUEUE_SHARDS > 1 (each shard gets its own hash tag), got "${prefix}"`);
  if (cluster && shards === 1 && !tagged)
    reader.problems.push(
      "REDIS_CLUSTER_NODES needs QUEUE_SHARDS of 2 or more (or a QUEUE_PREFIX with a hash tag, {…}): a queue's keys must share one slot",
    );
  // The unsharded queue's keys span slots on a Cluster unless the prefix is tagged: not drained there by default.
  const drainUnsharded = reader.bool('QUEUE_DRAIN_UNSHARDED', !cluster || tagged);
  if (cluster && shards > 1 && drainUnsharded && !tagged)
    reader.problems.push("QUEUE_DRAIN_UNSHARDED=true cannot work with REDIS_CLUSTER_NODES: the unsharded queue's keys span slots");
  return { redis, prefix, shards, drainUnsharded };
}

function readCorsOrigins(reader: EnvReader, isProduction: boolean): CorsOrigins | undefined {
  const raw = reader.string('CORS_ORIGINS');
  if (raw === undefined) return undefined;
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) reader.problems.push(`CORS_ORIGINS lists no origin, got "${raw}" (unset it to switch CORS off)`);
  if (entries.includes('*')) {
    if (entries.length > 1) reader.problems.push(`CORS_ORIGINS must be either * or a list of origins, got "${raw}"`);
    if (isProduction) reader.problems.push('CORS_ORIGINS must not be * when NODE_ENV=production: list the origins of your web clients');
    return '*';
  }
  for (const entry of entries) {
    let origin: string | undefined;
    try {
      const url = new URL(entry);
      origin = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : undefined;
    } catch {
      origin = undefined;
    }
    if (origin !== entry) {
      reader.problems.push(
        `CORS_ORIGINS must list origins as scheme://host[:port] (http or https, no path or trailing slash)` +
          (origin === undefined ? `, got "${entry}"` : `: "${entry}" is written "${origin}"`),
      );
    }
  }
  return entries;
}

/** Both or neither: Bull Board is served only with credentials, and in production only with a real password. */
function readAdminConfig(reader: EnvReader, isProduction: boolean): AdminConfig | undefined {
  const user = reader.string('ADMIN_USER');
  const password = reader.raw('ADMIN_PASSWORD');
  if (user === undefined && password === undefined) return undefined;
  if (user === undefined || password === undefined) {
    reader.problems.push('ADMIN_USER and ADMIN_PASSWORD must be set together (or neither, to not serve /admin/queues)');
    return undefined;
  }
  // RFC 7617: the user-id of HTTP Basic auth cannot contain a colon.
  if (user.includes(':')) reader.problems.push('ADMIN_USER must not contain ":"');
  if (isProduction && [...password].length < 12) {
    reader.problems.push('ADMIN_PASSWORD must be at least 12 characters long when NODE_ENV=production');
  }
  return { user, password };
}

/**
 * Validates and types the environment. Every problem is collected and reported by variable name;
 * nothing else in the code base reads process.env.
 */
export function loadConfig(env: Env): AppConfig {
  const reader = new EnvReader(env);
  const nodeEnv = reader.oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const isProduction = nodeEnv === 'production';

  const databaseUrl = reader.url('DATABASE_URL', ['postgres:', 'postgresql:'], undefined);
  if (isProduction && databaseUrl === undefined) reader.problems.push('DATABASE_URL is required when NODE_ENV=production');
  const writerThread = readWriterThread(reader, databaseUrl !== undefined);

  const events: EventStorageConfig = {
    partitionInterval: reader.oneOf('EVENTS_PARTITION_INTERVAL', PARTITION_INTERVALS, 'month'),
    partitionsAhead: reader.int('EVENTS_PARTITIONS_AHEAD', 3, 1, 120),
    retentionDays: reader.string('EVENTS_RETENTION_DAYS') === undefined ? undefined : reader.int('EVENTS_RETENTION_DAYS', 0, 1, 100 * 366),
  };
  const maxAgeSeconds = reader.optionalInt('TIMESTAMP_MAX_AGE_SECONDS', 1);

  const config: AppConfig = {
    env: nodeEnv,
    port: reader.int('PORT', 3000, 0, 65535),
    host: reader.string('HOST') ?? '0.0.0.0',
    bodyLimitBytes: reader.int('BODY_LIMIT', 1024 * 1024, 1024, 64 * 1024 * 1024),
    http: readHttpServerConfig(reader),
    swaggerEnabled: reader.bool('SWAGGER_ENABLED', !isProduction),
    docsPublic: reader.bool('DOCS_PUBLIC', !isProduction),
    ops: { port: reader.int('OPS_PORT', 9464, 0, 65535), host: reader.string('OPS_HOST') ?? '127.0.0.1' },
    logLevel: reader.oneOf('LOG_LEVEL', LOG_LEVELS, 'log'),
    jwt: readJwtConfig(reader, reader.string('NODE_ENV') === undefined ? undefined : nodeEnv),
    limits: {
      timestampMaxFutureMs: reader.int('TIMESTAMP_MAX_FUTURE_SECONDS', 86400, 0) * 1000,
      timestampMaxAgeMs: maxAgeSeconds === undefined ? undefined : maxAgeSeconds * 1000,
      retentionMs: events.retentionDays === undefined ? undefined : events.retentionDays * 86_400_000,
      customdataMaxBytes: reader.int('CUSTOMDATA_MAX_BYTES', 8192, 2, 1024 * 1024),
      customdataMaxDepth: reader.int('CUSTOMDATA_MAX_DEPTH', 5, 1, 32),
      customdataMaxKeys: reader.int('CUSTOMDATA_MAX_KEYS', 100, 1, 10000),
      customdataMaxItems: reader.int('CUSTOMDATA_MAX_ITEMS', 100, 1, 10000),
    },
    queue: {
      ...readQueueLayout(reader),
      // 1 s doubling over 12 attempts waits 34 minutes in all (retryWindowMs): a long database outage does not exhaust a job.
      jobAttempts: reader.int('JOB_ATTEMPTS', 12, 1, 100),
      jobBackoffMs: reader.int('JOB_BACKOFF_MS', 1000, 1),
      // Unset in the all-in-one: 16 beside HTTP in a thread of its own, 4 on the shared event loop (bench/levers.md); a
      // worker process on its own sets 64 (WORKER_PROCESS_DEFAULTS).
      workerConcurrency: reader.int('WORKER_CONCURRENCY', writerThread ? 16 : 4, 1, 256),
      writerThread,
      workerLockDurationMs: reader.int('WORKER_LOCK_DURATION_MS', 30_000, 1000, 3_600_000),
      bufferMaxEvents: reader.int('BUFFER_MAX_EVENTS', 1_000_000, 1),
      bufferReconcileIntervalMs: reader.int('BUFFER_RECONCILE_INTERVAL_SECONDS', 60, 0, 86_400) * 1000,
    },
    rateLimit: {
      perSubPerSecond: reader.int('RATE_LIMIT_PER_SUB_PER_SECOND', 20, 0, 1_000_000),
      perSubBurst: reader.int('RATE_LIMIT_PER_SUB_BURST', 40, 1, 1_000_000),
      // Many players can share one address (carrier-grade NAT), so the per-IP limit is far looser.
      perIpPerSecond: reader.int('RATE_LIMIT_PER_IP_PER_SECOND', 200, 0, 1_000_000),
      perIpBurst: reader.int('RATE_LIMIT_PER_IP_BURST', 400, 1, 1_000_000),
      eventsPerSubPerSecond: reader.int('RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND', 100, 0, 1_000_000),
      // At least a full batch (200 events), or such a batch could never pass.
      eventsPerSubBurst: reader.int('RATE_LIMIT_EVENTS_PER_SUB_BURST', 2000, 200, 10_000_000),
      ipv6Prefix: reader.int('RATE_LIMIT_IPV6_PREFIX', 56, 32, 128),
    },
    receipts: {
      retentionSeconds: reader.int('RECEIPT_RETENTION_SECONDS', 7 * 86400, 1, 10 * 365 * 86400),
    },
    events,
    client: readClientPolicyConfig(reader),
    admin: readAdminConfig(reader, isProduction),
    trustProxy: readTrustProxy(reader),
    corsOrigins: readCorsOrigins(reader, isProduction),
    shutdownTimeoutMs: reader.int('SHUTDOWN_TIMEOUT_MS', 10_000, 0, 600_000),
    database: {
      ...(databaseUrl === undefined
        ? {
            embedded: {
              dir: reader.string('EMBEDDED_DB_DIR') ?? DEFAULT_EMBEDDED_DB_DIR,
              port: reader.int('EMBEDDED_DB_PORT', DEFAULT_EMBEDDED_DB_PORT, 0, 65535),
            },
          }
        : { url: databaseUrl }),
      migrationsRun: reader.bool('DB_MIGRATIONS_RUN', true),
      poolSize: reader.int('DB_POOL_SIZE', 10, 1, 1000),
    },
  };

  if (config.http.bodyBytesInFlightPerClient < config.bodyLimitBytes) {
    reader.problems.push('BODY_BYTES_IN_FLIGHT_PER_CLIENT must be at least BODY_LIMIT');
  }
  if (reader.problems.length > 0) throw new ConfigValidationError(reader.problems);
  return config;
}
