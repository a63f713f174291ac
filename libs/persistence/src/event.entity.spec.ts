import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getMetadataArgsStorage } from 'typeorm';
import { EVENT_COLUMNS } from '#contract';
import { EventEntity } from './event.entity';
import { BATCH_COLUMNS } from './typeorm-event.store';

const sorted = (columns: Array<[unknown, unknown]>) => columns.map(([name, type]) => `${String(name)} ${String(type)}`).sort();

describe('the events table, the entity and the batch INSERT', () => {
  it('agree on every column and its type: an event field without a column, or a column the INSERT leaves out, fails here', () => {
    const entity = getMetadataArgsStorage()
      .columns.filter((column) => column.target === EventEntity)
      .map((column): [unknown, unknown] => [column.options.name, column.options.type]);
    const inserted = [...BATCH_COLUMNS, ...Object.values(EVENT_COLUMNS)].map(({ column, type }): [unknown, unknown] => [column, type]);
    // written_at is the database's own (DEFAULT now()).
    assert.deepEqual(sorted(entity), sorted([...inserted, ['written_at', 'timestamptz']]));
  });
});
