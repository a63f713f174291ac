import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EVENT_COLUMNS, EventColumn, EventStore, IngestBatch, StoreUnavailable } from '#contract';
import { describeError } from '#platform';
import { describeDatabaseError, isDatabaseUnreachable } from './database-errors';

/** The column of `events` a per-event value goes to, with its type: an entry of EVENT_COLUMNS. */
type Column = Pick<EventColumn, 'column' | 'type'>;

/**
 * The columns of `events` a batch gives all its events, bound as $1 to $5 in this order (insertBatchParameters).
 * received_at and clock_skew_ms are written to the batch's receipt in `batches` as well.
 */
export const BATCH_COLUMNS: readonly Column[] = [
  { column: 'user_id', type: 'text' },
  { column: 'game_id', type: 'text' },
  { column: 'received_at', type: 'timestamptz' },
  { column: 'batch_id', type: 'uuid' },
  { column: 'clock_skew_ms', type: 'bigint' },
];

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * The batch INSERT for these event columns. One statement per batch whatever its size: each column travels as one
 * array parameter (after the batch's user_id, game_id, received_at, batch_id and clock_skew_ms). ON CONFLICT makes a
 * redelivered job or a client's retried batch a no-op instead of a duplicate. The receipt is written by the same
 * statement (a data-modifying CTE runs to completion whether or not the outer query reads it), so it commits exactly
 * when the events do; a batch whose events were all stored before still gets its receipt. A jsonb column travels as
 * one JSON array, unpacked in order (a missing value is JSON null there, stored as NULL): one JSON.stringify instead
 * of pg quoting and escaping each element of a jsonb[] literal, about a third of the worker's CPU per batch (measured
 * with `npm run bench`).
 */
export function insertBatchStatement(columns: readonly Column[]): string {
  const names = columns.map(({ column }) => quoted(column));
  const batchValues = BATCH_COLUMNS.map((_, i) => `$${i + 1}`);
  const first = BATCH_COLUMNS.length + 1;
  const arrays = columns.map(({ type }, i) => {
    const parameter = `$${i + first}`;
    return type === 'jsonb'
      ? `ARRAY(SELECT NULLIF(j.value, 'null'::jsonb) FROM jsonb_array_elements(${parameter}::jsonb) WITH ORDINALITY AS j ORDER BY j.ordinality)`
      : `${parameter}::${type}[]`;
  });
  return `
  WITH inserted AS (
    INSERT INTO "events" (${[...BATCH_COLUMNS.map(({ column }) => quoted(column)), ...names].join(', ')})
    SELECT ${batchValues.join(', ')}, ${names.map((name) => `e.${name}`).join(', ')}
    FROM unnest(${arrays.join(', ')}) AS e(${names.join(', ')})
    ON CONFLICT ON CONSTRAINT "pk_events" DO NOTHING
    RETURNING 1
  ), receipt AS (
    INSERT INTO "batches" ("batch_id", "user_id", "accepted", "received_at", "clock_skew_ms")
    VALUES ($4, $1, $${columns.length + first}, $3, $5)
    ON CONFLICT ON CONSTRAINT "pk_batches" DO NOTHING
  )
  SELECT count(*)::int AS "inserted" FROM inserted`;
}

/** The parameters of insertBatchStatement(columns) for a batch whose events have a value per column. */
export function insertBatchParameters(batch: IngestBatch<Record<string, unknown>>, columns: readonly Column[]): unknown[] {
  const { events } = batch;
  return [
    batch.user_id,
    batch.game_id,
    batch.received_at,
    batch.batch_id,
    batch.clock_skew_ms,
    ...columns.map(({ column, type }) => {
      const values = events.map((event) => event[column]);
      return type === 'jsonb' ? JSON.stringify(values) : values;
    }),
    events.length,
  ];
}

const COLUMNS: readonly Column[] = Object.values(EVENT_COLUMNS);
const INSERT_BATCH = insertBatchStatement(COLUMNS);

@Injectable()
export class TypeOrmEventStore extends EventStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async insertBatch(batch: IngestBatch): Promise<number> {
    let rows: Array<{ inserted: number }>;
    try {
      rows = await this.dataSource.query(INSERT_BATCH, insertBatchParameters(batch, COLUMNS));
    } catch (error) {
      if (isDatabaseUnreachable(error)) throw new StoreUnavailable(`PostgreSQL unreachable: ${describeError(error)}`, { cause: error });
      throw error;
    }
    return rows[0]?.inserted ?? 0;
  }

  describeFailure(error: unknown): string | undefined {
    return describeDatabaseError(error);
  }
}
