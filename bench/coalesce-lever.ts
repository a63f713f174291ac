import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { Client } from 'pg';
import { decodeBatchJob, encodeBatchJob, EVENT_COLUMNS as COLUMN_TABLE, IngestBatch } from '#contract';
import { insertBatchesParameters, insertBatchesStatement } from '#persistence';
import { copyText, CopyFrom, measureCopyCeiling, withBenchDatabase } from './copy-ceiling';
import { makeBatches } from './fixtures';
import { round } from './stats';

/**
 * The "coalesced writes" lever (issue 15), PostgreSQL side: the rows/s of the worker's write statement for groups of
 * queued batches of 200 events, by statement shape and group size, one statement after the other over one connection,
 * as ratios to the per-batch COPY ceiling (one COPY of 200 rows at a time) and to a bulk COPY ceiling (5,000 rows at a
 * time) measured in the same round. Every variant and ceiling writes the same number of rows into a database of its
 * own; the rounds rotate the order of the variants (the machine is noisy) and the report gives medians.
 *
 *   tsc -p tsconfig.bench.json && node dist/bench/coalesce-lever.js [--rounds 5] [--rows 100000]
 */

type Write = (client: Client, batches: readonly IngestBatch[]) => Promise<number[]>;

const BATCH_COLUMNS = ['user_id', 'game_id', 'received_at', 'batch_id', 'clock_skew_ms'] as const;
const EVENT_COLUMNS = ['event_id', 'type', 'custom_event_name', 'occurred_at', 'customdata'] as const;

/** (a) the service's statement (TypeOrmEventStore.insertBatches): INSERT … SELECT FROM unnest(arrays). */
const COLUMNS = Object.values(COLUMN_TABLE);
const UNNEST = insertBatchesStatement(COLUMNS);
const unnestWrite: Write = async (client, batches) =>
  (await client.query<{ inserted: number }>(UNNEST, insertBatchesParameters(batches, COLUMNS))).rows.map((row) => row.inserted);

/** Rows inserted by batch, in the order of `batches`, from `RETURNING batch_id` counted by batch_id. */
function countsOf(batches: readonly IngestBatch[], rows: ReadonlyArray<{ batch_id: string; inserted: number }>): number[] {
  const counts = new Map(rows.map((row) => [row.batch_id, row.inserted]));
  return batches.map((batch) => counts.get(batch.batch_id) ?? 0);
}

const RECEIPTS = `INSERT INTO "batches" ("batch_id", "user_id", "accepted", "received_at", "clock_skew_ms")`;
const EVENTS = `INSERT INTO "events" (${[...BATCH_COLUMNS, ...EVENT_COLUMNS].map((c) => `"${c}"`).join(', ')})`;
const COUNTS = `SELECT "batch_id", count(*)::int AS "inserted" FROM inserted GROUP BY "batch_id"`;

/** (b) one multi-row VALUES: a parameter per event value, the batch's own values once per batch. */
const valuesWrite: Write = async (client, batches) => {
  const values: unknown[] = [];
  const p = (value: unknown, type: string) => {
    values.push(value);
    return `$${values.length}::${type}`;
  };
  const rows: string[] = [];
  const receipts: string[] = [];
  for (const batch of batches) {
    const b = [p(batch.user_id, 'text'), p(batch.game_id, 'text'), p(batch.received_at, 'timestamptz'), p(batch.batch_id, 'uuid')];
    const skew = p(batch.clock_skew_ms, 'bigint');
    receipts.push(`(${b[3]}, ${b[0]}, ${p(batch.events.length, 'int')}, ${b[2]}, ${skew})`);
    for (const event of batch.events) {
      const e = [
        p(event.event_id, 'uuid'),
        p(event.type, 'text'),
        p(event.custom_event_name, 'text'),
        p(event.occurred_at, 'timestamptz'),
        p(event.customdata === null ? null : JSON.stringify(event.customdata), 'jsonb'),
      ];
      rows.push(`(${[...b, skew, ...e].join(', ')})`);
    }
  }
  const text = `WITH inserted AS (${EVENTS} VALUES ${rows.join(', ')} ON CONFLICT ON CONSTRAINT "pk_events" DO NOTHING RETURNING "batch_id"),
    receipts AS (${RECEIPTS} VALUES ${receipts.join(', ')} ON CONFLICT ON CONSTRAINT "pk_batches" DO NOTHING)
    ${COUNTS}`;
  return countsOf(batches, (await client.query<{ batch_id: string; inserted: number }>(text, values)).rows);
};

