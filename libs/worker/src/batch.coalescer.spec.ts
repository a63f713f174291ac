import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it, type TestContext } from 'node:test';
import { EventStore, IngestBatch, StoreUnavailable } from '#contract';
import { BatchCoalescer } from './batch.coalescer';

// The grouping of the worker's writes, with a fake store in place of PostgreSQL and node:test's timers in place of the
// clock: which batches go out in one statement, and how a failed statement reaches each batch's job.

function batchOf(events: number, batchId: string = randomUUID()): IngestBatch {
  return {
    batch_id: batchId,
    user_id: 'u',
    game_id: 'com.a.b',
    received_at: '2026-04-22T14:31:00.000Z',
    clock_skew_ms: null,
    events: Array.from({ length: events }, () => ({
      event_id: randomUUID(),
      type: 'LevelStarted',
      custom_event_name: null,
      occurred_at: '2026-04-22T14:30:00.000Z',
      customdata: null,
    })),
  };
}

/** A store that writes every event of a batch, refuses the batches in `refused`, and records each statement's batches. */
function storeOf(options: { refused?: ReadonlySet<IngestBatch>; unavailable?: boolean } = {}) {
  const statements: IngestBatch[][] = [];
  const store: EventStore = {
    insertBatches: (batches) => {
      statements.push([...batches]);
      if (options.unavailable === true) return Promise.reject(new StoreUnavailable('PostgreSQL unreachable: ECONNREFUSED'));
      if (batches.some((batch) => options.refused?.has(batch))) {
        return Promise.reject(Object.assign(new Error('value out of range'), { code: '22003' }));
      }
      return Promise.resolve(batches.map((batch) => batch.events.length));
    },
    describeFailure: () => undefined,
  };
  return { store, statements };
}

/** A store whose statements each wait for their `commits[i]()`, then write every event. */
function heldStoreOf() {
  const statements: IngestBatch[][] = [];
  const commits: Array<() => void> = [];
  const store: EventStore = {
    insertBatches: (batches) => {
      statements.push([...batches]);
      return new Promise((resolve) => commits.push(() => resolve(batches.map((batch) => batch.events.length))));
    },
    describeFailure: () => undefined,
  };
  return { store, statements, commits };
}

/** Lets the promise callbacks pending run (setImmediate is not among the mocked timers). */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

function withMockTimers(t: TestContext): void {
  t.mock.timers.enable({ apis: ['setTimeout'] });
}

