import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Pool } from 'pg';
import { INGEST_QUEUE } from '#contract';
import { queueShards } from '#pipeline';
import { EVENTS_PER_BATCH } from './fixtures';
import type { LoadResult } from './load-protocol';
import { round, slope } from './stats';
import { sleep } from './stack';

export type Log = (line: string) => void;

const int = (value: number): string => Math.round(value).toLocaleString('en-US');

export function describeEndToEnd(name: string, e2e: EndToEnd): string {
  return (
    `${name}: accepted ${int(e2e.load.eventsPerSecond)} events/s, written ${int(e2e.writtenPerSecond)} rows/s, ` +
    `lag p50 ${int(e2e.lag.p50Ms)} ms p99 ${int(e2e.lag.p99Ms)} ms, buffer max ${int(e2e.buffer.maxEvents)} ` +
    `(${e2e.buffer.bounded ? 'bounded' : `growing ${int(e2e.buffer.growthPerSecond)}/s`}), drained in ${e2e.drainSeconds} s`
  );
}

/**
 * A stack's queues (one per shard of its QUEUE_PREFIX and QUEUE_SHARDS), the buffered-events counters beside them,
 * and the database its worker writes to.
 */
export interface Sink {
  redis: Redis;
  prefix: string;
  counterKeys: string[];
  queues: Queue[];
  /** Undefined when the target's database is unknown (--url without --database-url). */
  db?: Pool;
}

export function sinkFor(redis: Redis, redisUrl: string, prefix: string, shards: number, db?: Pool): Sink {
  const url = new URL(redisUrl);
  const connection = { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0) };
  const queueShardsOf = queueShards({ prefix, shards });
  return {
    redis,
    prefix,
    counterKeys: queueShardsOf.map((shard) => shard.counterKey),
    queues: queueShardsOf.map((shard) => new Queue(INGEST_QUEUE, { prefix: shard.prefix, connection })),
    db,
  };
}

export async function closeSink(sink: Sink): Promise<void> {
  await Promise.all(sink.queues.map((queue) => queue.close()));
}

/** The service's own count of events accepted and not yet written (what a 202 reports as buffered), every shard's. */
export async function bufferedEvents(sink: Sink): Promise<number> {
  const counts = await sink.redis.mget(...sink.counterKeys);
  return counts.reduce((sum, count) => sum + Number(count ?? 0), 0);
}

/** Jobs not written yet, in every shard: waiting, active, delayed (a retry) or prioritized. */
export async function pendingJobs(sink: Sink): Promise<number> {
  let pending = 0;
  for (const queue of sink.queues) {
    const counts = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized');
    pending += Object.values(counts).reduce((sum, count) => sum + count, 0);
  }
  return pending;
}

/**
 * Waits until every accepted batch is written: no job left in the queue. (The buffered count should then be 0; a
 * Redis call that times out after it ran can leave it off, which the report shows as drift.) False on timeout.
 */
export async function drain(sink: Sink, timeoutSeconds: number): Promise<boolean> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  while ((await pendingJobs(sink)) > 0) {
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
  return true;
}

export function describeLoad(name: string, result: LoadResult): string {
  const codes = Object.entries(result.statusCodes)
    .map(([code, count]) => `${code}×${count}`)
    .join(' ');
  const cpu = Object.entries(result.cpuMsPerBatch ?? {})
    .map(([process, ms]) => ` ${process} ${ms} ms`)
    .join(',');
  return (
    `${name.padEnd(12)} c=${String(result.connections).padStart(3)}${result.overallRate === undefined ? '' : ` rate=${result.overallRate}/s`}` +
    `  ${Math.round(result.requestsPerSecond).toLocaleString('en-US').padStart(7)} req/s` +
    `  ${Math.round(result.eventsPerSecond).toLocaleString('en-US').padStart(10)} events/s` +
    `  p50 ${result.latencyMs.p50} ms  p99 ${result.latencyMs.p99} ms  max ${result.latencyMs.max} ms  [${codes}]` +
    (cpu === '' ? '' : `  CPU per batch:${cpu}`)
  );
}

/** Runs one load test against the target under measurement: `connections` for `seconds`, at most `rate` req/s. */
export type Runner = (connections: number, seconds: number, rate?: number) => Promise<LoadResult>;

/**
 * Runs the load at each connection count in turn. `between` runs after every step (drain the buffer, or clear the
 * queue of a gateway without a worker), so that each step starts from the same state.
 */
export async function sweep(
  run: Runner,
  levels: readonly number[],
  seconds: number,
  name: string,
  log: Log,
  between: () => Promise<void>,
): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  for (const connections of levels) {
    const result = await run(connections, seconds);
    log(describeLoad(name, result));
    results.push(result);
    await between();
  }
  return results;
}

