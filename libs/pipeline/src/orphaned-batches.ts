import { setTimeout as sleep } from 'node:timers/promises';
import type { BufferedEvents, ReservedBatch } from './buffered-events';
import type { ShardQueue } from './shard-queues';

// A gateway reserves a batch before it adds its job, and gives up on Redis within 1.5 s (ioredis' own timeout is 2 s):
// a reservation whose job is still missing after this is not one being queued right now.
export const ORPHAN_GRACE_MS = 5000;

export interface OrphansReleased {
  batches: number;
  events: number;
}

/**
 * Releases from the buffered counters every batch reserved whose job is not in its shard's queue, seen missing twice
 * `graceMs` apart: a gateway killed, or cut from Redis, between counting a batch and queueing it (or releasing it when
 * queueing failed), a failover that kept the reservation and lost the job, or a job removed by hand. Safe to run
 * anywhere, any time, by several processes at once: a batch is released at most once, whoever releases it. `signal`
 * ends the wait between the two looks (rejecting with its reason), as at shutdown.
 */
export async function releaseOrphanedBatches(
  buffered: BufferedEvents,
  queues: readonly ShardQueue[],
  graceMs = ORPHAN_GRACE_MS,
  signal?: AbortSignal,
): Promise<OrphansReleased> {
  const queueOf = new Map(queues.map((shardQueue): [string, ShardQueue] => [shardQueue.shard.counterKey, shardQueue]));
  // Whether the job's hash holds its data: neither reading a job of tens of kilobytes nor BullMQ's getJobState, which
  // reads the whole waiting list.
  const unqueued = async (batches: ReservedBatch[]) => {
    const missing: ReservedBatch[] = [];
    for (const batch of batches) {
      const queue = queueOf.get(batch.shard.counterKey)?.queue;
      if (queue === undefined) continue;
      const client = await queue.getBackend().client;
      if ((await client.hexists(queue.toKey(batch.batchId), 'data')) === 0) missing.push(batch);
    }
    return missing;
  };
  const all: ReservedBatch[] = [];
  for await (const batch of buffered.reserved()) all.push(batch);
  let orphans = await unqueued(all);
  if (orphans.length > 0) {
    await sleep(graceMs, undefined, { signal });
    orphans = await unqueued(orphans);
  }
  const released: OrphansReleased = { batches: 0, events: 0 };
  for (const orphan of orphans) {
    if (await buffered.release(orphan.shard, orphan.batchId, orphan.events)) {
      released.batches += 1;
      released.events += orphan.events;
    }
  }
  return released;
}