/** (c) COPY of the events into a temporary staging table (created once per connection), then one INSERT … SELECT. */
function copyWrite(): Write {
  const prepared = new WeakSet<Client>();
  const copyStaging = `COPY "staging" ("position", ${EVENT_COLUMNS.map((c) => `"${c}"`).join(', ')}) FROM STDIN`;
  const insert = `WITH b AS (
      SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::uuid[], $5::bigint[], $6::int[]) WITH ORDINALITY
        AS b("user_id", "game_id", "received_at", "batch_id", "clock_skew_ms", "accepted", "position")
    ), inserted AS (
      ${EVENTS} SELECT ${[...BATCH_COLUMNS.map((c) => `b."${c}"`), ...EVENT_COLUMNS.map((c) => `s."${c}"`)].join(', ')}
      FROM "staging" s JOIN b ON b."position" = s."position"
      ON CONFLICT ON CONSTRAINT "pk_events" DO NOTHING RETURNING "batch_id"
    ), receipts AS (
      ${RECEIPTS} SELECT "batch_id", "user_id", "accepted", "received_at", "clock_skew_ms" FROM b
      ON CONFLICT ON CONSTRAINT "pk_batches" DO NOTHING
    )
    ${COUNTS}`;
  return async (client, batches) => {
    if (!prepared.has(client)) {
      await client.query(
        `CREATE TEMP TABLE "staging" ("position" int, "event_id" uuid, "type" text, "custom_event_name" text, "occurred_at" timestamptz, "customdata" jsonb) ON COMMIT DELETE ROWS`,
      );
      prepared.add(client);
    }
    let text = '';
    batches.forEach((batch, i) => {
      for (const event of batch.events) {
        const customdata = event.customdata === null ? null : JSON.stringify(event.customdata);
        text += `${i + 1}\t${event.event_id}\t${copyText(event.type)}\t${copyText(event.custom_event_name)}\t${event.occurred_at}\t${copyText(customdata)}\n`;
      }
    });
    await client.query('BEGIN');
    try {
      await client.query(new CopyFrom(copyStaging, Buffer.from(text, 'utf8'))).done;
      const { rows } = await client.query<{ batch_id: string; inserted: number }>(insert, [
        ...BATCH_COLUMNS.map((column) => batches.map((batch) => batch[column])),
        batches.map((batch) => batch.events.length),
      ]);
      await client.query('COMMIT');
      return countsOf(batches, rows);
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    }
  };
}

interface Variant {
  name: string;
  group: number;
  write: Write;
}

const VARIANTS: readonly Variant[] = [
  { name: '(a) unnest, 1 batch (before: a statement per job)', group: 1, write: unnestWrite },
  { name: '(a) unnest, 10 batches (2,000 rows)', group: 10, write: unnestWrite },
  { name: '(a) unnest, 20 batches (4,000 rows)', group: 20, write: unnestWrite },
  { name: '(a) unnest, 25 batches (5,000 rows)', group: 25, write: unnestWrite },
  { name: '(b) VALUES, 20 batches (4,000 rows)', group: 20, write: valuesWrite },
  { name: '(c) COPY + INSERT … SELECT, 20 batches (4,000 rows)', group: 20, write: copyWrite() },
  { name: '(c) COPY + INSERT … SELECT, 25 batches (5,000 rows)', group: 25, write: copyWrite() },
];

/** The batches a worker would decode from its jobs: the benchmark's fixtures with fresh batch ids. */
function decodedBatches(count: number): IngestBatch[] {
  const fixtures = makeBatches({ users: 50, seed: 7 });
  return Array.from({ length: count }, (_, i) => {
    const body = fixtures[i % fixtures.length];
    const job = encodeBatchJob({
      batch_id: randomUUID(),
      user_id: body.user_id,
      accepted: body.events.length,
      received_at: new Date().toISOString(),
      body: JSON.stringify(body),
    });
    return decodeBatchJob(job);
  });
}

