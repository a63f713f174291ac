import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Client, Connection, Submittable } from 'pg';
import type { QueryRunner } from 'typeorm';
import { MIGRATIONS } from '#persistence';
import type { BenchBatch } from './fixtures';
import { percentile } from './stats';

/** The protocol messages of pg's Connection that COPY FROM STDIN needs (pg has them; its typings do not list them). */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

/**
 * `COPY … FROM STDIN` with one payload, through pg's own connection: the same wire protocol pg-copy-streams speaks,
 * without the dependency. pg calls these handlers while this object is its active query.
 */
export class CopyFrom implements Submittable {
  private rowCount = 0;
  readonly done: Promise<number>;
  private resolve!: (rows: number) => void;
  private reject!: (error: Error) => void;

  constructor(
    private readonly text: string,
    private readonly payload: Buffer,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  submit(connection: Connection): void {
    (connection as unknown as CopyConnection).query(this.text);
  }

  handleCopyInResponse(connection: Connection): void {
    const copy = connection as unknown as CopyConnection;
    copy.sendCopyFromChunk(this.payload);
    copy.endCopyFrom();
  }

  handleCommandComplete(message: { text: string }): void {
    this.rowCount = Number(/^COPY (\d+)/.exec(message.text)?.[1] ?? 0);
  }

  // pg drops a query that failed at once: no ReadyForQuery reaches it.
  handleError(error: Error): void {
    this.reject(error);
  }

  handleReadyForQuery(): void {
    this.resolve(this.rowCount);
  }
}

export const COPY_EVENTS = `COPY "events" ("user_id", "event_id", "game_id", "type", "custom_event_name", "occurred_at", "received_at", "customdata", "batch_id") FROM STDIN`;

/** COPY's text format: backslash, tab, newline and carriage return are escaped; `\N` is NULL. */
export function copyText(value: string | null): string {
  if (value === null) return '\\N';
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/**
 * The parts of each row that do not change between copies of a batch, converted once as the worker receives them
 * from the queue (UTC instants, customdata as JSON): `<user>\t` … `\t<game>\t<type>\t<name>\t<occurred>\t` …
 */
interface RowTemplate {
  head: string;
  middle: string;
  tail: string;
}

function templates(batch: BenchBatch): RowTemplate[] {
  return batch.events.map((event) => ({
    head: `${copyText(batch.user_id)}\t`,
    middle: `\t${copyText(batch.game_id)}\t${copyText(event.type)}\t${copyText(event.customEventName ?? null)}\t${new Date(event.timestamp).toISOString()}\t`,
    tail: `\t${copyText(event.customdata === undefined ? null : JSON.stringify(event.customdata))}\t`,
  }));
}

export interface CopyCeilingResult {
  /** Rows each COPY carried: one batch's (the per-batch ceiling), or many batches' (the bulk ceiling). */
  rowsPerCopy?: number;
  /** COPY statements run. */
  batches: number;
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  batchesPerSecond: number;
  /** Time of one COPY (one batch), client side. */
  copyMs: { p50: number; p99: number; max: number };
}

/**
 * Runs `use` with a client of a database of its own (`<prefix>_<random>`), built by the service's own migrations (same
 * tables, primary keys, indexes and defaults as the service writes to), dropped afterwards.
 */
export async function withBenchDatabase<T>(adminUrl: string, prefix: string, use: (client: Client) => Promise<T>): Promise<T> {
  const name = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const client = new Client({ connectionString: url.toString() });
  try {
    await client.connect();
    // TypeORM's QueryRunner.query resolves to the rows (the partition migration iterates them), not to pg's result.
    const runner = {
      query: async (sql: string, parameters?: unknown[]): Promise<unknown[]> => (await client.query(sql, parameters)).rows as unknown[],
    } as unknown as QueryRunner;
    for (const Migration of MIGRATIONS) await new Migration().up(runner);
    return await use(client);
  } finally {
    await client.end().catch(() => undefined);
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

/**
 * The database ceiling: the same rows as the load test, one `COPY … FROM STDIN` per batch over one connection (or
 * per `batchesPerCopy` batches: the bulk ceiling), into a fresh `events` table built by the service's own migrations
 * (same primary key, indexes and defaults), for `durationSeconds` (at least `minBatches` COPYs).
 */
export async function measureCopyCeiling(options: {
  adminUrl: string;
  batches: readonly BenchBatch[];
  durationSeconds: number;
  minBatches: number;
  batchesPerCopy?: number;
}): Promise<CopyCeilingResult> {
  const batchesPerCopy = options.batchesPerCopy ?? 1;
  return withBenchDatabase(options.adminUrl, 'bench_copy', async (client) => {
    const rowsOf = options.batches.map(templates);
    const times: number[] = [];
    let rows = 0;
    const started = performance.now();
    const deadline = started + options.durationSeconds * 1000;
    let next = 0;
    while (times.length < options.minBatches || performance.now() < deadline) {
      const receivedAt = new Date().toISOString();
      let text = '';
      for (let b = 0; b < batchesPerCopy; b++) {
        const batchId = randomUUID();
        for (const row of rowsOf[next++ % rowsOf.length])
          text += `${row.head}${randomUUID()}${row.middle}${receivedAt}${row.tail}${batchId}\n`;
      }
      const before = performance.now();
      const copy = client.query(new CopyFrom(COPY_EVENTS, Buffer.from(text, 'utf8')));
      rows += await copy.done;
      times.push(performance.now() - before);
    }
    const seconds = (performance.now() - started) / 1000;
    const { rows: counted } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM events');
    if (counted[0].n !== rows) throw new Error(`COPY ceiling: ${rows} rows copied but ${counted[0].n} stored`);
    return {
      rowsPerCopy: rows / times.length,
      batches: times.length,
      rows,
      seconds,
      rowsPerSecond: rows / seconds,
      batchesPerSecond: times.length / seconds,
      copyMs: { p50: percentile(times, 0.5), p99: percentile(times, 0.99), max: Math.max(...times) },
    };
  });
}
