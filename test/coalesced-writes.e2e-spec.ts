import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { encodeBatchJob, EventStore, INGEST_BATCH_JOB, INGEST_QUEUE, IngestBatch, IngestBatchJobData } from '#contract';
import { queueShards } from '#pipeline';
import { bootTestApp, eventually, TestApp } from './support/test-app';

// The worker writes the batches of several jobs, from every shard, in one statement (BatchCoalescer), against the real
// PostgreSQL: each job still completes with its own rows and receipt, and only a batch PostgreSQL refuses fails.

const SHARDS = 3;

/** A job of `events` events as the gateway queues it; `eventId` gives every event that id (a bad one to be refused). */
function jobOf(events: number, eventId?: string): IngestBatchJobData {
  const user = `coalesce-${randomUUID()}`;
  const body = {
    user_id: user,
    game_id: 'com.playsmart.coalesce',
    events: Array.from({ length: events }, (_, i) => ({
      type: 'LevelStarted',
      timestamp: new Date(Date.UTC(2026, 3, 22, 14, 0, i)).toISOString(),
      ...(eventId === undefined ? {} : { event_id: eventId }),
      customdata: { level: i },
    })),
  };
  const batchId = randomUUID();
  return encodeBatchJob({
    batch_id: batchId,
    user_id: user,
    accepted: events,
    received_at: new Date().toISOString(),
    body: JSON.stringify(body),
  });
}

/**
 * Holds the worker's statements until `open()`: the jobs queued meanwhile all wait in the coalescer, so that they go
 * out in groups whatever the machine's speed. `statements` lists each statement's batch ids.
 */
function holdWrites(t: TestApp) {
  const store = t.app.get(EventStore, { strict: false });
  const write = store.insertBatches.bind(store);
  const statements: string[][] = [];
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  store.insertBatches = async (batches: readonly IngestBatch[]) => {
    statements.push(batches.map((batch) => batch.batch_id));
    await opened;
    return write(batches);
  };
  return { statements, open, release: () => Reflect.deleteProperty(store, 'insertBatches') };
}

