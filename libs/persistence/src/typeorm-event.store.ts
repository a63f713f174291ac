import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { EVENT_COLUMNS, EventColumn, EventStore, IngestBatch, StoreUnavailable } from '#contract';
import { describeError } from '#platform';
import { describeDatabaseError, isDatabaseUnreachable } from './database-errors';

/** The column of `events` a per-event value goes to, with its type: an entry of EVENT_COLUMNS. */
type Column = Pick<EventColumn, 'column' | 'type'>;

/**
 * The columns of `events` a batch gives all its events, each bound as one array with an element per batch, in this
 * order (insertBatchesParameters). received_at and clock_skew_ms are written to the batch's receipt in `batches` as well.
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
 * The INSERT of a group of batches for these event columns: one statement whatever the number of batches and events.
 * Each batch-level column travels as one array parameter with an element per batch (BATCH_COLUMNS, then the events'
 * count), unnested WITH ORDINALITY; each event column as one array over the events of all the batches, after an array
 * giving each event the position of its batch. ON CONFLICT makes a redelivered job or a client's retried batch a no-op
 * instead of a duplicate. The receipts are written by the same statement (a data-modifying CTE runs to completion
 * whether or not the outer query reads it), so each commits exactly when its events do; a batch whose events were all
 * stored before still gets its receipt. The statement answers a row per batch, in order, with the rows it inserted
 * (counted by batch_id: a group never holds one batch_id twice). A jsonb column travels as one JSON array, unpacked in
 * order (a missing value is JSON null there, stored as NULL): one JSON.stringify instead of pg quoting and escaping
 * each element of a jsonb[] literal, about a third of the worker's CPU per batch (measured with `npm run bench`).
 */
export function insertBatchesStatement(columns: readonly Column[]): string {
  const names = columns.map(({ column }) => quoted(column));
  const batchNames = BATCH_COLUMNS.map(({ column }) => quoted(column));
  const batchArrays = [...BATCH_COLUMNS.map(({ type }, i) => `$${i + 1}::${type}[]`), `$${BATCH_COLUMNS.length + 1}::int[]`];
  const first = BATCH_COLUMNS.length + 3;
  const arrays = columns.map(({ type }, i) => {
    const parameter = `$${i + first}`;
    return type === 'jsonb'
      ? `ARRAY(SELECT NULLIF(j.value, 'null'::jsonb) FROM jsonb_array_elements(${parameter}::jsonb) WITH ORDINALITY AS j ORDER BY j.ordinality)`
      : `${parameter}::${type}[]`;
  });
  return `
  WITH b AS (
    SELECT * FROM unnest(${batchArrays.join(', ')}) WITH ORDINALITY AS b(${batchNames.join(', ')}, "accepted", "position")
  ), inserted AS (
    INSERT INTO "events" (${[...batchNames, ...names].join(', ')})
    SELECT ${[...batchNames.map((name) => `b.${name}`), ...names.map((name) => `e.${name}`)].join(', ')}
    FROM unnest($${BATCH_COLUMNS.length + 2}::int[], ${arrays.join(', ')}) AS e("position", ${names.join(', ')})
    JOIN b ON b."position" = e."position"
    ON CONFLICT ON CONSTRAINT "pk_events" DO NOTHING
    RETURNING "batch_id"
  ), receipts AS (
    INSERT INTO "batches" ("batch_id", "user_id", "accepted", "received_at", "clock_skew_ms")
    SELECT "batch_id", "user_id", "accepted", "received_at", "clock_skew_ms" FROM b
    ON CONFLICT ON CONSTRAINT "pk_batches" DO NOTHING
  )
  SELECT count(i."batch_id")::int AS "inserted"
  FROM b LEFT JOIN inserted i ON i."batch_id" = b."batch_id"
  GROUP BY b."position" ORDER BY b."position"`;
}

/** The parameters of insertBatchesStatement(columns) for batches whose events have a value per column. */
export function insertBatchesParameters(
  batches: ReadonlyArray<IngestBatch<Record<string, unknown>>>,
  columns: readonly Column[],
): unknown[] {
  const positions: number[] = [];
  batches.forEach(({ events }, i) => {
    for (let n = 0; n < events.length; n++) positions.push(i + 1);
  });
  const events = batches.flatMap((batch) => batch.events);
  return [
    ...BATCH_COLUMNS.map(({ column }) => batches.map((batch) => batch[column as keyof IngestBatch])),
    batches.map((batch) => batch.events.length),
    positions,
    ...columns.map(({ column, type }) => {
      const values = events.map((event) => event[column]);
      return type === 'jsonb' ? JSON.stringify(values) : values;
    }),
  ];
}

const COLUMNS: readonly Column[] = Object.values(EVENT_COLUMNS);
const INSERT_BATCHES = insertBatchesStatement(COLUMNS);

@Injectable()
export class TypeOrmEventStore extends EventStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async insertBatches(batches: readonly IngestBatch[]): Promise<number[]> {
    let rows: Array<{ inserted: number }>;
    try {
      rows = await this.dataSource.query(INSERT_BATCHES, insertBatchesParameters(batches, COLUMNS));
    } catch (error) {
      if (isDatabaseUnreachable(error)) throw new StoreUnavailable(`PostgreSQL unreachable: ${describeError(error)}`, { cause: error });
      throw error;
    }
    return batches.map((_, i) => rows[i]?.inserted ?? 0);
  }

  describeFailure(error: unknown): string | undefined {
    return describeDatabaseError(error);
  }
}
