// Takes back from the buffered-events counter the batches that are counted but no longer queued:
// `npm run jobs:reconcile-buffered [-- --grace-ms N]`. That happens when a gateway could not release a batch it
// refused (logged, and counted in playsmart_buffered_release_failures_total), or when an operator removed a job by
// hand. Safe to run at any time: a batch is released at most once, whoever releases it.
import type { Redis } from 'ioredis';
import { BufferedEvents, ORPHAN_GRACE_MS, PipelineMetrics, releaseOrphanedBatches } from '#pipeline';
import { createRedisConnection, describeError, loadConfigOrExit, Metrics, withDeadline } from '#platform';
import { openIngestQueues } from './queue-connection';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const graceArgument = process.argv.indexOf('--grace-ms');
  const graceMs = graceArgument === -1 ? ORPHAN_GRACE_MS : Number(process.argv[graceArgument + 1]);
  if (!Number.isInteger(graceMs) || graceMs < 0) throw new Error('--grace-ms takes a whole number of milliseconds');
  const { queues, close } = await openIngestQueues(config.queue);
  // Redis has just answered the queue: this connection is ready within moments, or the command fails.
  const redis = createRedisConnection(config.queue.redis, 'command');
  if (redis.status !== 'ready') await withDeadline(new Promise((resolve) => redis.once('ready', resolve)), 5000, 'Redis');
  // Reported by the command's own failure, if Redis goes away now.
  redis.on('error', () => undefined);
  try {
    // BufferedEvents is typed for one server; on a Cluster its reserved() scans every master.
    const buffered = new BufferedEvents(redis as Redis, config, new PipelineMetrics(new Metrics()));
    const released = await releaseOrphanedBatches(buffered, queues, graceMs);
    const reservedBy = new Map<string, number>();
    for await (const batch of buffered.reserved()) {
      reservedBy.set(batch.shard.counterKey, (reservedBy.get(batch.shard.counterKey) ?? 0) + batch.events);
    }
    let counterTotal = 0;
    let reservedTotal = 0;
    const corrections: string[] = [];
    for (const shard of buffered.shards) {
      const counter = Number((await redis.get(shard.counterKey)) ?? 0) || 0;
      const reserved = reservedBy.get(shard.counterKey) ?? 0;
      counterTotal += counter;
      reservedTotal += reserved;
      if (counter !== reserved) corrections.push(`INCRBY ${shard.counterKey} ${reserved - counter}`);
    }
    process.stdout.write(
      `released ${released.batches} batch(es) no longer queued (${released.events} events); counter ${counterTotal}, reserved ${reservedTotal}\n`,
    );
    if (corrections.length > 0) {
      // Batches queued by a version before reservations, still waiting or removed by hand, or a manual change.
      process.stdout.write(
        `the counter differs from the reservations by ${counterTotal - reservedTotal}: once no job queued before this version is ` +
          `left, and while no batch is being accepted, correct it with ${corrections.join('; ')}\n`,
      );
    }
  } finally {
    await close();
    redis.disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`reconcile failed: ${describeError(error)}\n`);
  process.exit(1);
});