export interface LagStats {
  batches: number;
  events: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Accept-to-written lag of the batches received in [from, to): `written_at` (the writing transaction's start, set by
 * PostgreSQL) minus `received_at` (when the gateway accepted the batch). Both clocks are this machine's.
 */
export async function lagOf(db: Pool, from: number, to: number): Promise<LagStats> {
  const { rows } = await db.query<{ batches: number; events: string; p50: number | null; p99: number | null; max: number | null }>(
    `SELECT count(*)::int AS batches, coalesce(sum(accepted), 0)::text AS events,
            percentile_cont(0.5) WITHIN GROUP (ORDER BY lag) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY lag) AS p99,
            max(lag) AS max
       FROM (SELECT accepted, extract(epoch FROM written_at - received_at) * 1000 AS lag
               FROM batches
              WHERE received_at >= to_timestamp($1::float8 / 1000) AND received_at < to_timestamp($2::float8 / 1000)) AS b`,
    [from, to],
  );
  const row = rows[0];
  return {
    batches: row.batches,
    events: Number(row.events),
    p50Ms: round(row.p50 ?? 0, 1),
    p99Ms: round(row.p99 ?? 0, 1),
    maxMs: round(row.max ?? 0, 1),
  };
}

export interface EndToEnd {
  load: LoadResult;
  loadSeconds: number;
  /** Events in 202 answers. */
  acceptedEvents: number;
  /** Rows written while the load ran, per second of load: the sustained write rate. */
  writtenPerSecond: number;
  /** Rows per second written after the load stopped, while the backlog drained (when it took a second or more). */
  backlogWrittenPerSecond?: number;
  /** Rows written per second of wall clock, second by second from the start of the load (drain included). */
  writtenSeries: number[];
  lag: LagStats;
  buffer: {
    /** [seconds since the start, buffered events]. */
    series: Array<[number, number]>;
    maxEvents: number;
    /** Least-squares growth over the second half of the load, events/s; about 0 when the writer keeps up. */
    growthPerSecond: number;
    /** Growth as a share of the accept rate; "bounded" when it is under 5 %. */
    growthShare: number;
    bounded: boolean;
  };
  drained: boolean;
  drainSeconds: number;
  /** The service's buffered-events count once no job is left: 0 unless its bookkeeping drifted. */
  counterAfterDrain: number;
}

/**
 * An end-to-end run: `connections` for `seconds` (at most `rate` req/s when given), sampling the buffer depth; then
 * waits for the buffer to drain and reads from PostgreSQL what was written when, and each batch's lag.
 */
export async function endToEnd(
  run: Runner,
  connections: number,
  seconds: number,
  sink: Sink & { db: Pool },
  drainTimeoutSeconds: number,
  rate?: number,
): Promise<EndToEnd> {
  const series: Array<[number, number]> = [];
  const start = Date.now();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      series.push([round((Date.now() - start) / 1000, 2), await bufferedEvents(sink)]);
      await sleep(250);
    }
  })();
  const result = await run(connections, seconds, rate);
  const end = Date.now();
  const drained = await drain(sink, drainTimeoutSeconds);
  const drainSeconds = (Date.now() - end) / 1000;
  sampling = false;
  await sampler;
  series.push([round((Date.now() - start) / 1000, 2), await bufferedEvents(sink)]);

  const { rows: perSecond } = await sink.db.query<{ s: number; n: string }>(
    `SELECT floor(extract(epoch FROM written_at) - $1::float8 / 1000)::int AS s, sum(accepted)::text AS n
       FROM batches WHERE written_at >= to_timestamp($1::float8 / 1000) GROUP BY 1 ORDER BY 1`,
    [start],
  );
  const writtenSeries: number[] = [];
  for (const { s, n } of perSecond) writtenSeries[s] = Number(n);
  for (let i = 0; i < writtenSeries.length; i++) writtenSeries[i] ??= 0;
  const { rows: during } = await sink.db.query<{ n: string }>(
    `SELECT coalesce(sum(accepted), 0)::text AS n FROM batches
      WHERE written_at >= to_timestamp($1::float8 / 1000) AND written_at < to_timestamp($2::float8 / 1000)`,
    [start, end],
  );
  // After the load: how fast the backlog was written with nothing else to do (only meaningful for a real backlog).
  const { rows: after } = await sink.db.query<{ n: string; seconds: number | null }>(
    `SELECT coalesce(sum(accepted), 0)::text AS n, extract(epoch FROM max(written_at) - to_timestamp($1::float8 / 1000))::float8 AS seconds
       FROM batches WHERE written_at >= to_timestamp($1::float8 / 1000)`,
    [end],
  );
  const drainSeconds2 = after[0].seconds ?? 0;
  const loadSeconds = (end - start) / 1000;
  const acceptedPerSecond = result.eventsPerSecond;
  const secondHalf = series.filter(([t]) => t >= loadSeconds / 2 && t <= loadSeconds);
  const growthPerSecond = slope(secondHalf);
  const growthShare = acceptedPerSecond > 0 ? growthPerSecond / acceptedPerSecond : 0;
  return {
    load: result,
    loadSeconds: round(loadSeconds, 2),
    acceptedEvents: result.accepted * EVENTS_PER_BATCH,
    writtenPerSecond: Number(during[0].n) / loadSeconds,
    backlogWrittenPerSecond: drainSeconds2 >= 1 ? Number(after[0].n) / drainSeconds2 : undefined,
    writtenSeries,
    lag: await lagOf(sink.db, start, end),
    buffer: {
      series,
      maxEvents: Math.max(0, ...series.map(([, depth]) => depth)),
      growthPerSecond: round(growthPerSecond),
      growthShare: round(growthShare, 3),
      bounded: growthShare < 0.05,
    },
    drained,
    drainSeconds: round(drainSeconds, 2),
    counterAfterDrain: await bufferedEvents(sink),
  };
}