describe('coalesced writes', { timeout: 60_000 }, () => {
  let t: TestApp;
  let queues: Queue[];

  before(async () => {
    // The writer on the main thread, where holdWrites reaches its store.
    t = await bootTestApp({ env: { QUEUE_SHARDS: String(SHARDS), WORKER_CONCURRENCY: '64', WRITER_THREAD: 'false' } });
    queues = queueShards(t.config.queue).map((shard) => new Queue(INGEST_QUEUE, { connection: t.redis, prefix: shard.prefix }));
  });
  after(async () => {
    await Promise.all(queues.map((queue) => queue.close()));
    await t.close();
  });

  /** Queues the jobs round-robin over the shards, once each attempt, and resolves to where each one went. */
  async function enqueue(jobs: ReadonlyArray<{ data: IngestBatchJobData; id?: string }>): Promise<Array<{ queue: Queue; id: string }>> {
    return Promise.all(
      jobs.map(async ({ data, id = data.batch_id }, i) => {
        const queue = queues[i % queues.length];
        await queue.add(INGEST_BATCH_JOB, data, { jobId: id, attempts: 1 });
        return { queue, id };
      }),
    );
  }

  /** Lets the statements go once every job is active in the worker (and has had a moment to reach the coalescer). */
  async function openWhenActive(hold: ReturnType<typeof holdWrites>, count: number): Promise<void> {
    await eventually(async () => {
      const active = await Promise.all(queues.map((queue) => queue.getActiveCount()));
      return active.reduce((sum, n) => sum + n, 0) === count ? true : undefined;
    }, 15_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    hold.open();
  }

  async function outcome({ queue, id }: { queue: Queue; id: string }): Promise<{ state: string; value?: number; reason?: string }> {
    return eventually(async () => {
      const state = await queue.getJobState(id);
      if (state !== 'completed' && state !== 'failed') return undefined;
      // Read once it is finished: a job read before (still active) has no return value yet.
      const job = await queue.getJob(id);
      return state === 'completed' ? { state, value: job?.returnvalue as number } : { state, reason: job?.failedReason };
    }, 15_000);
  }

  async function stored(batchId: string): Promise<{ events: number; receipt?: { accepted: number }; sameCommit: boolean }> {
    const { rows } = await t.db.query<{ events: number; accepted: number | null; same: boolean | null }>(
      `SELECT (SELECT count(*)::int FROM events WHERE batch_id = $1) AS events, b.accepted,
              (SELECT bool_and(e.written_at = b.written_at) FROM events e WHERE e.batch_id = $1) AS same
       FROM (SELECT 1) x LEFT JOIN batches b ON b.batch_id = $1`,
      [batchId],
    );
    return {
      events: rows[0].events,
      receipt: rows[0].accepted === null ? undefined : { accepted: rows[0].accepted },
      sameCommit: rows[0].same !== false,
    };
  }

  it('batches queued at once, on every shard, are written in shared statements, once each, with their receipts', async (ctx) => {
    const hold = holdWrites(t);
    try {
      const jobs = Array.from({ length: 30 }, (_, i) => jobOf(20 + i));
      const placed = await enqueue(jobs.map((data) => ({ data })));
      await openWhenActive(hold, jobs.length);
      const outcomes = await Promise.all(placed.map(outcome));
      assert.deepEqual(
        outcomes,
        jobs.map((job) => ({ state: 'completed', value: job.accepted })),
      );
      for (const job of jobs)
        assert.deepEqual(await stored(job.batch_id), { events: job.accepted, receipt: { accepted: job.accepted }, sameCommit: true });
      assert.deepEqual(hold.statements.flat().sort(), jobs.map((job) => job.batch_id).sort(), 'each batch in one statement, none again');
      const shared = hold.statements.find(
        (ids) => new Set(ids.map((id) => placed[jobs.findIndex((job) => job.batch_id === id)].queue)).size > 1,
      );
      const sizes = hold.statements.map((ids) => ids.length).join(', ');
      assert.ok(shared !== undefined, `a statement holds batches of several shards: ${sizes}`);
      ctx.diagnostic(`batches per statement: ${sizes}`);
    } finally {
      hold.release();
    }
  });

  it('a batch PostgreSQL refuses fails alone, on its one attempt; the batches of its group are written', async () => {
    const hold = holdWrites(t);
    try {
      const good = Array.from({ length: 8 }, () => jobOf(10));
      const bad = jobOf(3, 'not-a-uuid');
      // The bad batch last: the groups held at the start take the first jobs, and the last group grows around it.
      const jobs = [...good, bad];
      const placed = await enqueue(jobs.map((data) => ({ data })));
      await openWhenActive(hold, jobs.length);
      const outcomes = await Promise.all(placed.map(outcome));
      assert.deepEqual(
        outcomes.slice(0, good.length),
        good.map((job) => ({ state: 'completed', value: job.accepted })),
      );
      assert.equal(outcomes[good.length].state, 'failed');
      assert.match(outcomes[good.length].reason ?? '', /invalid input syntax for type uuid/);
      for (const job of good) assert.equal((await stored(job.batch_id)).events, job.accepted);
      assert.deepEqual(await stored(bad.batch_id), { events: 0, receipt: undefined, sameCommit: true });
      const group = hold.statements.find((ids) => ids.includes(bad.batch_id) && ids.length > 1);
      assert.ok(group !== undefined, 'the bad batch was tried in a group');
      assert.deepEqual(
        hold.statements.slice(hold.statements.indexOf(group) + 1).filter((ids) => ids.some((id) => group.includes(id))),
        group.map((id) => [id]),
        'then its group was written batch by batch',
      );
    } finally {
      hold.release();
    }
  });

  it('a retried batch in a group writes nothing again and completes with 0, beside batches that are new', async () => {
    const first = jobOf(5);
    const [firstPlaced] = await enqueue([{ data: first }]);
    assert.deepEqual(await outcome(firstPlaced), { state: 'completed', value: 5 });

    const hold = holdWrites(t);
    try {
      const fresh = Array.from({ length: 4 }, () => jobOf(7));
      const placed = await enqueue([...fresh.map((data) => ({ data })), { data: first, id: `${first.batch_id}-retry` }]);
      await openWhenActive(hold, placed.length);
      const outcomes = await Promise.all(placed.map(outcome));
      assert.deepEqual(outcomes, [...fresh.map(() => ({ state: 'completed', value: 7 })), { state: 'completed', value: 0 }]);
      assert.ok(
        hold.statements.some((ids) => ids.includes(first.batch_id) && ids.length > 1),
        'the retried batch was written in a group',
      );
      assert.deepEqual(await stored(first.batch_id), { events: 5, receipt: { accepted: 5 }, sameCommit: true });
    } finally {
      hold.release();
    }
  });
});
