// Moves every failed ingest job back to the queue: `npm run jobs:retry-failed`. Run it once the cause of the
// failures (usually the database) is fixed; the writes are idempotent, so retrying a batch twice is harmless.
import { describeError, loadConfigOrExit } from '#platform';
import { openIngestQueue } from './queue-connection';

async function main(): Promise<void> {
  const queue = await openIngestQueue(loadConfigOrExit().queue);
  try {
    const failed = await queue.getFailedCount();
    await queue.retryJobs({ state: 'failed', count: 1000 });
    process.stdout.write(`${failed} failed job(s) moved back to the queue\n`);
  } finally {
    await queue.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`retry failed: ${describeError(error)}\n`);
  process.exit(1);
});
