import assert from 'node:assert/strict';
import { afterEach, before, beforeEach, describe, it, mock } from 'node:test';
import { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { IngestBatchJobData } from '#contract';
import { BufferedEvents, PipelineMetrics, QueueShard, queueShards, Reservation } from '#pipeline';
import { ApiError, loadConfig, Metrics } from '#platform';
import type { IngestBatchDto } from './dto/ingest-batch.dto';
import { IngestProducer, REDIS_DEADLINE_MS, SHARD_DEADLINE_MS, SHARD_PAUSE_MS } from './ingest.producer';
import type { IngestQueues } from './ingest-queues';
import { failOnUnhandledRejections, flush } from '../../../support/test-hooks';

// The producer's settlement of every outcome of its two Redis operations (the reservation in the buffered counter,
// then the job), in time and after the client has had its 503, with fakes in place of Redis and a mocked clock.

/** A promise the test settles, standing for a Redis command in flight. */
class Pending<T> {
  readonly promise: Promise<T>;
  resolve!: (value: T) => void;
  reject!: (error: Error) => void;
  constructor() {
    this.promise = new Promise<T>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }
}

const BATCH = { user_id: 'u', game_id: 'com.a.b', events: [{}, {}, {}] } as unknown as IngestBatchDto;

interface Harness {
  producer: IngestProducer;
  metrics: PipelineMetrics;
  /** Shard 0's pending operations; `shards[i]` those of shard i. A new operation on a shard gets a fresh Pending. */
  reserve: Pending<Reservation>;
  add: Pending<unknown>;
  shards: Array<{ reserve: Pending<Reservation>; add: Pending<unknown> }>;
  /** The jobs added, and the shard (label) each went to. */
  added: IngestBatchJobData[];
  addedTo: string[];
  /** The shards reservations were sent to, in order. */
  reservedOn: string[];
  released: Array<[string, number]>;
  releasedOn: string[];
  releaseFails: boolean;
  redis: { status: string };
}

function harness(shardCount = 1): Harness {
  const shards = queueShards({ prefix: 'p', shards: shardCount });
  const h = {
    shards: shards.map(() => ({ reserve: new Pending<Reservation>(), add: new Pending<unknown>() })),
    added: [],
    addedTo: [],
    reservedOn: [],
    released: [],
    releasedOn: [],
    releaseFails: false,
  } as unknown as Harness;
  h.reserve = h.shards[0].reserve;
  h.add = h.shards[0].add;
  h.redis = { status: 'ready' };
  h.metrics = new PipelineMetrics(new Metrics());
  const produced = shards.map((shard) => ({
    shard,
    queue: {
      add: (_name: string, data: IngestBatchJobData) => {
        h.added.push(data);
        h.addedTo.push(shard.label);
        return h.shards[shard.index].add.promise;
      },
    } as unknown as Queue<IngestBatchJobData>,
  }));
  const buffered = {
    reserve: (shard: QueueShard) => {
      h.reservedOn.push(shard.label);
      return h.shards[shard.index].reserve.promise;
    },
    release: (shard: QueueShard, batchId: string, count: number) => {
      h.released.push([batchId, count]);
      h.releasedOn.push(shard.label);
      return h.releaseFails ? Promise.reject(new Error('release refused')) : Promise.resolve(true);
    },
  };
  h.producer = new IngestProducer(
    { produced, all: produced } as unknown as IngestQueues,
    h.redis as unknown as Redis,
    loadConfig({ NODE_ENV: 'test', BUFFER_MAX_EVENTS: '100', QUEUE_SHARDS: String(shardCount) }),
    h.metrics,
    buffered as unknown as BufferedEvents,
  );
  return h;
}

/** Every shard answers at once: reservations accepted, jobs added. */
function healthy(h: Harness, except: number[] = []): void {
  for (const [index, shard] of h.shards.entries()) {
    if (except.includes(index)) continue;
    shard.reserve.resolve({ accepted: true, buffered: 3 });
    shard.add.resolve({});
  }
}

/** The 503 a client gets, by its envelope message. */
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error));
    assert.equal(error.getStatus(), 503);
    return (error.getResponse() as { error: { message: string } }).error.message;
  }
  assert.fail('the batch was accepted');
}

