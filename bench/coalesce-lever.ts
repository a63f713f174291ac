import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { createDatabase, deletePrefix, freePort } from '../support/local-services';
import { exited, ROOT, startCommand } from '../support/service-process';
import {
  decodeBatchJob,
  encodeBatchJob,
  EVENT_COLUMNS as COLUMN_TABLE,
  INGEST_BATCH_JOB,
  INGEST_QUEUE,
  IngestBatch,
  IngestBatchJobData,
} from '#contract';
import { insertBatchesParameters, insertBatchesStatement } from '#persistence';
import { copyText, CopyFrom, measureCopyCeiling, withBenchDatabase } from './copy-ceiling';
import { BenchBatch, makeBatches } from './fixtures';
import { cpuSecondsOf, sleep } from './stack';
import { round } from './stats';

/**
 * The "coalesced writes" lever (issue 15), PostgreSQL side: the rows/s of the worker's write statement for groups of
 * queued batches of 200 events, by statement shape and group size, one statement after the other over one connection,
 * as ratios to the per-batch COPY ceiling (one COPY of 200 rows at a time) and to a bulk COPY ceiling (5,000 rows at a
 * time) measured in the same round. Every variant and ceiling writes the same number of rows into a database of its
 * own; the rounds rotate the order of the variants (the machine is noisy) and the report gives medians.
 *
 *   tsc -p tsconfig.bench.json && node dist/bench/coalesce-lever.js [--rounds 5] [--rows 100000]
 *
 * With --drain, the worker itself: a backlog of jobs queued before a worker process (apps/worker, started as
 * `npm run start:worker:prod` does) starts, and the rate at which it writes them, for each WORKER_CONCURRENCY of
 * --concurrency, in this tree and in the built tree of --before (another checkout, e.g. the commit before the lever).
 *
 *   node dist/bench/coalesce-lever.js --drain --before ../before --concurrency 4,32 [--rounds 3] [--rows 200000]
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

const FIXTURES = makeBatches({ users: 50, seed: 7 });

/** The job the gateway would queue for the i-th fixture, with a fresh batch id. */
function jobOf(i: number): IngestBatchJobData {
  const body = FIXTURES[i % FIXTURES.length];
  return encodeBatchJob({
    batch_id: randomUUID(),
    user_id: body.user_id,
    accepted: body.events.length,
    received_at: new Date().toISOString(),
    body: JSON.stringify(body),
  });
}

