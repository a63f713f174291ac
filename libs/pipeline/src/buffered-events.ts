import { Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig, InjectConfig, InjectRedis } from '#platform';
import { bufferedEventsKey } from './ingest-queue';
import { PipelineMetrics } from './pipeline-metrics';

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
  batchId: string;
  events: number;
}

export interface Reservation {
  accepted: boolean;
  /** Events buffered service-wide after this reservation (before it, when refused). */
  buffered: number;
}

/**
 * The buffered-events counter: events accepted service-wide and not yet written (the M of "accepted:N buffered:M"),
 * bounded by BUFFER_MAX_EVENTS. The gateway reserves a batch's events before queueing it, so the worker's release can
 * never run first; whoever releases first (the worker once the batch is written, or the gateway when queueing it
 * failed or may have failed) decrements, and every later release of the same batch is a no-op. Both operations are
 * therefore safe to repeat and to send while unsure whether an earlier one was applied.
 */
@Injectable()
export class BufferedEvents {
  private readonly redis: Redis & BufferedEventsRedis;
  private readonly counter: string;

  constructor(
    @InjectRedis() redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
    private readonly metrics: PipelineMetrics,
  ) {
    redis.defineCommand(RESERVE_COMMAND, { numberOfKeys: 2, lua: RESERVE });
    redis.defineCommand(RELEASE_COMMAND, { numberOfKeys: 3, lua: RELEASE });
    this.redis = redis as Redis & BufferedEventsRedis;
    this.counter = bufferedEventsKey(config.queue.prefix);
  }

  /** Counts a batch's events, unless that would take the buffer past BUFFER_MAX_EVENTS. */
  async reserve(batchId: string, count: number): Promise<Reservation> {
    const [accepted, buffered] = await this.redis[RESERVE_COMMAND](
      this.counter,
      this.reservationKey(batchId),
      count,
      this.config.queue.bufferMaxEvents,
    );
    return { accepted: accepted === 1, buffered };
  }

  /**
   * Uncounts a batch once, however often it is called. `legacy`: a job queued before reservations existed, counted
   * by a plain INCRBY. A failure is counted in `buffered_release_failures_total` and rethrown.
   */
  async release(batchId: string, count: number, legacy = false): Promise<boolean> {
    try {
      const released = await this.redis[RELEASE_COMMAND](
        this.counter,
        this.reservationKey(batchId),
        `${this.counter}:released:${batchId}`,
        count,
        legacy ? '1' : '0',
      );
      return released === 1;
    } catch (error) {
      this.metrics.bufferedReleaseFailures.inc();
      throw error;
    }
  }

  /** The counter as it stands: never below zero in what it reports, like the 202's `buffered:M`. */
  async current(): Promise<number> {
    return Math.max(0, Number((await this.redis.get(this.counter)) ?? 0) || 0);
  }

  /** Every batch reserved and not released, read with SCAN (for reconciliation, never on the request path). */
  async *reserved(): AsyncGenerator<ReservedBatch> {
    const prefix = this.reservationKey('');
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length === 0) continue;
      const counts = await this.redis.mget(...keys);
      for (const [index, key] of keys.entries()) {
        const events = Number(counts[index]);
        // Released between the SCAN and the MGET.
        if (counts[index] !== null) yield { batchId: key.slice(prefix.length), events };
      }
    } while (cursor !== '0');
  }

  private reservationKey(batchId: string): string {
    return `${this.counter}:reserved:${batchId}`;
  }
}
