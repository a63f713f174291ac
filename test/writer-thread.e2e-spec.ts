import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { INGEST_QUEUE } from '#contract';
import { Pool } from 'pg';
import { Traffic, writtenOnce } from './support/batch-traffic';
import { Scrape } from './support/metrics-scrape';
import { ServiceProcess, startService } from './support/processes';
import { createTestDatabase, deletePrefix, eventually, REDIS_URL, TEST_SECRET } from './support/test-app';

// The all-in-one on a PostgreSQL server writes on a worker thread of its own (WRITER_THREAD). What its users see must
// not change: batches written once, counted on /metrics, finished before the process exits on SIGTERM.

/** The service's /metrics, parsed. */
async function scrape(service: ServiceProcess): Promise<Scrape> {
  return new Scrape(await (await fetch(`${service.opsUrl}/metrics`)).text());
}

describe('the all-in-one writing on a thread of its own', { timeout: 120_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: Pool;
  // Rate limits off: the traffic is one player from one address.
  const env = (): Record<string, string> => ({
    DATABASE_URL: database.url,
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    JWT_SECRET: TEST_SECRET,
    RATE_LIMIT_PER_SUB_PER_SECOND: '0',
    RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND: '0',
    RATE_LIMIT_PER_IP_PER_SECOND: '0',
  });
  const prefix = `writer-thread-${randomUUID().slice(0, 8)}`;

  before(async () => {
    database = await createTestDatabase();
    db = new Pool({ connectionString: database.url, max: 2 });
  });
  after(async () => {
    await db.end();
    const redis = new Redis(REDIS_URL);
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await database.drop();
  });

  it('writes every batch once, counts its writes on /metrics, and finishes them before exiting on SIGTERM', async () => {
    const service = await startService('all-in-one', { ...env(), LOG_LEVEL: 'log' });
    try {
      assert.match(service.logs, /the queue worker runs in a worker thread of its own/);
      assert.match(service.logs, /writing batches, 16 at a time/);
      // Said once, by the main thread, not again by the writer's.
      assert.equal(service.logs.match(/database: postgres/g)?.length, 1, service.logs);

      const first = new Traffic([service.url]);
      first.start();
      await first.more(40);
      await first.stop();
      const firstIds = first.answers.filter((answer) => answer.status === 202).map((answer) => answer.batchId!);
      assert.equal(firstIds.length, first.answers.length, 'every batch accepted');
      await writtenOnce(db, firstIds);
      // The writer thread's count reaches the main thread's /metrics, beside the process's own metrics, each once.
      const scraped = await eventually(async () => {
        const metrics = await scrape(service);
        return metrics.count('playsmart_event_rows_written_total') === firstIds.length * 3 ? metrics : undefined;
      });
      assert.equal((await scrape(service)).count('playsmart_events_accepted_total'), firstIds.length * 3);
      for (const name of [
        'playsmart_process_cpu_seconds_total',
        'playsmart_event_rows_written_total',
        'playsmart_batch_write_duration_seconds',
      ]) {
        assert.equal(scraped.text.split('\n').filter((line) => line.startsWith(`# TYPE ${name} `)).length, 1, name);
      }
      assert.match(scraped.text, /^playsmart_process_start_time_seconds \d+/m);

      // SIGTERM while batches keep coming: the thread finishes its active jobs and the process exits 0. Every batch
      // answered 202 is written once: by this process, or (still queued) by the next one.
      const second = new Traffic([service.url]);
      second.start();
      await second.more(20);
      service.kill('SIGTERM');
      assert.equal(await service.exited(), 0, service.logs);
      await second.stop();
      assert.match(service.logs, /SIGTERM: draining[\s\S]*stopped/);
      const secondIds = second.answers.filter((answer) => answer.status === 202).map((answer) => answer.batchId!);
      assert.ok(secondIds.length >= 20, `${secondIds.length} batches accepted before SIGTERM`);
      // It finished the jobs it had taken: none is left active for the next process to take up when its lock lapses.
      const queue = new Queue(INGEST_QUEUE, { connection: { url: REDIS_URL }, prefix });
      try {
        assert.equal(await queue.getActiveCount(), 0);
      } finally {
        await queue.close();
      }
      const next = await startService('all-in-one', {
        DATABASE_URL: database.url,
        REDIS_URL,
        QUEUE_PREFIX: prefix,
        JWT_SECRET: TEST_SECRET,
      });
      try {
        await writtenOnce(db, [...firstIds, ...secondIds]);
      } finally {
        await next.terminate();
      }
    } finally {
      await service.stop();
    }
  });
});
