import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { Job } from 'bullmq';
import { EventStore, IngestBatch, IngestBatchJobData } from '#contract';
import { BufferedEvents, PipelineMetrics, queueShards } from '#pipeline';
import { Metrics } from '#platform';
import { BatchCoalescer } from './batch.coalescer';
import { BatchProcessor } from './batch.processor';

// The processor's steps, with fakes in place of PostgreSQL and Redis: write, then release the batch from the buffered
// counter; never release what was not written, and let every failure reach BullMQ.

function jobOf(data: Partial<IngestBatchJobData> = {}): Job<IngestBatchJobData> {
  const body = { user_id: 'u', game_id: 'com.a.b', events: [{ type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' }] };
  const batchId = randomUUID();
  const job = {
    batch_id: batchId,
    user_id: 'u',
    accepted: 1,
    received_at: '2026-04-22T14:31:00.000Z',
    body: JSON.stringify(body),
    reserved: true,
  };
  return { id: batchId, data: { ...job, ...data } } as unknown as Job<IngestBatchJobData>;
}

const SHARD = queueShards({ prefix: 'p', shards: 3 })[2];

function processorWith(write: (batch: IngestBatch) => Promise<number>, release: () => Promise<boolean> = () => Promise.resolve(true)) {
  const steps: string[] = [];
  const releases: Array<[string, number, boolean, string]> = [];
  const store: EventStore = {
    insertBatches: async ([batch]) => {
      steps.push('write');
      return [await write(batch)];
    },
    describeFailure: () => undefined,
  };
  const buffered = {
    release: (shard: typeof SHARD, batchId: string, count: number, legacy: boolean) => {
      steps.push('release');
      releases.push([batchId, count, legacy, shard.label]);
      return release();
    },
  } as unknown as BufferedEvents;
  return {
    processor: new BatchProcessor(
      new BatchCoalescer(store, { maxRows: 1, maxBatches: 1, maxWaitMs: 0, maxGroupsInFlight: 1 }),
      buffered,
      new PipelineMetrics(new Metrics()),
    ),
    steps,
    releases,
  };
}

describe('BatchProcessor: write, then release once', () => {
  it('releases a written batch after its rows are written, with its own id and count, in its shard', async () => {
    const { processor, steps, releases } = processorWith(() => Promise.resolve(1));
    const job = jobOf();
    assert.equal(await processor.process(job, SHARD), 1);
    assert.deepEqual(steps, ['write', 'release']);
    assert.deepEqual(releases, [[job.data.batch_id, 1, false, 'shard-2']]);
  });

  it('releases a redelivered batch again: the counter decides it is a no-op, the processor does not guess', async () => {
    const { processor, releases } = processorWith(() => Promise.resolve(0));
    const job = jobOf();
    assert.equal(await processor.process(job, SHARD), 0);
    assert.equal(releases.length, 1);
  });

  it('releases a job queued before reservations existed by its legacy marker', async () => {
    const { processor, releases } = processorWith(() => Promise.resolve(1));
    const job = jobOf({ reserved: undefined });
    await processor.process(job, SHARD);
    assert.deepEqual(releases, [[job.data.batch_id, 1, true, 'shard-2']]);
  });

  it('a failed write propagates and releases nothing', async () => {
    const refused = Object.assign(new Error('relation "events" does not exist'), { code: '42P01' });
    const { processor, steps } = processorWith(() => Promise.reject(refused));
    await assert.rejects(processor.process(jobOf(), SHARD), (error) => error === refused);
    assert.deepEqual(steps, ['write']);
  });

  it('a failed release fails the job, so that its retry (a no-op write) releases again', async () => {
    const { processor, steps } = processorWith(
      () => Promise.resolve(1),
      () => Promise.reject(new Error('Connection is closed.')),
    );
    await assert.rejects(processor.process(jobOf(), SHARD), /Connection is closed/);
    assert.deepEqual(steps, ['write', 'release']);
  });

  it('a job whose body does not decode fails before anything is written', async () => {
    const { processor, steps } = processorWith(() => Promise.resolve(1));
    await assert.rejects(processor.process(jobOf({ accepted: 2 }), SHARD), /does not match/);
    assert.deepEqual(steps, []);
  });
});
