import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { IngestBatchJobData } from '#contract';
import { BufferedEvents, PipelineMetrics, queueShards } from '#pipeline';
import { ApiError, loadConfig, Metrics } from '#platform';
import type { IngestBatchDto } from './dto/ingest-batch.dto';
import type { IngestQueues } from './ingest-queues';
import { IngestProducer } from './ingest.producer';

// REDIS_WAIT_REPLICAS: the producer answers 202 only once WAIT, sent on the connection that added the job, counts
// enough replicas; fewer is a 503 that keeps the job (the worker writes it; a retry carries the same event_ids).

const BATCH = { user_id: 'u', game_id: 'com.a.b', events: [{}, {}] } as unknown as IngestBatchDto;

function harness(env: Record<string, string>, acknowledged: number | Error) {
  const waits: unknown[][] = [];
  const released: string[] = [];
  // BullMQ's client, as the queue's backend hands it out: the connection the job was added on.
  const client = {
    wait: (...args: unknown[]) => {
      waits.push(args);
      return acknowledged instanceof Error ? Promise.reject(acknowledged) : Promise.resolve(acknowledged);
    },
  };
  const queue = {
    on: () => queue,
    add: () => Promise.resolve({}),
    toKey: (id: string) => `test:ingest:${id}`,
    getBackend: () => ({ client: Promise.resolve(client) }),
  };
  const buffered = {
    reserve: () => Promise.resolve({ accepted: true, buffered: 2 }),
    release: (batchId: string) => {
      released.push(batchId);
      return Promise.resolve(true);
    },
  };
  const [shard] = queueShards({ prefix: 'test', shards: 1 });
  const produced = [{ shard, queue: queue as unknown as Queue<IngestBatchJobData> }];
  const producer = new IngestProducer(
    { produced, all: produced } as unknown as IngestQueues,
    { status: 'ready' } as unknown as Redis,
    loadConfig({ NODE_ENV: 'test', ...env }),
    new PipelineMetrics(new Metrics()),
    buffered as unknown as BufferedEvents,
  );
  return { producer, waits, released };
}

async function status(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return '202';
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error));
    return `${error.getStatus()} ${(error.getResponse() as { error: { message: string } }).error.message}`;
  }
}

describe('IngestProducer with REDIS_WAIT_REPLICAS', () => {
  before(() => {
    Logger.overrideLogger(false);
  });

  it('sends no WAIT by default', async () => {
    const h = harness({}, 0);
    assert.equal(await status(h.producer.enqueueBatch(BATCH, '{}')), '202');
    assert.deepEqual(h.waits, []);
  });

  it('answers 202 once WAIT counts the replicas asked for, on the connection that added the job', async () => {
    const h = harness({ REDIS_WAIT_REPLICAS: '2', REDIS_WAIT_TIMEOUT_MS: '300' }, 2);
    assert.equal(await status(h.producer.enqueueBatch(BATCH, '{}')), '202');
    assert.deepEqual(h.waits, [[2, 300]]);
  });

  it('answers 503 queue_unavailable with fewer, or when WAIT fails, and keeps the job counted (it will be written)', async () => {
    for (const answer of [1, new Error('Connection is closed.')]) {
      const h = harness({ REDIS_WAIT_REPLICAS: '2' }, answer);
      assert.equal(await status(h.producer.enqueueBatch(BATCH, '{}')), '503 queue_unavailable');
      assert.deepEqual(h.released, [], 'the job is queued: the worker releases it once written');
    }
  });
});