const accepted = async (metrics: PipelineMetrics): Promise<number> => {
  const [value] = (await metrics.eventsAccepted.get()).values;
  return value === undefined ? 0 : value.value;
};

describe('IngestProducer: every outcome of the reservation and the job add', () => {
  before(() => {
    Logger.overrideLogger(false);
  });
  failOnUnhandledRejections({ mockTimers: true });

  it('both in time: 202 with the counter, the job carries the body and is marked as reserved, nothing released', async () => {
    const h = harness();
    const result = h.producer.enqueueBatch(BATCH, '{"body":1}');
    h.reserve.resolve({ accepted: true, buffered: 7 });
    await flush();
    h.add.resolve({});
    const batch = await result;
    assert.deepEqual({ accepted: batch.accepted, buffered: batch.buffered }, { accepted: 3, buffered: 7 });
    assert.equal(h.added[0].batch_id, batch.batchId);
    assert.equal(h.added[0].body, '{"body":1}');
    assert.equal(h.added[0].reserved, true);
    assert.deepEqual(h.released, []);
    assert.equal(await accepted(h.metrics), 3);
  });

  it('buffer full: 503 buffer_full, no job, nothing to release', async () => {
    const h = harness();
    const result = h.producer.enqueueBatch(BATCH, '{}');
    h.reserve.resolve({ accepted: false, buffered: 99 });
    assert.equal(await refusal(result), 'buffer_full');
    assert.deepEqual([h.added.length, h.released.length], [0, 0]);
  });

  it('Redis not connected: 503 at once, nothing sent', async () => {
    const h = harness();
    h.redis.status = 'reconnecting';
    assert.equal(await refusal(h.producer.enqueueBatch(BATCH, '{}')), 'queue_unavailable');
    assert.deepEqual([h.added.length, h.released.length], [0, 0]);
  });

  it('the reservation fails in time: 503, and it is released in case Redis applied it', async () => {
    const h = harness();
    const result = h.producer.enqueueBatch(BATCH, '{}');
    h.reserve.reject(new Error('Connection is closed.'));
    assert.equal(await refusal(result), 'queue_unavailable');
    assert.equal(h.added.length, 0);
    assert.equal(h.released.length, 1);
    assert.equal(h.released[0][1], 3);
  });

  for (const outcome of ['succeeds', 'fails'] as const) {
    it(`the reservation ${outcome} after the deadline: 503 at the deadline, then it is released`, async () => {
      const h = harness();
      const result = h.producer.enqueueBatch(BATCH, '{}');
      mock.timers.tick(REDIS_DEADLINE_MS);
      assert.equal(await refusal(result), 'queue_unavailable');
      assert.equal(h.released.length, 0, 'nothing released while the outcome is unknown');
      if (outcome === 'succeeds') h.reserve.resolve({ accepted: true, buffered: 3 });
      else h.reserve.reject(new Error('Command timed out'));
      await flush();
      assert.equal(h.released.length, 1);
      assert.equal(h.added.length, 0, 'no job for a batch the client was told to resend');
    });
  }

  it('the job add fails in time: 503, and the reservation is released', async () => {
    const h = harness();
    const result = h.producer.enqueueBatch(BATCH, '{}');
    h.reserve.resolve({ accepted: true, buffered: 3 });
    await flush();
    h.add.reject(new Error('Connection is closed.'));
    assert.equal(await refusal(result), 'queue_unavailable');
    assert.deepEqual(h.released, [[h.added[0].batch_id, 3]]);
    assert.equal(await accepted(h.metrics), 0);
  });

  for (const outcome of ['succeeds', 'fails'] as const) {
    const then = outcome === 'succeeds' ? 'the job stays counted (the worker releases it once written)' : 'the reservation is released';
    it(`the job add ${outcome} after the deadline: 503, then ${then}`, async () => {
      const h = harness();
      const result = h.producer.enqueueBatch(BATCH, '{}');
      h.reserve.resolve({ accepted: true, buffered: 3 });
      await flush();
      mock.timers.tick(REDIS_DEADLINE_MS);
      assert.equal(await refusal(result), 'queue_unavailable');
      assert.deepEqual(h.released, []);
      if (outcome === 'succeeds') h.add.resolve({});
      else h.add.reject(new Error('Command timed out'));
      await flush();
      assert.deepEqual(h.released, outcome === 'succeeds' ? [] : [[h.added[0].batch_id, 3]]);
    });
  }

  it('one budget for the batch: a slow reservation leaves the job add only what is left of REDIS_DEADLINE_MS', async () => {
    const h = harness();
    const result = h.producer.enqueueBatch(BATCH, '{}');
    const started = Date.now();
    // Real time passes for the budget (Date is not mocked): 1000 ms of it, then the reservation answers.
    while (Date.now() - started < 1000) await new Promise((resolve) => setImmediate(resolve));
    h.reserve.resolve({ accepted: true, buffered: 3 });
    await flush();
    mock.timers.tick(REDIS_DEADLINE_MS - 1000 + 50);
    assert.equal(await refusal(result), 'queue_unavailable');
  });

  it('a release that fails is contained: the client still gets its 503 and nothing is left unhandled', async () => {
    const h = harness();
    h.releaseFails = true;
    const result = h.producer.enqueueBatch(BATCH, '{}');
    h.reserve.resolve({ accepted: true, buffered: 3 });
    await flush();
    h.add.reject(new Error('Connection is closed.'));
    assert.equal(await refusal(result), 'queue_unavailable');
    assert.equal(h.released.length, 1);
    // afterEach asserts that the rejected release was handled.
  });
});

