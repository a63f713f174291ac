import { isMainThread } from 'node:worker_threads';
import { Logger, OnModuleInit } from '@nestjs/common';
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import { Gauge } from 'prom-client';
import { Metrics, METRICS_PREFIX } from '../metrics/metrics';
import { withDeadline } from '../time/deadline';
import type { RedisConnection } from './redis-connection';

/** The settings of the Redis in use that decide what it can lose; a field is absent when Redis would not say. */
export interface RedisDurability {
  /** `yes` or `no`. */
  appendonly?: string;
  /** `noeviction`, `allkeys-lru`… */
  maxmemory_policy?: string;
}

type SettingsReader = Pick<Redis, 'config' | 'info'>;

/**
 * What the Redis that holds the queue can lose: the node read by readNodeDurability, or with a Cluster every primary
 * (each holds some of the queues), the worst of them: `no` when one has appendonly no, the first eviction policy other
 * than noeviction. With Sentinel the connection is to the current primary, read again after each failover.
 */
export async function readRedisDurability(redis: SettingsReader | Cluster): Promise<RedisDurability> {
  if (!(redis instanceof Cluster)) return readNodeDurability(redis);
  const all = await Promise.all(redis.nodes('master').map((node) => readNodeDurability(node)));
  const appendonly = all.map((settings) => settings.appendonly);
  const policies = all.map((settings) => settings.maxmemory_policy).filter((policy) => policy !== undefined);
  const worst = appendonly.includes('no') ? 'no' : appendonly.includes(undefined) ? undefined : appendonly[0];
  const policy = policies.find((p) => p !== 'noeviction') ?? policies[0];
  return { ...(worst === undefined ? {} : { appendonly: worst }), ...(policy === undefined ? {} : { maxmemory_policy: policy }) };
}

/**
 * Reads appendonly and maxmemory-policy with CONFIG GET, or from INFO where CONFIG is disabled or not allowed (managed
 * services rename or refuse it; INFO persistence and memory carry the same two settings).
 */
async function readNodeDurability(redis: SettingsReader): Promise<RedisDurability> {
  try {
    const [, appendonly] = (await redis.config('GET', 'appendonly')) as string[];
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    return { appendonly, maxmemory_policy: policy };
  } catch {
    const info = `${await redis.info('persistence')}\n${await redis.info('memory')}`;
    const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim();
    const aof = field('aof_enabled');
    return {
      ...(aof === undefined ? {} : { appendonly: aof === '1' ? 'yes' : 'no' }),
      ...(field('maxmemory_policy') === undefined ? {} : { maxmemory_policy: field('maxmemory_policy') }),
    };
  }
}

/** What these settings can lose, one sentence each; none when they lose nothing the service answered 202. */
export function durabilityRisks(settings: RedisDurability): string[] {
  const risks: string[] = [];
  if (settings.appendonly === 'no') risks.push('appendonly no: a Redis restart loses every batch answered 202 and not yet written');
  if (settings.maxmemory_policy !== undefined && settings.maxmemory_policy !== 'noeviction')
    risks.push(`maxmemory-policy ${settings.maxmemory_policy}: a full Redis may silently evict queued batches (BullMQ needs noeviction)`);
  return risks;
}

const READ_TIMEOUT_MS = 2000;

/**
 * Says what the Redis in use can lose: read at each (re)connection and each node a Cluster adds, since a failover
 * may bring other settings; one
 * warning line when the risks change, `playsmart_redis_settings` and `playsmart_redis_loss_risks` for dashboards, and
 * the readiness answer's `redis` detail. The service keeps running either way: development and CI use such a Redis.
 * Provided by RedisClientModule, for its client.
 */
export class RedisDurabilityReport implements OnModuleInit {
  private readonly logger = new Logger('Redis');
  private settings: RedisDurability | undefined;
  private logged = '';
  private reading: Promise<void> | undefined;
  private readonly settingsGauge: Gauge<'appendonly' | 'maxmemory_policy'>;
  private readonly risksGauge: Gauge;

  constructor(
    private readonly redis: RedisConnection,
    metrics: Metrics,
  ) {
    this.settingsGauge = new Gauge({
      name: `${METRICS_PREFIX}redis_settings`,
      help: "The Redis settings that decide what it can lose (1 for the settings in use; 'unknown' where Redis would not say).",
      labelNames: ['appendonly', 'maxmemory_policy'] as const,
      registers: [metrics.registry],
    });
    this.risksGauge = new Gauge({
      name: `${METRICS_PREFIX}redis_loss_risks`,
      help: 'How many of its settings let the Redis in use lose batches answered 202 (appendonly no, an eviction policy other than noeviction).',
      registers: [metrics.registry],
    });
  }

  onModuleInit(): void {
    // A worker thread (the all-in-one's writer) uses the main thread's Redis, which the main thread reports on.
    if (!isMainThread) return;
    this.redis.on('ready', () => void this.read());
    // A Cluster stays ready through a failover: the promoted replica joins its pool as a new node, with its own settings.
    this.redis.on('+node', () => void this.read());
    if (this.redis.status === 'ready') void this.read();
  }

  /** The settings last read, with their risks; undefined before Redis has answered. */
  current(): (RedisDurability & { risks: string[] }) | undefined {
    return this.settings === undefined ? undefined : { ...this.settings, risks: durabilityRisks(this.settings) };
  }

  /** Reads the settings now (one read at a time); never rejects: a Redis that does not answer is read at its next connection. */
  read(): Promise<void> {
    this.reading ??= withDeadline(readRedisDurability(this.redis), READ_TIMEOUT_MS, 'redis settings')
      .then((settings) => this.record(settings))
      .catch((error: unknown) => this.logger.debug(`could not read the Redis settings: ${String(error)}`))
      .finally(() => {
        this.reading = undefined;
      });
    return this.reading;
  }

  private record(settings: RedisDurability): void {
    this.settings = settings;
    this.settingsGauge.reset();
    this.settingsGauge.set({ appendonly: settings.appendonly ?? 'unknown', maxmemory_policy: settings.maxmemory_policy ?? 'unknown' }, 1);
    const risks = durabilityRisks(settings);
    this.risksGauge.set(risks.length);
    const said = risks.join('; ');
    if (said !== this.logged && risks.length > 0)
      this.logger.warn(`the Redis in use can lose accepted batches: ${said} (see docs/guarantees.md)`);
    this.logged = said;
  }
}