/** The batches a worker would decode from its jobs. */
function decodedBatches(count: number): IngestBatch[] {
  return Array.from({ length: count }, (_, i) => decodeBatchJob(jobOf(i)));
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

/** The per-batch (200 rows a COPY) and bulk (5,000 rows a COPY) ceilings of a round, `rows` rows each. */
async function ceilings(adminUrl: string, rows: number, round_: number): Promise<{ copyPerBatch: number; copyBulk: number }> {
  const ceiling = async (batches: BenchBatch[], size: number) =>
    (await measureCopyCeiling({ adminUrl, batches, durationSeconds: 0.001, minBatches: Math.ceil(rows / size) })).rowsPerSecond;
  const copyPerBatch = await ceiling(FIXTURES, 200);
  const copyBulk = await ceiling(makeBatches({ users: 4, seed: 7, eventsPerBatch: 5000 }), 5000);
  print(
    `round ${round_ + 1}: COPY ceilings ${Math.round(copyPerBatch)} rows/s (200 rows a COPY), ${Math.round(copyBulk)} (5,000 rows a COPY)`,
  );
  return { copyPerBatch, copyBulk };
}

interface DrainSample {
  rowsPerSecond: number;
  /** The worker process's CPU per 1,000 rows while it drained, ms. */
  workerCpuMs: number;
  batchesPerStatement: number;
}

/**
 * Queues `batches` jobs (the benchmark's fixtures) in a fresh prefix, starts the worker of the built tree `root` on a
 * fresh database, and times its writing from 10 % of the rows stored to all of them (its start-up left out).
 */
async function measureDrain(options: {
  adminUrl: string;
  redisUrl: string;
  root: string;
  concurrency: number;
  batches: number;
}): Promise<DrainSample> {
  const database = await createDatabase(options.adminUrl, 'bench_drain');
  const prefix = `bench-drain-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(options.redisUrl);
  const queue = new Queue(INGEST_QUEUE, { connection: redis, prefix });
  const db = new Client({ connectionString: database.url });
  let worker: ReturnType<typeof spawn> | undefined;
  try {
    const rows = options.batches * 200;
    for (let i = 0; i < options.batches; i += 100) {
      await queue.addBulk(
        Array.from({ length: Math.min(100, options.batches - i) }, (_, j) => {
          const data = jobOf(i + j);
          return { name: INGEST_BATCH_JOB, data, opts: { jobId: data.batch_id, removeOnComplete: true } };
        }),
      );
    }
    const { env, nodeArgs, entry } = startCommand('worker');
    worker = spawn(process.execPath, [...nodeArgs, entry], {
      cwd: options.root,
      env: {
        PATH: process.env.PATH ?? '',
        ...env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(await freePort()),
        OPS_PORT: String(await freePort()),
        DATABASE_URL: database.url,
        REDIS_URL: options.redisUrl,
        QUEUE_PREFIX: prefix,
        JWT_SECRET: randomUUID() + randomUUID(),
        WORKER_CONCURRENCY: String(options.concurrency),
      },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await db.connect();
    const count = async () => {
      const result = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM events').catch(() => undefined);
      return result?.rows[0].n ?? 0;
    };
    let from: { at: number; rows: number; cpu: number } | undefined;
    const deadline = performance.now() + 300_000;
    for (;;) {
      const stored = await count();
      if (from === undefined && stored >= rows / 10) from = { at: performance.now(), rows: stored, cpu: cpuSecondsOf(worker.pid ?? 0) };
      if (stored >= rows) break;
      if (performance.now() > deadline || worker.exitCode !== null) throw new Error(`worker drain: ${stored} of ${rows} rows stored`);
      await sleep(20);
    }
    const seconds = (performance.now() - from!.at) / 1000;
    const cpu = cpuSecondsOf(worker.pid ?? 0) - from!.cpu;
    // A statement's rows share their written_at (now(): its transaction's start).
    const [{ statements }] = (await db.query<{ statements: number }>('SELECT count(DISTINCT written_at)::int AS statements FROM events'))
      .rows;
    return {
      rowsPerSecond: (rows - from!.rows) / seconds,
      workerCpuMs: (cpu * 1000) / ((rows - from!.rows) / 1000),
      batchesPerStatement: options.batches / statements,
    };
  } finally {
    if (worker !== undefined) {
      worker.kill('SIGTERM');
      await exited(worker);
    }
    await db.end().catch(() => undefined);
    await queue.close();
    await deletePrefix(redis, prefix);
    redis.disconnect();
    await database.drop();
  }
}

async function drainRounds(options: {
  adminUrl: string;
  redisUrl: string;
  before?: string;
  concurrency: number[];
  rounds: number;
  rows: number;
}) {
  const trees = [
    { name: 'this tree', root: ROOT },
    ...(options.before === undefined ? [] : [{ name: 'before', root: resolve(options.before) }]),
  ];
  const configs = trees.flatMap((tree) =>
    options.concurrency.map((concurrency) => ({ ...tree, concurrency, label: `${tree.name}, WORKER_CONCURRENCY=${concurrency}` })),
  );
  const samples = new Map<string, DrainSample[]>();
  const ratios = new Map<string, Array<{ perBatch: number; bulk: number }>>();
  for (let round_ = 0; round_ < options.rounds; round_++) {
    const { copyPerBatch, copyBulk } = await ceilings(options.adminUrl, options.rows, round_);
    for (const config of configs.map((_, i) => configs[(i + round_) % configs.length])) {
      const sample = await measureDrain({
        ...options,
        root: config.root,
        concurrency: config.concurrency,
        batches: Math.ceil(options.rows / 200),
      });
      samples.set(config.label, [...(samples.get(config.label) ?? []), sample]);
      ratios.set(config.label, [
        ...(ratios.get(config.label) ?? []),
        { perBatch: sample.rowsPerSecond / copyPerBatch, bulk: sample.rowsPerSecond / copyBulk },
      ]);
      print(
        `  ${config.label}: ${Math.round(sample.rowsPerSecond)} rows/s, worker CPU ${round(sample.workerCpuMs, 2)} ms per 1,000 rows, ${round(sample.batchesPerStatement, 1)} batches per statement`,
      );
    }
  }
  print(`\nmedians of ${options.rounds} rounds, a backlog of ${options.rows} rows drained by one worker process:`);
  print('| worker | rows/s | × per-batch COPY | × 5,000-row COPY | worker CPU ms per 1,000 rows | batches per statement |');
  print('| --- | --- | --- | --- | --- | --- |');
  for (const { label } of configs) {
    const list = samples.get(label) ?? [];
    const r = ratios.get(label) ?? [];
    print(
      `| ${label} | ${Math.round(median(list.map((s) => s.rowsPerSecond)))} | ${round(median(r.map((x) => x.perBatch)), 2)} | ${round(median(r.map((x) => x.bulk)), 2)} | ${round(median(list.map((s) => s.workerCpuMs)), 2)} | ${round(median(list.map((s) => s.batchesPerStatement)), 1)} |`,
    );
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      rows: { type: 'string', default: '100000' },
      'admin-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
      'redis-url': { type: 'string', default: 'redis://127.0.0.1:6379' },
      drain: { type: 'boolean', default: false },
      before: { type: 'string' },
      concurrency: { type: 'string', default: '4,32' },
    },
  });
  const rounds = Number(values.rounds);
  const rows = Number(values.rows);
  const adminUrl = values['admin-url'];
  if (values.drain) {
    const concurrency = values.concurrency.split(',').map(Number);
    await drainRounds({ adminUrl, redisUrl: values['redis-url'], before: values.before, concurrency, rounds, rows });
    return;
  }
  const samples = new Map<string, Array<Sample & { perBatch: number; bulk: number }>>();
  for (let round_ = 0; round_ < rounds; round_++) {
    const { copyPerBatch, copyBulk } = await ceilings(adminUrl, rows, round_);
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