describe('IngestProducer over several shards: spread, and a failing shard skipped before a 503', () => {
  before(() => {
    Logger.overrideLogger(false);
  });
  failOnUnhandledRejections();
  // The clock too: how long the shards took decides whether another is tried, and for how long one is paused.
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => mock.timers.reset());

  it('spreads batches over the shards in turn', async () => {
    const h = harness(3);
    healthy(h);
    for (let i = 0; i < 6; i++) await h.producer.enqueueBatch(BATCH, '{}');
    assert.deepEqual(h.addedTo, ['shard-0', 'shard-1', 'shard-2', 'shard-0', 'shard-1', 'shard-2']);
    assert.deepEqual(h.released, []);
  });

  it("a shard whose reservation fails is skipped: the batch goes to the next, and the failed shard's reservation is released", async () => {
    const h = harness(3);
    healthy(h, [0]);
    h.shards[0].reserve.reject(new Error('Connection is closed.'));
    const batch = await h.producer.enqueueBatch(BATCH, '{}');
    assert.deepEqual(h.reservedOn, ['shard-0', 'shard-1']);
    assert.deepEqual(h.addedTo, ['shard-1']);
    assert.deepEqual(h.releasedOn, ['shard-0']);
    assert.equal(h.added[0].batch_id, batch.batchId, 'the job id stays the batch id');
    assert.deepEqual(
      (await h.metrics.queueShardFailures.get()).values.map(({ labels, value }) => [labels.shard, value]),
      [['shard-0', 1]],
    );
    assert.equal(await accepted(h.metrics), 3);
  });

  it('a shard whose job add fails is skipped, its reservation released; it is tried last for SHARD_PAUSE_MS', async () => {
    const h = harness(3);
    healthy(h, [1]);
    h.shards[1].reserve.resolve({ accepted: true, buffered: 3 });
    h.shards[1].add.reject(new Error('CLUSTERDOWN'));
    await h.producer.enqueueBatch(BATCH, '{}'); // shard-0
    await h.producer.enqueueBatch(BATCH, '{}'); // shard-1 fails, shard-2 takes it
    assert.deepEqual(h.addedTo, ['shard-0', 'shard-1', 'shard-2']);
    assert.deepEqual(h.releasedOn, ['shard-1']);
    h.reservedOn.length = 0;
    await h.producer.enqueueBatch(BATCH, '{}'); // shard-2's turn
    await h.producer.enqueueBatch(BATCH, '{}'); // shard-0's turn
    await h.producer.enqueueBatch(BATCH, '{}'); // shard-1's turn: still paused, shard-2 first
    assert.deepEqual(h.reservedOn, ['shard-2', 'shard-0', 'shard-2']);
    mock.timers.tick(SHARD_PAUSE_MS);
    h.reservedOn.length = 0;
    await h.producer.enqueueBatch(BATCH, '{}').catch(() => undefined); // shard-2's turn
    await h.producer.enqueueBatch(BATCH, '{}').catch(() => undefined); // shard-0's turn
    await h.producer.enqueueBatch(BATCH, '{}').catch(() => undefined); // shard-1's turn again, tried first
    assert.deepEqual(h.reservedOn.slice(0, 3), ['shard-2', 'shard-0', 'shard-1']);
  });

  it('a shard that does not answer is given up after SHARD_DEADLINE_MS and the next one takes the batch', async () => {
    const h = harness(3);
    healthy(h, [0]);
    const result = h.producer.enqueueBatch(BATCH, '{}');
    mock.timers.tick(SHARD_DEADLINE_MS);
    const batch = await result;
    assert.deepEqual(h.addedTo, ['shard-1']);
    assert.deepEqual(h.released, [], 'nothing released while the outcome is unknown');
    h.shards[0].reserve.resolve({ accepted: true, buffered: 3 });
    await flush();
    assert.deepEqual(h.released, [[batch.batchId, 3]], 'the late reservation is taken back');
    assert.deepEqual(h.releasedOn, ['shard-0']);
  });

  it('every shard failing: 503 queue_unavailable, each reservation released', async () => {
    const h = harness(3);
    for (const shard of h.shards) shard.reserve.reject(new Error('Connection is closed.'));
    assert.equal(await refusal(h.producer.enqueueBatch(BATCH, '{}')), 'queue_unavailable');
    assert.deepEqual(h.reservedOn, ['shard-0', 'shard-1', 'shard-2']);
    assert.deepEqual(h.releasedOn, ['shard-0', 'shard-1', 'shard-2']);
    assert.equal(h.added.length, 0);
  });

  it('no other shard is tried once REDIS_DEADLINE_MS has passed', async () => {
    const h = harness(6);
    const result = h.producer.enqueueBatch(BATCH, '{}');
    // Each shard's reservation never answers: SHARD_DEADLINE_MS each, until REDIS_DEADLINE_MS is spent.
    for (let i = 0; i < REDIS_DEADLINE_MS / SHARD_DEADLINE_MS; i++) {
      await flush();
      mock.timers.tick(SHARD_DEADLINE_MS);
    }
    assert.equal(await refusal(result), 'queue_unavailable');
    assert.equal(h.reservedOn.length, REDIS_DEADLINE_MS / SHARD_DEADLINE_MS);
  });

  it('a full buffer is not a failing shard: 503 buffer_full at once, no other shard tried', async () => {
    const h = harness(3);
    h.shards[0].reserve.resolve({ accepted: false, buffered: 100 });
    assert.equal(await refusal(h.producer.enqueueBatch(BATCH, '{}')), 'buffer_full');
    assert.deepEqual(h.reservedOn, ['shard-0']);
  });
});
