import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { DataSource } from 'typeorm';
import { StoreUnavailable } from '#contract';
import { TypeOrmEventStore } from './typeorm-event.store';

// How the store tells the worker what a failed write means, with a DataSource that fails as pg does.
function storeFailingWith(error: Error): TypeOrmEventStore {
  return new TypeOrmEventStore({ query: () => Promise.reject(error) } as unknown as DataSource);
}

const batch = {
  batch_id: randomUUID(),
  user_id: 'u',
  game_id: 'com.a.b',
  received_at: '2026-04-22T14:31:00.000Z',
  clock_skew_ms: null,
  events: [],
};

describe('TypeOrmEventStore: a failed write', () => {
  it('a database out of reach is reported as StoreUnavailable, which the worker waits out without spending attempts', async () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    await assert.rejects(
      storeFailingWith(refused).insertBatches([batch]),
      (error) => error instanceof StoreUnavailable && error.cause === refused,
    );
  });

  it('a refused statement propagates as it is, and is described by its SQLSTATE and names only', async () => {
    const refused = Object.assign(new Error('null value in column "type" violates not-null constraint: secret'), {
      code: '23502',
      table: 'events',
      column: 'type',
    });
    const store = storeFailingWith(refused);
    await assert.rejects(store.insertBatches([batch]), (error) => error === refused);
    assert.equal(store.describeFailure(refused), 'SQLSTATE 23502 (table events, column type)');
  });
});
