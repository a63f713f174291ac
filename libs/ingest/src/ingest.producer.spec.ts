import assert from 'node:assert/strict';
import { before, describe, it, mock } from 'node:test';
import { Logger } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { IngestBatchJobData } from '#contract';
import { BufferedEvents, PipelineMetrics, Reservation } from '#pipeline';
import { ApiError, loadConfig, Metrics } from '#platform';
import type { IngestBatchDto } from './dto/ingest-batch.dto';
import { IngestProducer, REDIS_DEADLINE_MS } from './ingest.producer';
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
  reserve: Pending<Reservation>;
  add: Pending<unknown>;
  added: IngestBatchJobData[];
  released: Array<[string, number]>;
  releaseFails: boolean;
  redis: { status: string };
}

function harness(): Harness {
  const h = {
    reserve: new Pending<Reservation>(),
    add: new Pending<unknown>(),
    added: [],
    released: [],
    releaseFails: false,
  } as unknown as Harness;
  h.redis = { status: 'ready' };
  h.metrics = new PipelineMetrics(new Metrics());
  const queue = {
    on: () => queue,
    add: (_name: string, data: IngestBatchJobData) => {
      h.added.push(data);
      return h.add.promise;
    },
  };
  const buffered = {
    reserve: () => h.reserve.promise,
    release: (batchId: string, count: number) => {
      h.released.push([batchId, count]);
      return h.releaseFails ? Promise.reject(new Error('release refused')) : Promise.resolve(true);
    },
  };
  h.producer = new IngestProducer(
    queue as unknown as Queue<IngestBatchJobData>,
    h.redis as unknown as Redis,
    loadConfig({ NODE_ENV: 'test', BUFFER_MAX_EVENTS: '100' }),
    h.metrics,
    buffered as unknown as BufferedEvents,
  );
  return h;
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
