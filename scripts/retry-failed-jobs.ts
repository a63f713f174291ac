// Moves every failed ingest job back to its queue, in every shard: `npm run jobs:retry-failed`. Run it once the cause
// of the failures (usually the database) is fixed; the writes are idempotent, so retrying a batch twice is harmless.
import { describeError, loadConfigOrExit } from '#platform';
import { openIngestQueues } from './queue-connection';

async function main(): Promise<void> {
  const { queues, close } = await openIngestQueues(loadConfigOrExit().queue);
  try {
    let failed = 0;
    for (const { shard, queue } of queues) {
      const count = await queue.getFailedCount();
      await queue.retryJobs({ state: 'failed', count: 1000 });
      if (queues.length > 1) process.stdout.write(`${shard.label}: ${count} failed job(s)\n`);
      failed += count;
    }
    process.stdout.write(`${failed} failed job(s) moved back to the queue\n`);
  } finally {
    await close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`retry failed: ${describeError(error)}\n`);
  process.exit(1);
});
