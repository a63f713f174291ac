// `npm run bench -- --stages unit-costs`: what one event, one job and one row cost each role on this machine, at a
// moderate fixed load (not saturation), with 1 gateway + 1 worker and with 2 + 2 at the same total load. CPU time per
// unit is what `npm run capacity` (scripts/capacity.ts) scales from; see docs/scaling.md.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { INGEST_QUEUE } from '#contract';
import type { Pool } from 'pg';
import { freePort } from '../support/local-services';
import { exited, type Role, type ServiceProcess } from '../support/service-process';
import { LoadGenerator, type LoadResult } from './load-protocol';
import type { BenchResult } from './result';
import { closeSink, drain, type Log, pendingJobs, type Sink, sinkFor } from './measure';
import { cpuSecondsOf, sleep } from './stack';
import { round } from './stats';

/** What the stage needs from the benchmark (bench/main.ts). */
export interface UnitCostHost {
  readonly log: Log;
  readonly problems: string[];
  defer(cleanup: () => Promise<unknown>): void;
  startService(role: Role, env: Record<string, string>): Promise<ServiceProcess>;
  freshStack(label: string, redis?: Redis): Promise<{ databaseUrl: string; prefix: string; db: Pool }>;
  serviceEnv(databaseUrl: string, prefix: string, extra?: Record<string, string>): Record<string, string>;
}

export interface UnitCostOptions {
  smoke: boolean;
  users: number;
  seed: number;
  secret: string;
  /** Offered load, events/s in all, split evenly over the gateways. */
  eventsPerSecond: number;
  seconds: number;
  repeats: number;
  drainTimeoutSeconds: number;
  serviceEnv: Record<string, string>;
}

