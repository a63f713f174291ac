import { Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig, InjectConfig, InjectRedis, valueWithin } from '#platform';
import { PipelineMetrics } from './pipeline-metrics';
import { drainedShards, QueueShard } from './queue-shards';

/** The other shards' counters in a `buffered:M` are at most this old. */
export const OTHER_SHARDS_MAX_AGE_MS = 1000;
/** A shard's counter that does not answer within this keeps its last value in the others' sum. */
const OTHER_SHARDS_TIMEOUT_MS = 250;

// KEYS: counter, the batch's reservation. ARGV: events, limit. Refuses when the batch would take the counter past the
// limit; else counts the batch once, under a reservation key that only its release deletes. Returns {accepted, buffered}.
const RESERVE = `
local buffered = tonumber(redis.call('GET', KEYS[1]) or '0')
local count = tonumber(ARGV[1])
if buffered + count > tonumber(ARGV[2]) then return {0, buffered} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX') then buffered = redis.call('INCRBY', KEYS[1], count) end
return {1, buffered}`;

// KEYS: counter, the batch's reservation, the marker of a batch counted before reservations existed. ARGV: events,
// '1' when the job predates reservations. Decrements once per batch however often it is called: a reservation is
// deleted by the release that uses it. Returns 1 when it decremented, 0 when the batch was released already or never
// counted.
const RELEASE = `
if redis.call('DEL', KEYS[2]) == 1 then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return 1
end
if ARGV[2] == '1' and redis.call('SET', KEYS[3], '1', 'NX', 'EX', 604800) then
  redis.call('DECRBY', KEYS[1], ARGV[1])
  return 1
end
return 0`;

const RESERVE_COMMAND = 'playsmartReserveBuffered';
const RELEASE_COMMAND = 'playsmartReleaseBuffered';

interface BufferedEventsRedis {
  [RESERVE_COMMAND](counter: string, reservation: string, count: number, limit: number): Promise<[number, number]>;
  [RELEASE_COMMAND](counter: string, reservation: string, legacyMarker: string, count: number, legacy: '0' | '1'): Promise<number>;
}

/** A batch counted in the buffered counter and not released yet. */
export interface ReservedBatch {
  shard: QueueShard;
  batchId: string;
  events: number;
}

export interface Reservation {
  accepted: boolean;
  /** Events buffered service-wide after this reservation (before it, when refused). */
  buffered: number;
}

/**
 * The buffered-events counters: events accepted service-wide and not yet written (the M of "accepted:N buffered:M"),
 * bounded by BUFFER_MAX_EVENTS. Each queue shard has its own counter in its own hash tag, so that every script touches
 * one cluster slot; the service-wide figure is the reserving shard's exact count plus the other shards' counts as
 * read at most OTHER_SHARDS_MAX_AGE_MS ago (so the bound is approximate by what the other shards took in that time).
 *
 * The gateway reserves a batch's events before queueing it, so the worker's release can never run first; whoever
 * releases first (the worker once the batch is written, or the gateway when queueing it failed or may have failed)
 * decrements, and every later release of the same batch is a no-op. Both operations are therefore safe to repeat and
 * to send while unsure whether an earlier one was applied.
 */
@Injectable()
export class BufferedEvents {
  private readonly redis: Redis & BufferedEventsRedis;
  readonly shards: readonly QueueShard[];
  /** Last known count per counter key, and when the read that gave them started. */
  private readonly known = new Map<string, number>();
  private knownAt = Number.NEGATIVE_INFINITY;
  private reading?: Promise<void>;

  constructor(
    @InjectRedis() redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: PipelineMetrics,
  ) {
    redis.defineCommand(RESERVE_COMMAND, { numberOfKeys: 2, lua: RESERVE });
    redis.defineCommand(RELEASE_COMMAND, { numberOfKeys: 3, lua: RELEASE });
    this.redis = redis as Redis & BufferedEventsRedis;
    this.shards = drainedShards(config.queue);
  }

