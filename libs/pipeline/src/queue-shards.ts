import { INGEST_QUEUE } from '#contract';
import { CLUSTER_SLOTS, keySlot, type QueueConfig } from '#platform';

/** Redis key (under a shard's prefix) counting the shard's events accepted but not yet written. */
export const BUFFERED_EVENTS_KEY = 'buffered-events';

/**
 * One BullMQ queue of the ingest queue's shards, and the buffered-events counter beside it. With QUEUE_SHARDS=1 the
 * single shard is the unsharded queue of the versions before shards: `<QUEUE_PREFIX>:ingest-events:…`, unchanged.
 * With more, shard i's keys are `{<tag>}:ingest-events:…`, all in the slot of the hash tag, which is how BullMQ runs on
 * a Redis Cluster (https://docs.bullmq.io/patterns/redis-cluster).
 */
export interface QueueShard {
  /** 0 … QUEUE_SHARDS-1; -1 for the unsharded queue a sharded deployment still drains. */
  index: number;
  /** The BullMQ prefix of the shard's queue (its name is INGEST_QUEUE). */
  prefix: string;
  /** Its name in logs, Bull Board and metrics: `ingest-events` unsharded, `shard-<i>` else. */
  label: string;
  /** The shard's buffered-events counter; its reservations and markers are `<counter>:reserved:<batch>`, … */
  counterKey: string;
  /** The cluster slot of every key of the shard. Undefined for the unsharded queue, whose keys are in many. */
  slot?: number;
}

/** The unsharded queue: today's key names, and the only queue with QUEUE_SHARDS=1. */
export function unshardedQueue(prefix: string): QueueShard {
  return { index: -1, prefix, label: INGEST_QUEUE, counterKey: bufferedEventsKey(prefix) };
}

/** The counter of the queue under `prefix` (a shard's BullMQ prefix). */
export function bufferedEventsKey(prefix: string): string {
  return `${prefix}:${INGEST_QUEUE}:${BUFFERED_EVENTS_KEY}`;
}

/**
 * The hash tag of shard `index` of `count`: `<prefix>:ingest:<index>`, with `.<n>` appended for the first n that puts
 * its slot in the index-th of `count` equal slot ranges. A cluster whose masters hold contiguous equal ranges (what
 * `redis-cli --cluster create` makes) then gets the shards evenly, whatever QUEUE_SHARDS is (an even spread with
 * QUEUE_SHARDS a multiple of the number of masters).
 */
export function shardTag(prefix: string, index: number, count: number): string {
  // Where a range's edge falls inside a slot, that slot is left out: redis-cli rounds the edges, others may floor them.
  const low = Math.ceil((index * CLUSTER_SLOTS) / count);
  const high = Math.floor(((index + 1) * CLUSTER_SLOTS) / count);
  for (let n = 0; ; n++) {
    const tag = n === 0 ? `${prefix}:ingest:${index}` : `${prefix}:ingest:${index}.${n}`;
    const slot = keySlot(`{${tag}}`);
    if (slot >= low && slot < high) return tag;
  }
}

/** The shards the gateway spreads batches over. */
export function queueShards(config: Pick<QueueConfig, 'prefix' | 'shards'>): QueueShard[] {
  if (config.shards === 1) return [{ ...unshardedQueue(config.prefix), index: 0 }];
  return Array.from({ length: config.shards }, (_, index) => {
    const prefix = `{${shardTag(config.prefix, index, config.shards)}}`;
    return { index, prefix, label: `shard-${index}`, counterKey: bufferedEventsKey(prefix), slot: keySlot(prefix) };
  });
}

/**
 * The queues the workers consume and the operators' tools and gauges cover: the shards and, when there are several,
 * the unsharded queue too (unless QUEUE_DRAIN_UNSHARDED=false), so that jobs queued before QUEUE_SHARDS was raised, or
 * by a gateway of the version before shards during a rolling upgrade, are written and counted. On a Redis Cluster the
 * unsharded queue's keys span slots (BullMQ's scripts would fail there): it is switched off.
 */
export function drainedShards(config: Pick<QueueConfig, 'prefix' | 'shards'> & { drainUnsharded?: boolean }): QueueShard[] {
  const shards = queueShards(config);
  return config.shards === 1 || config.drainUnsharded === false ? shards : [...shards, unshardedQueue(config.prefix)];
}