/** One measured window: a topology, a request size, one repeat. Costs are CPU time (user + system) per unit. */
export interface UnitCostRun {
  gateways: number;
  workers: number;
  eventsPerRequest: number;
  repeat: number;
  seconds: number;
  requests: number;
  events: number;
  rows: number;
  jobs: number;
  gatewayUsPerEvent: number;
  gatewayUsPerRequest: number;
  workerUsPerRow: number;
  redisUsPerJob: number;
  /** The database's backends plus the cluster's walwriter, checkpointer and background writer (see `notes`). */
  postgresUsPerRow: number;
  /** pg_current_wal_lsn() over the window, per row. */
  walBytesPerRow: number;
  /** The figures above are net of each role's idle rate, measured for 3 s just before the window; these are not. */
  raw: { gatewayUsPerEvent: number; workerUsPerRow: number; redisUsPerJob: number; postgresUsPerRow: number; walBytesPerRow: number };
  /** Each role's CPU (ms) and the cluster's WAL (bytes) per second with no load, just before the window. */
  idlePerSecond: { gatewayCpuMs: number; workerCpuMs: number; redisCpuMs: number; postgresCpuMs: number; walBytes: number };
  /** Where Redis spends its time: the commands (EVALSHA is BullMQ's Lua scripts) by time inside them, per job. */
  redisCommands: Array<{ command: string; callsPerJob: number; usPerJob: number }>;
  statusCodes: Record<string, number>;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface UnitCostSummary {
  gateways: number;
  workers: number;
  eventsPerRequest: number;
  runs: number;
  gatewayUsPerEvent: Spread;
  gatewayUsPerRequest: Spread;
  workerUsPerRow: Spread;
  redisUsPerJob: Spread;
  postgresUsPerRow: Spread;
  walBytesPerRow: Spread;
}

export interface RedisMemory {
  eventsPerRequest: number;
  jobs: number;
  /** INFO used_memory growth per waiting job (job hash, wait-list entry, event stream entry, counters). */
  usedMemoryBytesPerJob: number;
  /** MEMORY USAGE of one job's hash, median of a sample. */
  jobHashBytes: number;
}

export interface UnitCostResult {
  schema: 1;
  kind: 'unit-costs';
  mode: 'full' | 'smoke';
  startedAt: string;
  finishedAt: string;
  machine: BenchResult['machine'];
  config: {
    eventsPerSecond: number;
    seconds: number;
    repeats: number;
    users: number;
    clockTicksPerSecond: number;
    redis: string;
    serviceEnv: Record<string, string>;
  };
  runs: UnitCostRun[];
  summary: UnitCostSummary[];
  redisMemory: RedisMemory[];
  /** The events table (all partitions, indexes included) after the 1 + 1 windows, per row. */
  storage?: { rows: number; bytesPerRow: number };
  /** How each figure is taken, and what it approximates. */
  notes: string[];
}

export const UNIT_COST_NOTES = [
  'CPU time is user + system from /proc/<pid>/stat (clock ticks of 10 ms) before and after each window; a window ends once the queue has drained, so every accepted batch is also written in it.',
  'Redis: INFO cpu (used_cpu_user + used_cpu_sys) of a private redis-server the stage starts (appendonly yes, appendfsync everysec, noeviction), so no other client is counted; its idle polling by the workers during the window is included.',
  'PostgreSQL: the backends connected to the stage’s database (pg_stat_activity) plus the cluster’s walwriter, checkpointer and background writer. The last three also serve other databases on this shared server, and autovacuum workers that start and end inside a window are missed: an approximation.',
  'Every figure is net of the role’s idle rate (CPU per second, WAL bytes per second) measured for 3 s with no load just before its window; `raw` keeps the gross figures. Idle costs are per process and second, not per unit: timers, metrics, the workers’ blocking polls of Redis.',
  'WAL: pg_current_wal_lsn() is cluster-wide, so other databases’ writes during a window count too (the idle subtraction removes their average rate only): noisy on a shared server.',
  'Units: an event accepted by a gateway is a row written by a worker (the window ends once the queue is drained); a job is one request’s batch.',
  'One queue (one shard): Redis CPU per job is also Redis CPU per job per shard; with N shards each shard’s Redis carries 1/N of the jobs at the same cost per job.',
  'Two cores shared by the gateways, the workers, Redis, PostgreSQL and the load generator cannot show a speed-up from 2 + 2 processes: the point of the second topology is that the cost per unit stays about the same, so capacity grows with instances on machines that have the cores.',
];

function spread(values: number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 === 1 ? sorted[Math.floor(middle)] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median: round(median, 2), min: round(sorted[0], 2), max: round(sorted[sorted.length - 1], 2) };
}

export function summarize(runs: readonly UnitCostRun[]): UnitCostSummary[] {
  const groups = new Map<string, UnitCostRun[]>();
  for (const run of runs) {
    const key = `${run.gateways}/${run.workers}/${run.eventsPerRequest}`;
    groups.set(key, [...(groups.get(key) ?? []), run]);
  }
  return [...groups.values()].map((group) => ({
    gateways: group[0].gateways,
    workers: group[0].workers,
    eventsPerRequest: group[0].eventsPerRequest,
    runs: group.length,
    gatewayUsPerEvent: spread(group.map((run) => run.gatewayUsPerEvent)),
    gatewayUsPerRequest: spread(group.map((run) => run.gatewayUsPerRequest)),
    workerUsPerRow: spread(group.map((run) => run.workerUsPerRow)),
    redisUsPerJob: spread(group.map((run) => run.redisUsPerJob)),
    postgresUsPerRow: spread(group.map((run) => run.postgresUsPerRow)),
    walBytesPerRow: spread(group.map((run) => run.walBytesPerRow)),
  }));
}