  /**
   * Counts a batch's events in `shard`'s counter, unless that would take the service-wide buffer past BUFFER_MAX_EVENTS.
   * `buffered`: the shard's exact count plus the others' recent counts.
   */
  async reserve(shard: QueueShard, batchId: string, count: number): Promise<Reservation> {
    const others = await this.others(shard);
    const [accepted, buffered] = await this.redis[RESERVE_COMMAND](
      shard.counterKey,
      reservationKey(shard, batchId),
      count,
      this.config.queue.bufferMaxEvents - others,
    );
    this.known.set(shard.counterKey, Math.max(0, buffered));
    return { accepted: accepted === 1, buffered: Math.max(0, buffered) + others };
  }

  /**
   * Uncounts a batch once, however often it is called. `legacy`: a job queued before reservations existed, counted
   * by a plain INCRBY. A failure is counted in `buffered_release_failures_total` and rethrown.
   */
  async release(shard: QueueShard, batchId: string, count: number, legacy = false): Promise<boolean> {
    try {
      const released = await this.redis[RELEASE_COMMAND](
        shard.counterKey,
        reservationKey(shard, batchId),
        `${shard.counterKey}:released:${batchId}`,
        count,
        legacy ? '1' : '0',
      );
      return released === 1;
    } catch (error) {
      this.metrics.bufferedReleaseFailures.inc();
      throw error;
    }
  }

  /** Every counter as it stands, summed: never below zero in what it reports (nor any shard's), like `buffered:M`. */
  async current(): Promise<number> {
    const counts = await Promise.all(this.shards.map((shard) => this.redis.get(shard.counterKey)));
    return counts.reduce((sum: number, count) => sum + Math.max(0, Number(count ?? 0) || 0), 0);
  }

  /** Every batch reserved and not released, read with SCAN (for reconciliation, never on the request path). */
  async *reserved(): AsyncGenerator<ReservedBatch> {
    // SCAN walks one node's keys: on a Redis Cluster (ioredis' Cluster has `nodes`) every master is scanned.
    const cluster = this.redis as unknown as { nodes?: (role: 'master') => Redis[] };
    const scanned = typeof cluster.nodes === 'function' ? cluster.nodes('master') : [this.redis];
    for (const shard of this.shards) {
      const prefix = reservationKey(shard, '');
      for (const node of scanned) {
        let cursor = '0';
        do {
          const [next, keys] = await node.scan(cursor, 'MATCH', `${escapeGlob(prefix)}*`, 'COUNT', 1000);
          cursor = next;
          // One GET per key, through the client that routes it: no multi-key command.
          const counts = await Promise.all(keys.map((key) => this.redis.get(key)));
          for (const [index, key] of keys.entries()) {
            // Released between the SCAN and the GET.
            if (counts[index] !== null) yield { shard, batchId: key.slice(prefix.length), events: Number(counts[index]) };
          }
        } while (cursor !== '0');
      }
    }
  }

  /** The other shards' counts, read again when the last read is older than OTHER_SHARDS_MAX_AGE_MS. */
  private async others(shard: QueueShard): Promise<number> {
    if (this.shards.length === 1) return 0;
    if (Date.now() - this.knownAt >= OTHER_SHARDS_MAX_AGE_MS) {
      this.reading ??= this.readAll().finally(() => {
        this.reading = undefined;
      });
      await this.reading;
    }
    let sum = 0;
    for (const { counterKey } of this.shards) if (counterKey !== shard.counterKey) sum += this.known.get(counterKey) ?? 0;
    return sum;
  }

  private async readAll(): Promise<void> {
    const startedAt = Date.now();
    const counts = await Promise.all(
      this.shards.map((shard) => valueWithin(this.redis.get(shard.counterKey), OTHER_SHARDS_TIMEOUT_MS, 'Redis')),
    );
    // A shard that did not answer keeps its last count (its node is failing: it is not taking batches either).
    for (const [index, count] of counts.entries()) {
      if (count !== undefined) this.known.set(this.shards[index].counterKey, Math.max(0, Number(count ?? 0) || 0));
    }
    this.knownAt = startedAt;
  }
}

function reservationKey(shard: QueueShard, batchId: string): string {
  return `${shard.counterKey}:reserved:${batchId}`;
}

/** `text` as a SCAN pattern matching itself: the shards' hash tags hold no glob characters, but a prefix could. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
