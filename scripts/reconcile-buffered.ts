// Takes back from the buffered-events counter the batches that are counted but no longer queued:
// `npm run jobs:reconcile-buffered [-- --grace-ms N]`. That happens when a gateway could not release a batch it
// refused (logged, and counted in playsmart_buffered_release_failures_total), or when an operator removed a job by
// hand. Safe to run at any time: a batch is released at most once, whoever releases it.
import type { Redis } from 'ioredis';
import { BufferedEvents, bufferedEventsKey, PipelineMetrics, ReservedBatch } from '#pipeline';
import { createRedisConnection, describeError, loadConfigOrExit, Metrics, withDeadline } from '#platform';
import { openIngestQueue } from './queue-connection';

// A gateway reserves a batch before it adds its job, and gives up on Redis within 1.5 s (ioredis' own timeout is 2 s):
// a reservation whose job is still missing after this is not one being queued right now.
const DEFAULT_GRACE_MS = 5000;

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const graceArgument = process.argv.indexOf('--grace-ms');
  const graceMs = graceArgument === -1 ? DEFAULT_GRACE_MS : Number(process.argv[graceArgument + 1]);
  if (!Number.isInteger(graceMs) || graceMs < 0) throw new Error('--grace-ms takes a whole number of milliseconds');
  const queue = await openIngestQueue(config.queue);
  // Redis has just answered the queue: this connection is ready within moments, or the command fails.
  const redis = createRedisConnection(config.queue.redis, 'command');
  if (redis.status !== 'ready') await withDeadline(new Promise((resolve) => redis.once('ready', resolve)), 5000, 'Redis');
  // Reported by the command's own failure, if Redis goes away now.
  redis.on('error', () => undefined);
  try {
    // BufferedEvents is typed for one server; reserved() scans one node only, which a Cluster would need per node.
    const buffered = new BufferedEvents(redis as Redis, config, new PipelineMetrics(new Metrics()));
    const unqueued = async (batches: ReservedBatch[]) => {
      const missing: ReservedBatch[] = [];
      for (const batch of batches) if ((await queue.getJob(batch.batchId)) === undefined) missing.push(batch);
      return missing;
    };
    const all: ReservedBatch[] = [];
    for await (const batch of buffered.reserved()) all.push(batch);
    let orphans = await unqueued(all);
    if (orphans.length > 0) {
      await new Promise((resolve) => setTimeout(resolve, graceMs));
      orphans = await unqueued(orphans);
    }
    let events = 0;
    for (const orphan of orphans) if (await buffered.release(orphan.batchId, orphan.events)) events += orphan.events;
    let reserved = 0;
    for await (const batch of buffered.reserved()) reserved += batch.events;
    const counter = await buffered.current();
    process.stdout.write(
      `released ${orphans.length} batch(es) no longer queued (${events} events); counter ${counter}, reserved ${reserved}\n`,
    );
    if (counter !== reserved) {
      // Batches queued by a version before reservations, still waiting or removed by hand, or a manual change.
      process.stdout.write(
        `the counter differs from the reservations by ${counter - reserved}: once no job queued before this version is ` +
          `left, and while no batch is being accepted, correct it with INCRBY ${bufferedEventsKey(config.queue.prefix)} ${reserved - counter}\n`,
      );
    }
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`reconcile failed: ${describeError(error)}\n`);
  process.exit(1);
});