function commandsPerJob(
  before: Map<string, { calls: number; usec: number }>,
  after: Map<string, { calls: number; usec: number }>,
  jobs: number,
): UnitCostRun['redisCommands'] {
  return [...after]
    .map(([command, { calls, usec }]) => ({
      command,
      callsPerJob: round((calls - (before.get(command)?.calls ?? 0)) / jobs, 2),
      usPerJob: round((usec - (before.get(command)?.usec ?? 0)) / jobs, 1),
    }))
    .filter((entry) => entry.callsPerJob > 0)
    .sort((a, b) => b.usPerJob - a.usPerJob)
    .slice(0, 10);
}

/** A redis-server of the stage's own on a free port, with the settings production needs (docs/guarantees.md). */
class PrivateRedis {
  private constructor(
    private readonly child: ChildProcess,
    private readonly dir: string,
    readonly url: string,
    readonly client: Redis,
  ) {}

  static async start(): Promise<PrivateRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'playsmart-bench-redis-'));
    const child = spawn(
      'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'],
      { stdio: 'ignore' },
    );
    child.once('error', () => undefined);
    const url = `redis://127.0.0.1:${port}`;
    const client = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
    // Refused connections while it starts are retried below; later errors surface on the commands that fail.
    client.on('error', () => undefined);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null || child.pid === undefined) throw new Error('redis-server did not start (is it installed?)');
      try {
        await client.connect();
        await client.ping();
        break;
      } catch (error) {
        client.disconnect();
        if (Date.now() > deadline) {
          child.kill('SIGKILL');
          throw error;
        }
        await sleep(100);
      }
    }
    await client.config('SET', 'appendfsync', 'everysec');
    await client.config('SET', 'maxmemory-policy', 'noeviction');
    return new PrivateRedis(child, dir, url, client);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  async cpuSeconds(): Promise<number> {
    const info = await this.client.info('cpu');
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  }

  /** INFO commandstats: calls and microseconds inside each command so far. */
  async commandStats(): Promise<Map<string, { calls: number; usec: number }>> {
    const info = await this.client.info('commandstats');
    const stats = new Map<string, { calls: number; usec: number }>();
    for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) {
      stats.set(match[1], { calls: Number(match[2]), usec: Number(match[3]) });
    }
    return stats;
  }

  async usedMemory(): Promise<number> {
    const info = await this.client.info('memory');
    return Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
  }

  async stop(): Promise<void> {
    this.client.disconnect();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited(this.child);
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

interface PgSnapshot {
  cpu: Map<number, number>;
  walLsn: string;
}

interface Snapshot {
  at: number;
  gateway: number;
  worker: number;
  redis: number;
  commands: Map<string, { calls: number; usec: number }>;
  pg: PgSnapshot;
  rows: number;
  batches: number;
}

/** Per second of wall clock: CPU seconds of each role, WAL bytes. */
interface Rates {
  seconds: number;
  gateway: number;
  worker: number;
  redis: number;
  postgres: number;
  wal: number;
}

async function pgSnapshot(db: Pool): Promise<PgSnapshot> {
  const { rows } = await db.query<{ pid: number; lsn: string }>(
    `SELECT pid, pg_current_wal_lsn()::text AS lsn FROM pg_stat_activity
      WHERE datname = current_database() OR backend_type IN ('walwriter', 'checkpointer', 'background writer')`,
  );
  return { cpu: new Map(rows.map(({ pid }) => [pid, cpuSecondsOf(pid)])), walLsn: rows[0]?.lsn ?? '0/0' };
}

async function walBytesBetween(db: Pool, from: string, to: string): Promise<number> {
  const { rows } = await db.query<{ bytes: string }>('SELECT pg_wal_lsn_diff($2::pg_lsn, $1::pg_lsn)::text AS bytes', [from, to]);
  return Number(rows[0].bytes);
}

/** CPU seconds the PostgreSQL processes used between two snapshots (a backend that appeared since counts from 0). */
function pgCpuBetween(before: PgSnapshot, after: PgSnapshot): number {
  let total = 0;
  for (const [pid, seconds] of after.cpu) total += Math.max(0, seconds - (before.cpu.get(pid) ?? 0));
  return total;
}

const sumCpu = (processes: readonly ServiceProcess[]) => processes.reduce((sum, service) => sum + cpuSecondsOf(service.pid), 0);

export async function measureUnitCosts(
  host: UnitCostHost,
  options: UnitCostOptions,
): Promise<Omit<UnitCostResult, 'schema' | 'kind' | 'mode' | 'startedAt' | 'finishedAt' | 'machine'>> {
  const redis = await PrivateRedis.start();
  host.defer(() => redis.stop());
  host.log(`unit costs: private redis-server (pid ${redis.pid}, ${redis.url})`);
  const generators = new Map<number, LoadGenerator>();
  for (const eventsPerBatch of [50, 200]) {
    const generator = await LoadGenerator.start({
      users: options.users,
      seed: options.seed,
      now: Date.now(),
      secret: options.secret,
      eventsPerBatch,
    });
    host.defer(() => generator.stop());
    generators.set(eventsPerBatch, generator);
  }
  const runs: UnitCostRun[] = [];
  const redisMemory: RedisMemory[] = [];
  let storage: UnitCostResult['storage'];

  for (const [gateways, workers] of [
    [1, 1],
    [2, 2],
  ] as const) {
    const stack = await host.freshStack(`units_${gateways}x${workers}`, redis.client);
    const env = host.serviceEnv(stack.databaseUrl, stack.prefix, { REDIS_URL: redis.url });
    const sink: Sink = sinkFor(redis.client, redis.url, stack.prefix, Number(env.QUEUE_SHARDS ?? 1), stack.db);
    host.defer(() => closeSink(sink));
    const gatewayProcesses: ServiceProcess[] = [];
    for (let i = 0; i < gateways; i++) gatewayProcesses.push(await host.startService('gateway', env));

    // Memory per waiting job, before any worker takes them: a burst into the gateway alone, after a warm-up (the
    // queue's own keys and the gateway's first, slow requests would count otherwise) whose jobs stay waiting too.
    if (gateways === 1) {
      for (const generator of generators.values()) {
        await generator.run({ url: gatewayProcesses[0].url, connections: 2, durationSeconds: options.smoke ? 0.3 : 2, overallRate: 50 });
      }
      for (const [eventsPerRequest, generator] of generators) {
        await sleep(300);
        const waiting = await pendingJobs(sink);
        const before = await redis.usedMemory();
        const burst = await generator.run({
          url: gatewayProcesses[0].url,
          connections: 2,
          durationSeconds: options.smoke ? 0.3 : 3,
          overallRate: 100,
        });
        await sleep(300);
        const jobs = (await pendingJobs(sink)) - waiting;
        const after = await redis.usedMemory();
        // BullMQ pushes a waiting job's id at the head of the wait list: the newest, this burst's, come first.
        const ids = await redis.client.lrange(`${stack.prefix}:${INGEST_QUEUE}:wait`, 0, 19);
        const sizes: number[] = [];
        for (const id of ids) sizes.push(Number((await redis.client.memory('USAGE', `${stack.prefix}:${INGEST_QUEUE}:${id}`)) ?? 0));
        const memory = {
          eventsPerRequest,
          jobs,
          usedMemoryBytesPerJob: jobs > 0 ? Math.round((after - before) / jobs) : 0,
          jobHashBytes: sizes.length > 0 ? spread(sizes).median : 0,
        };
        redisMemory.push(memory);
        host.log(
          `unit costs: ${jobs} waiting jobs of ${eventsPerRequest} events (${burst.accepted} accepted): ${memory.usedMemoryBytesPerJob.toLocaleString('en-US')} bytes of used_memory per job, job hash ${memory.jobHashBytes.toLocaleString('en-US')} bytes`,
        );
        // Drained by the worker started below, outside any measured window.
      }
    }
    const workerProcesses: ServiceProcess[] = [];
    for (let i = 0; i < workers; i++) workerProcesses.push(await host.startService('worker', env));
    if (!(await drain(sink, options.drainTimeoutSeconds))) host.problems.push('unit costs: the warm-up backlog did not drain');
    // Warm-up at the windows' own load: every process's code paths compiled (a freshly started process spends up to
    // twice the CPU per event in its first seconds) before the first window.
    for (const [eventsPerRequest, generator] of generators) {
      const overallRate = Math.max(1, Math.round(options.eventsPerSecond / eventsPerRequest / gateways));
      await Promise.all(
        gatewayProcesses.map((gateway) =>
          generator.run({ url: gateway.url, connections: 2, durationSeconds: options.smoke ? 0.3 : 8, overallRate }),
        ),
      );
    }
    await drain(sink, options.drainTimeoutSeconds);

    const snapshot = async (): Promise<Snapshot> => {
      const pg = await pgSnapshot(stack.db);
      const { rows } = await stack.db.query<{ rows: string; batches: string }>(
        'SELECT coalesce(sum(accepted), 0)::text AS rows, count(*)::text AS batches FROM batches',
      );
      return {
        at: Date.now(),
        gateway: sumCpu(gatewayProcesses),
        worker: sumCpu(workerProcesses),
        redis: await redis.cpuSeconds(),
        commands: await redis.commandStats(),
        pg,
        rows: Number(rows[0].rows),
        batches: Number(rows[0].batches),
      };
    };
    const rates = async (from: Snapshot, to: Snapshot): Promise<Rates> => {
      const seconds = (to.at - from.at) / 1000;
      return {
        seconds,
        gateway: (to.gateway - from.gateway) / seconds,
        worker: (to.worker - from.worker) / seconds,
        redis: (to.redis - from.redis) / seconds,
        postgres: pgCpuBetween(from.pg, to.pg) / seconds,
        wal: (await walBytesBetween(stack.db, from.pg.walLsn, to.pg.walLsn)) / seconds,
      };
    };

    for (let repeat = 1; repeat <= options.repeats; repeat++) {
      for (const [eventsPerRequest, generator] of generators) {
        // Idle first: what every role spends with no load (timers, the workers' blocking polls, other databases' WAL),
        // subtracted from the window below at the same rate.
        const idle = await snapshot();
        await sleep(options.smoke ? 300 : 3000);
        const idleRates = await rates(idle, await snapshot());

        const before = await snapshot();
        const requestRate = Math.max(1, Math.round(options.eventsPerSecond / eventsPerRequest / gateways));
        const results: LoadResult[] = await Promise.all(
          gatewayProcesses.map((gateway) =>
            generator.run({ url: gateway.url, connections: 2, durationSeconds: options.seconds, overallRate: requestRate }),
          ),
        );
        if (!(await drain(sink, options.drainTimeoutSeconds)))
          host.problems.push(`unit costs: ${gateways}+${workers}: the buffer did not drain`);
        // The last write's transaction may still be committing when its job leaves the queue.
        await sleep(200);
        const after = await snapshot();
        const used = await rates(before, after);
        const seconds = used.seconds;
        // Every batch a gateway took is written by the end of the window (the drain): rows written are the events the
        // gateways accepted, including the few the load generator stopped waiting for when its time was up.
        const rows = after.rows - before.rows;
        const jobs = after.batches - before.batches;
        const statusCodes: Record<string, number> = {};
        for (const result of results)
          for (const [code, count] of Object.entries(result.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
        const counted = results.reduce((sum, result) => sum + result.accepted, 0);
        if (counted === 0 || rows === 0) {
          host.problems.push(
            `unit costs: ${gateways}+${workers}, ${eventsPerRequest} events per request: nothing accepted or written (${JSON.stringify(statusCodes)})`,
          );
          continue;
        }
        if (rows < counted * eventsPerRequest)
          host.problems.push(
            `unit costs: ${gateways}+${workers}: ${counted * eventsPerRequest} events accepted, ${rows} rows written in the window`,
          );
        const net = (role: keyof Rates) => Math.max(0, (used[role] - idleRates[role]) * seconds);
        const micro = (cpuSeconds: number, units: number) => round((cpuSeconds * 1e6) / units, 2);
        const run: UnitCostRun = {
          gateways,
          workers,
          eventsPerRequest,
          repeat,
          seconds: round(seconds, 2),
          requests: jobs,
          events: rows,
          rows,
          jobs,
          gatewayUsPerEvent: micro(net('gateway'), rows),
          gatewayUsPerRequest: micro(net('gateway'), jobs),
          workerUsPerRow: micro(net('worker'), rows),
          redisUsPerJob: micro(net('redis'), jobs),
          postgresUsPerRow: micro(net('postgres'), rows),
          walBytesPerRow: round(net('wal') / rows, 1),
          raw: {
            gatewayUsPerEvent: micro(used.gateway * seconds, rows),
            workerUsPerRow: micro(used.worker * seconds, rows),
            redisUsPerJob: micro(used.redis * seconds, jobs),
            postgresUsPerRow: micro(used.postgres * seconds, rows),
            walBytesPerRow: round((used.wal * seconds) / rows, 1),
          },
          idlePerSecond: {
            gatewayCpuMs: round(idleRates.gateway * 1000, 2),
            workerCpuMs: round(idleRates.worker * 1000, 2),
            redisCpuMs: round(idleRates.redis * 1000, 2),
            postgresCpuMs: round(idleRates.postgres * 1000, 2),
            walBytes: Math.round(idleRates.wal),
          },
          redisCommands: commandsPerJob(before.commands, after.commands, jobs),
          statusCodes,
        };
        runs.push(run);
        host.log(
          `unit costs: ${gateways} gateway(s) + ${workers} worker(s), ${eventsPerRequest} events/request, run ${repeat}: ` +
            `${rows.toLocaleString('en-US')} events in ${run.seconds} s; gateway ${run.gatewayUsPerEvent} µs/event ` +
            `(${run.gatewayUsPerRequest} µs/request), worker ${run.workerUsPerRow} µs/row, Redis ${run.redisUsPerJob} µs/job, ` +
            `PostgreSQL ${run.postgresUsPerRow} µs/row, WAL ${run.walBytesPerRow} bytes/row (idle subtracted; raw ${JSON.stringify(run.raw)})`,
        );
      }
    }
    if (gateways === 1) {
      // On disk: every partition of events with its indexes and TOAST, per row (batches, one row a request, apart).
      const { rows } = await stack.db.query<{ bytes: string; rows: string }>(
        `SELECT (SELECT coalesce(sum(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits
                  WHERE inhparent = 'events'::regclass)::text AS bytes,
                (SELECT count(*) FROM events)::text AS rows`,
      );
      const rowCount = Number(rows[0].rows);
      if (rowCount > 0) storage = { rows: rowCount, bytesPerRow: round(Number(rows[0].bytes) / rowCount, 1) };
      host.log(`unit costs: events on disk ${storage?.bytesPerRow ?? '?'} bytes per row (${rowCount.toLocaleString('en-US')} rows)`);
    }
    for (const service of [...gatewayProcesses, ...workerProcesses]) await service.terminate();
  }
  return {
    config: {
      eventsPerSecond: options.eventsPerSecond,
      seconds: options.seconds,
      repeats: options.repeats,
      users: options.users,
      clockTicksPerSecond: 100,
      redis: 'private redis-server, appendonly yes, appendfsync everysec, maxmemory-policy noeviction',
      serviceEnv: options.serviceEnv,
    },
    runs,
    summary: summarize(runs),
    redisMemory,
    storage,
    notes: UNIT_COST_NOTES,
  };
}