interface Sample {
  rowsPerSecond: number;
  /** This process's CPU (statement building, pg) per 1,000 rows, ms. */
  clientCpuMs: number;
}

async function measureVariant(adminUrl: string, variant: Variant, batches: readonly IngestBatch[]): Promise<Sample> {
  return withBenchDatabase(adminUrl, 'bench_coalesce', async (client) => {
    const rows = batches.reduce((sum, batch) => sum + batch.events.length, 0);
    const cpu = process.cpuUsage();
    const started = performance.now();
    let inserted = 0;
    for (let i = 0; i < batches.length; i += variant.group) {
      const counts = await variant.write(client, batches.slice(i, i + variant.group));
      inserted += counts.reduce((sum, n) => sum + n, 0);
    }
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    if (inserted !== rows) throw new Error(`${variant.name}: ${inserted} rows counted, ${rows} written`);
    const [{ n }] = (await client.query<{ n: number }>('SELECT count(*)::int AS n FROM events')).rows;
    const [{ r }] = (await client.query<{ r: number }>('SELECT count(*)::int AS r FROM batches')).rows;
    if (n !== rows || r !== batches.length) throw new Error(`${variant.name}: ${n} rows and ${r} receipts stored`);
    return { rowsPerSecond: rows / seconds, clientCpuMs: (used.user + used.system) / 1000 / (rows / 1000) };
  });
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

const print = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      rows: { type: 'string', default: '100000' },
      'admin-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
    },
  });
  const rounds = Number(values.rounds);
  const rows = Number(values.rows);
  const adminUrl = values['admin-url'];
  const perBatch = makeBatches({ users: 50, seed: 7 });
  const bulk = makeBatches({ users: 4, seed: 7, eventsPerBatch: 5000 });
  const samples = new Map<string, Array<Sample & { perBatch: number; bulk: number }>>();
  for (let round_ = 0; round_ < rounds; round_++) {
    const ceiling = async (batches: typeof perBatch, size: number) =>
      (await measureCopyCeiling({ adminUrl, batches, durationSeconds: 0.001, minBatches: Math.ceil(rows / size) })).rowsPerSecond;
    const copyPerBatch = await ceiling(perBatch, 200);
    const copyBulk = await ceiling(bulk, 5000);
    print(
      `round ${round_ + 1}: COPY ceilings ${Math.round(copyPerBatch)} rows/s (200 rows a COPY), ${Math.round(copyBulk)} (5,000 rows a COPY)`,
    );
    // Each round starts at another variant, so that no variant always runs first or last.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round_) % VARIANTS.length]);
    for (const variant of order) {
      const sample = await measureVariant(adminUrl, variant, decodedBatches(Math.ceil(rows / 200)));
      const list = samples.get(variant.name) ?? [];
      list.push({ ...sample, perBatch: sample.rowsPerSecond / copyPerBatch, bulk: sample.rowsPerSecond / copyBulk });
      samples.set(variant.name, list);
      print(`  ${variant.name}: ${Math.round(sample.rowsPerSecond)} rows/s, client CPU ${round(sample.clientCpuMs, 2)} ms per 1,000 rows`);
    }
  }
  print(`\nmedians of ${rounds} rounds, ${rows} rows per variant, one connection:`);
  print('| variant | rows/s | × per-batch COPY | × 5,000-row COPY | client CPU ms per 1,000 rows |');
  print('| --- | --- | --- | --- | --- |');
  for (const variant of VARIANTS) {
    const list = samples.get(variant.name) ?? [];
    const m = (pick: (sample: (typeof list)[number]) => number) => median(list.map(pick));
    print(
      `| ${variant.name} | ${Math.round(m((s) => s.rowsPerSecond))} | ${round(
        m((s) => s.perBatch),
        2,
      )} | ${round(
        m((s) => s.bulk),
        2,
      )} | ${round(
        m((s) => s.clientCpuMs),
        2,
      )} |`,
    );
  }
}

void main().catch((error: unknown) => {
  process.stderr.write(`${String(error instanceof Error ? error.stack : error)}\n`);
  process.exitCode = 1;
});