describe('BatchCoalescer: groups', () => {
  it('writes the batches that arrive within the wait in one statement, each answered with its own rows', async (t) => {
    withMockTimers(t);
    const { store, statements } = storeOf();
    const coalescer = new BatchCoalescer(store, { maxRows: 1000, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const batches = [batchOf(3), batchOf(1), batchOf(2)];
    const writes = batches.map((batch) => coalescer.write(batch));
    t.mock.timers.tick(4);
    assert.equal(statements.length, 0, 'nothing is written before the wait is over');
    t.mock.timers.tick(1);
    assert.deepEqual(await Promise.all(writes), [3, 1, 2]);
    assert.deepEqual(statements, [batches]);
  });

  it('writes a group as soon as it holds maxRows events, without waiting', async (t) => {
    withMockTimers(t);
    const { store, statements } = storeOf();
    const coalescer = new BatchCoalescer(store, { maxRows: 5, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const batches = [batchOf(2), batchOf(3)];
    assert.deepEqual(await Promise.all(batches.map((batch) => coalescer.write(batch))), [2, 3]);
    assert.deepEqual(statements, [batches]);
  });

  it('writes a group at once when it holds every job the process takes at a time (none other can come)', async (t) => {
    withMockTimers(t);
    const { store, statements } = storeOf();
    const coalescer = new BatchCoalescer(store, { maxRows: 1000, maxBatches: 3, maxWaitMs: 5, maxGroupsInFlight: 1 });
    const batches = [batchOf(2), batchOf(3), batchOf(1)];
    assert.deepEqual(await Promise.all(batches.map((batch) => coalescer.write(batch))), [2, 3, 1]);
    assert.deepEqual(statements, [batches]);
  });

  it('a group goes out once it holds its share of the jobs, or every job not already being written', async (t) => {
    withMockTimers(t);
    const { store, statements, commits } = heldStoreOf();
    // Five jobs at a time over two groups in flight: a share is three.
    const coalescer = new BatchCoalescer(store, { maxRows: 1000, maxBatches: 5, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const batches = Array.from({ length: 6 }, () => batchOf(1));
    const writes = batches.slice(0, 3).map((batch) => coalescer.write(batch));
    assert.deepEqual(statements, [batches.slice(0, 3)], 'a share');
    writes.push(...batches.slice(3, 5).map((batch) => coalescer.write(batch)));
    assert.deepEqual(
      statements,
      [batches.slice(0, 3), batches.slice(3, 5)],
      'the two others: with three being written, none else can come',
    );
    commits[0]();
    await settled();
    writes.push(coalescer.write(batches[5]));
    assert.equal(statements.length, 2, 'three may come again: the sixth waits');
    t.mock.timers.tick(5);
    assert.deepEqual(statements[2], [batches[5]]);
    commits[1]();
    commits[2]();
    assert.deepEqual(await Promise.all(writes), [1, 1, 1, 1, 1, 1]);
  });

  it('a batch that would take the group past maxRows starts the next group', async (t) => {
    withMockTimers(t);
    const { store, statements } = storeOf();
    const coalescer = new BatchCoalescer(store, { maxRows: 5, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const batches = [batchOf(2), batchOf(2), batchOf(2), batchOf(1)];
    const writes = batches.map((batch) => coalescer.write(batch));
    assert.deepEqual(statements, [batches.slice(0, 2)]);
    t.mock.timers.tick(5);
    assert.deepEqual(await Promise.all(writes), [2, 2, 2, 1]);
    assert.deepEqual(statements, [batches.slice(0, 2), batches.slice(2)]);
  });

  it('a batch larger than maxRows is written alone', async (t) => {
    withMockTimers(t);
    const { store, statements } = storeOf();
    const coalescer = new BatchCoalescer(store, { maxRows: 5, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const batches = [batchOf(1), batchOf(8)];
    assert.deepEqual(await Promise.all(batches.map((batch) => coalescer.write(batch))), [1, 8]);
    assert.deepEqual(statements, [[batches[0]], [batches[1]]]);
  });

  it('never puts one batch_id twice in a group: the second delivery starts the next group', async (t) => {
    withMockTimers(t);
    const { store, statements } = storeOf();
    const coalescer = new BatchCoalescer(store, { maxRows: 1000, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const first = batchOf(2);
    const again = batchOf(2, first.batch_id);
    const other = batchOf(1);
    const writes = [first, again, other].map((batch) => coalescer.write(batch));
    t.mock.timers.tick(5);
    await Promise.all(writes);
    assert.deepEqual(statements, [[first], [again, other]]);
  });

  it('a timer of a group written early does not cut the next group short', async (t) => {
    withMockTimers(t);
    const { store, statements } = storeOf();
    const coalescer = new BatchCoalescer(store, { maxRows: 4, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const full = [batchOf(2), batchOf(2)];
    const writes = full.map((batch) => coalescer.write(batch));
    t.mock.timers.tick(3);
    const late = batchOf(1);
    writes.push(coalescer.write(late));
    t.mock.timers.tick(2);
    assert.deepEqual(statements, [full], 'the late batch waits its own 5 ms');
    t.mock.timers.tick(3);
    await Promise.all(writes);
    assert.deepEqual(statements, [full, [late]]);
  });
});

describe('BatchCoalescer: groups in flight', () => {
  it('while maxGroupsInFlight groups are being written, the next one keeps growing up to maxRows', async (t) => {
    withMockTimers(t);
    const { store, statements, commits } = heldStoreOf();
    const coalescer = new BatchCoalescer(store, { maxRows: 4, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 1 });
    const batches = [batchOf(1), batchOf(1), batchOf(1), batchOf(1), batchOf(1), batchOf(3), batchOf(2)];
    const writes = [coalescer.write(batches[0])];
    t.mock.timers.tick(5);
    assert.deepEqual(statements, [[batches[0]]]);
    writes.push(...batches.slice(1, 3).map((batch) => coalescer.write(batch)));
    t.mock.timers.tick(50);
    writes.push(...batches.slice(3).map((batch) => coalescer.write(batch)));
    assert.equal(statements.length, 1, 'a due group waits for the group in flight');
    commits[0]();
    await settled();
    assert.deepEqual(statements[1], batches.slice(1, 5), 'the waiting group grew to maxRows');
    commits[1]();
    await settled();
    assert.deepEqual(statements[2], [batches[5]], 'a full group goes out before the open one');
    commits[2]();
    await settled();
    assert.equal(statements.length, 3, 'the open group waits its own 5 ms');
    t.mock.timers.tick(5);
    assert.deepEqual(statements[3], [batches[6]]);
    commits[3]();
    assert.deepEqual(await Promise.all(writes), [1, 1, 1, 1, 1, 3, 2]);
  });
});

describe('BatchCoalescer: failures', () => {
  it('a refused group is written again batch by batch: only the refused batch fails, the others get their rows', async (t) => {
    withMockTimers(t);
    const bad = batchOf(2);
    const { store, statements } = storeOf({ refused: new Set([bad]) });
    const coalescer = new BatchCoalescer(store, { maxRows: 1000, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const batches = [batchOf(1), bad, batchOf(3)];
    const writes = batches.map((batch) => coalescer.write(batch));
    t.mock.timers.tick(5);
    const results = await Promise.allSettled(writes);
    assert.deepEqual(results[0], { status: 'fulfilled', value: 1 });
    assert.equal(results[1].status, 'rejected');
    assert.equal((results[1].reason as { code?: string }).code, '22003');
    assert.deepEqual(results[2], { status: 'fulfilled', value: 3 });
    assert.deepEqual(statements, [batches, [batches[0]], [bad], [batches[2]]]);
  });

  it('a refused batch alone is not written twice', async (t) => {
    withMockTimers(t);
    const bad = batchOf(2);
    const { store, statements } = storeOf({ refused: new Set([bad]) });
    const coalescer = new BatchCoalescer(store, { maxRows: 1000, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const write = coalescer.write(bad);
    t.mock.timers.tick(5);
    await assert.rejects(write, { code: '22003' });
    assert.equal(statements.length, 1);
  });

  it('a store out of reach fails every batch of the group with StoreUnavailable, without writing them one by one', async (t) => {
    withMockTimers(t);
    const { store, statements } = storeOf({ unavailable: true });
    const coalescer = new BatchCoalescer(store, { maxRows: 1000, maxBatches: 100, maxWaitMs: 5, maxGroupsInFlight: 2 });
    const writes = [batchOf(1), batchOf(2), batchOf(3)].map((batch) => coalescer.write(batch));
    t.mock.timers.tick(5);
    for (const result of await Promise.allSettled(writes)) {
      assert.ok(result.status === 'rejected' && result.reason instanceof StoreUnavailable);
    }
    assert.equal(statements.length, 1);
  });
});
