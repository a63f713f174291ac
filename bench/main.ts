// `npm run bench`: the accept path, end to end, the HTTP and COPY ceilings and peak memory, measured in one run on
// this machine; writes <out>/latest.json, latest.md and latest.svg. `--smoke` runs every stage for a moment (CI).
// See USAGE in options.ts and docs/performance.md.
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { basename, join } from 'node:path';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { CopyCeilingResult, measureCopyCeiling } from './copy-ceiling';
import { EVENTS_PER_BATCH, makeBatches } from './fixtures';
import { LoadGenerator, LoadResult } from './load-protocol';
import {
  bufferedEvents,
  closeSink,
  describeEndToEnd,
  describeLoad,
  drain,
  EndToEnd,
  endToEnd,
  lagOf,
  Log,
  Runner,
  Sink,
  sinkFor,
  sweep,
} from './measure';
import { BenchOptions, parseOptions, USAGE } from './options';
import { toMarkdown, toSvg } from './report';
import { AcceptPath, BenchResult, evaluateTargets, nonAccepted } from './result';
import { createDatabase, deletePrefix } from '../support/local-services';
import { ROOT, Role, ServiceProcess } from '../support/service-process';
import { CeilingServer, cpuSecondsOf, RssSampler } from './stack';
import { round } from './stats';
import { measureUnitCosts, UnitCostHost, UnitCostResult } from './unit-costs';

const LIGHT_CONNECTIONS = 2;
/** Rows per statement of the bulk COPY ceiling: the physical limit a writer grouping batches chases. */
const BULK_COPY_ROWS = 5000;
/** The burst: this long of the full load, then nothing. */
const BURST_SECONDS = 10;
const SEED = 20260422;

class Bench implements UnitCostHost {
  private readonly started = Date.now();
  private readonly cleanups: Array<() => Promise<unknown>> = [];
  /** Problems that make a smoke run fail: the benchmark must work, whatever its timings. */
  readonly problems: string[] = [];
  readonly log: Log = (line) => process.stdout.write(`[${((Date.now() - this.started) / 1000).toFixed(1).padStart(6)} s] ${line}\n`);

  constructor(
    readonly options: BenchOptions,
    readonly out: string,
    readonly load: LoadGenerator,
    readonly redis: Redis,
    readonly secret: string,
  ) {}

  defer(cleanup: () => Promise<unknown>): void {
    this.cleanups.unshift(cleanup);
  }

  async cleanup(): Promise<void> {
    for (const cleanup of this.cleanups.splice(0)) {
      await cleanup().catch((error: Error) => this.log(`cleanup failed: ${error.message}`));
    }
  }

  /** The processes whose CPU time each load run reports (the service under test). */
  private watched: ReadonlyArray<{ name: string; pid: number }> = [];

  watch(processes: ReadonlyArray<{ name: string; pid: number }>): void {
    this.watched = processes;
  }

  async run(url: string, connections: number, durationSeconds: number, overallRate?: number): Promise<LoadResult> {
    const before = this.watched.map(({ pid }) => cpuSecondsOf(pid));
    const result = await this.load.run({ url, connections, durationSeconds, overallRate });
    if (this.watched.length > 0 && result.accepted > 0) {
      result.cpuMsPerBatch = Object.fromEntries(
        this.watched.map(({ name, pid }, i) => [name, round(((cpuSecondsOf(pid) - before[i]) * 1000) / result.accepted, 2)]),
      );
    }
    return result;
  }

  runner(url: string): Runner {
    return (connections, seconds, rate) => this.run(url, connections, seconds, rate);
  }

  /**
   * End to end. First a burst: the full load (closed loop) for BURST_SECONDS, then nothing: what the service writes
   * while it accepts all it can (the buffer grows when accepting outruns writing), its peak buffer and how fast the
   * backlog drains once the load stops. Then the sustained run, for the whole time, at an offered
   * rate: 90 % of the rate at which the backlog drained once the load stopped; while the buffer grows at the rate
   * offered, again at 90 % of the rate written meanwhile (three tries at most). The result is a rate the service is
   * shown to sustain, not necessarily the most it can.
   */
  async endToEnd(stage: string, url: string, sink: Sink & { db: Pool }): Promise<{ fullLoad: EndToEnd; sustained: EndToEnd }> {
    const { options } = this;
    const run = this.runner(url);
    const burstSeconds = options.smoke ? options.e2eSeconds : BURST_SECONDS;
    const fullLoad = await endToEnd(run, options.connections, burstSeconds, sink, options.drainTimeoutSeconds);
    // Under the full load a buffer that reaches BUFFER_MAX_EVENTS answers 503 buffer_full: back-pressure, as designed.
    if (fullLoad.load.accepted === 0) this.problems.push(`${stage} end to end (full load): no request was accepted`);
    this.log(describeEndToEnd(`${stage} end to end, burst of the full load`, fullLoad));
    const rateFor = (rowsPerSecond: number) => Math.max(1, Math.floor((0.9 * rowsPerSecond) / EVENTS_PER_BATCH));
    const sustainedAt = async (rate: number) => {
      const e2e = await endToEnd(run, options.connections, options.e2eSeconds, sink, options.drainTimeoutSeconds, rate);
      this.check(`${stage} end to end (sustained)`, e2e.load);
      this.log(describeEndToEnd(`${stage} end to end, ${rate} req/s`, e2e));
      return e2e;
    };
    // Start from the backlog's drain rate; while the buffer grows, offer 90 % of what was written meanwhile.
    let rate = rateFor(Math.max(fullLoad.writtenPerSecond, fullLoad.backlogWrittenPerSecond ?? 0));
    let sustained = await sustainedAt(rate);
    for (let attempt = 1; attempt < 3 && !sustained.buffer.bounded && rateFor(sustained.writtenPerSecond) < rate; attempt++) {
      rate = rateFor(sustained.writtenPerSecond);
      sustained = await sustainedAt(rate);
    }
    for (const e2e of [fullLoad, sustained]) if (!e2e.drained) this.problems.push(`${stage} end to end: the buffer did not drain`);
    return { fullLoad, sustained };
  }

  /** A load run that must be answered 2xx throughout (a smoke run fails otherwise). */
  check(stage: string, result: LoadResult): LoadResult {
    if (result.accepted === 0) this.problems.push(`${stage}: no request was accepted (${JSON.stringify(result.statusCodes)})`);
    else if (nonAccepted(result) > 0) this.problems.push(`${stage}: answers other than 2xx: ${JSON.stringify(result.statusCodes)}`);
    return result;
  }

  serviceEnv(databaseUrl: string, prefix: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      NODE_ENV: 'production',
      LOG_LEVEL: 'warn',
      DATABASE_URL: databaseUrl,
      REDIS_URL: this.options.redisUrl,
      QUEUE_PREFIX: prefix,
      JWT_SECRET: this.secret,
      RATE_LIMIT_PER_SUB_PER_SECOND: '0',
      RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND: '0',
      RATE_LIMIT_PER_IP_PER_SECOND: '0',
      ...extra,
      ...this.options.env,
    };
  }

  async startService(role: Role, env: Record<string, string>): Promise<ServiceProcess> {
    const nodeArgs: string[] = [];
    if (this.options.cpuProf) {
      const dir = join(this.out, 'profiles');
      mkdirSync(dir, { recursive: true });
      nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${role}-${Date.now()}.cpuprofile`);
    }
    const service = await ServiceProcess.start(role, env, { nodeArgs });
    this.defer(() => service.terminate());
    this.log(`${role} started (pid ${service.pid}, ${service.url})`);
    return service;
  }

  /** A fresh database and queue prefix, removed at the end. */
  async freshStack(label: string, redis: Redis = this.redis): Promise<{ databaseUrl: string; prefix: string; db: Pool }> {
    const database = await createDatabase(this.options.adminUrl, `bench_${label.replace(/\W/g, '_')}`);
    this.defer(() => database.drop());
    const prefix = `bench-${randomUUID().slice(0, 8)}`;
    this.defer(() => deletePrefix(redis, prefix));
    const db = new Pool({ connectionString: database.url, max: 2 });
    this.defer(() => db.end());
    return { databaseUrl: database.url, prefix, db };
  }

  sink(prefix: string, db?: Pool): Sink {
    const sink = sinkFor(this.redis, this.options.redisUrl, prefix, Number(this.options.env.QUEUE_SHARDS ?? 1), db);
    this.defer(() => closeSink(sink));
    return sink;
  }

  /** After a drain the service's buffered count must be back to 0; anything else is drift in its bookkeeping. */
  async checkCounter(stage: string, sink: Sink): Promise<number> {
    // Requests still in flight when the load stopped may have counted their events and not yet added their job:
    // give them a few seconds (and drain what they add) before calling what is left drift.
    const deadline = Date.now() + 5000;
    let left = await bufferedEvents(sink);
    while (left !== 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      await drain(sink, this.options.drainTimeoutSeconds);
      left = await bufferedEvents(sink);
    }
    if (left !== 0) this.problems.push(`${stage}: the buffered-events counter reads ${left} with no job left in the queue`);
    return left;
  }

  async warmUp(url: string, sink?: Sink): Promise<LoadResult> {
    const result = await this.run(url, this.options.connections, this.options.warmupSeconds);
    if (sink !== undefined) await this.drainOrNote(sink, 'warm-up');
    return result;
  }

  async drainOrNote(sink: Sink, stage: string): Promise<void> {
    if (!(await drain(sink, this.options.drainTimeoutSeconds)))
      this.problems.push(`${stage}: the buffer did not drain within ${this.options.drainTimeoutSeconds} s`);
  }

  /** The full load: the sweep's step at `connections`, or a run of its own when the sweep has none. */
  async fullLoad(url: string, name: string, steps: LoadResult[], after: () => Promise<void>): Promise<LoadResult> {
    const step = steps.find((result) => result.connections === this.options.connections);
    if (step !== undefined) return step;
    const result = await this.run(url, this.options.connections, this.options.stepSeconds);
    this.log(describeLoad(name, result));
    await after();
    return result;
  }

  /** Every row the service says it wrote is in `events`, and at least every event a 202 was counted for. */
  async verifyWritten(stage: string, db: Pool, acceptedEvents: number): Promise<void> {
    const { rows } = await db.query<{ events: string; receipts: string }>(
      'SELECT (SELECT count(*) FROM events)::text AS events, (SELECT coalesce(sum(accepted), 0) FROM batches)::text AS receipts',
    );
    const events = Number(rows[0].events);
    const receipts = Number(rows[0].receipts);
    this.log(
      `${stage}: ${events.toLocaleString('en-US')} rows in events, ${acceptedEvents.toLocaleString('en-US')} events counted as accepted`,
    );
    if (events !== receipts || events < acceptedEvents) {
      this.problems.push(`${stage}: ${events} rows written, ${receipts} in receipts, ${acceptedEvents} accepted`);
    }
  }

  // ---- stages ---------------------------------------------------------------------------------------------------

  async ceilings(): Promise<BenchResult['ceilings']> {
    const { options } = this;
    const server = await CeilingServer.start();
    this.log(`HTTP ceiling server started (pid ${server.pid})`);
    const rss = new RssSampler([{ name: 'ceiling', pid: server.pid }]);
    this.watch([{ name: 'ceiling', pid: server.pid }]);
    let steps: LoadResult[];
    try {
      await this.warmUp(server.url);
      steps = await sweep(this.runner(server.url), options.levels, options.stepSeconds, 'HTTP ceiling', this.log, () => Promise.resolve());
    } finally {
      rss.stop();
      await server.stop();
    }
    steps.forEach((step) => this.check('HTTP ceiling', step));
    const peak = steps.reduce((best, step) => (step.eventsPerSecond > best.eventsPerSecond ? step : best));

    const batches = makeBatches({ users: options.users, seed: SEED, now: this.started });
    const copy = await measureCopyCeiling({
      adminUrl: options.adminUrl,
      batches,
      durationSeconds: options.copySeconds,
      minBatches: options.smoke ? 5 : 50,
    });
    const describe = (name: string, result: CopyCeilingResult) =>
      this.log(
        `${name}: ${Math.round(result.rowsPerSecond).toLocaleString('en-US')} rows/s (${result.batches} COPYs of ${result.rowsPerCopy} rows, ` +
          `p50 ${round(result.copyMs.p50, 1)} ms, p99 ${round(result.copyMs.p99, 1)} ms)`,
      );
    describe('COPY ceiling, a batch per COPY', copy);
    const bulkCopy = await measureCopyCeiling({
      adminUrl: options.adminUrl,
      batches,
      durationSeconds: options.copySeconds,
      minBatches: options.smoke ? 2 : 10,
      batchesPerCopy: BULK_COPY_ROWS / EVENTS_PER_BATCH,
    });
    describe('COPY ceiling, bulk', bulkCopy);
    return { http: { sweep: steps, peak }, copy, bulkCopy };
  }

  /** The all-in-one process (or a --url target): light load, sweep, full load and the end-to-end run. */
  async allInOne(): Promise<NonNullable<BenchResult['allInOne']>> {
    const { options } = this;
    let url: string;
    let sink: Sink;
    let rss: RssSampler | undefined;
    if (options.url === undefined) {
      const stack = await this.freshStack('aio');
      const service = await this.startService('all-in-one', this.serviceEnv(stack.databaseUrl, stack.prefix));
      url = service.url;
      sink = this.sink(stack.prefix, stack.db);
      rss = new RssSampler([{ name: 'all-in-one', pid: service.pid }]);
      this.watch([{ name: 'all-in-one', pid: service.pid }]);
    } else {
      url = options.url;
      let db: Pool | undefined;
      if (options.databaseUrl !== undefined) {
        const pool = new Pool({ connectionString: options.databaseUrl, max: 2 });
        this.defer(() => pool.end());
        db = pool;
      }
      sink = this.sink(options.queuePrefix, db);
    }
    let accepted = 0;
    const count = (result: LoadResult) => {
      accepted += result.accepted;
      return result;
    };
    const name = options.url === undefined ? 'all-in-one' : 'target';
    const settle = () => this.drainOrNote(sink, name);

    count(await this.warmUp(url, sink));
    const lightStart = Date.now();
    const lightAccept = count(
      this.check(`${name} light load`, await this.run(url, LIGHT_CONNECTIONS, options.lightSeconds, options.lightRate)),
    );
    const lightEnd = Date.now();
    await settle();
    const light = { accept: lightAccept, lag: sink.db === undefined ? undefined : await lagOf(sink.db, lightStart, lightEnd) };
    this.log(`${describeLoad(`${name} light`, lightAccept)}; lag p50 ${light.lag?.p50Ms ?? '?'} ms, p99 ${light.lag?.p99Ms ?? '?'} ms`);

    const steps = await sweep(this.runner(url), options.levels, options.stepSeconds, name, this.log, settle);
    steps.forEach((step) => this.check(name, count(step)));
    const full = await this.fullLoad(url, name, steps, settle);
    if (!steps.includes(full)) count(full);

    let e2e;
    let e2eFullLoad;
    if (sink.db !== undefined) {
      const runs = await this.endToEnd(name, url, { ...sink, db: sink.db });
      e2e = runs.sustained;
      e2eFullLoad = runs.fullLoad;
      count(e2e.load);
      count(e2eFullLoad.load);
      if (options.url === undefined) {
        await this.verifyWritten(name, sink.db, accepted * EVENTS_PER_BATCH);
        await this.checkCounter(name, sink);
      }
    }
    const peakRssMB = rss?.stop() ?? {};
    return { sweep: steps, fullLoad: full, peakRssMB, light, e2e, e2eFullLoad };
  }

  /** A gateway-only process, no worker: the accept path alone. The queue is emptied between steps. */
  async gatewayOnly(): Promise<AcceptPath> {
    const { options } = this;
    const stack = await this.freshStack('gateway');
    // No worker drains this queue: the buffer limit must not turn a long step into 503s.
    const gateway = await this.startService(
      'gateway',
      this.serviceEnv(stack.databaseUrl, stack.prefix, { BUFFER_MAX_EVENTS: '100000000' }),
    );
    const rss = new RssSampler([{ name: 'gateway', pid: gateway.pid }]);
    this.watch([{ name: 'gateway', pid: gateway.pid }]);
    const empty = () => deletePrefix(this.redis, stack.prefix);
    await this.warmUp(gateway.url);
    await empty();
    const steps = await sweep(this.runner(gateway.url), options.levels, options.stepSeconds, 'gateway', this.log, empty);
    steps.forEach((step) => this.check('gateway', step));
    const full = await this.fullLoad(gateway.url, 'gateway', steps, empty);
    const peakRssMB = rss.stop();
    await gateway.terminate();
    return { sweep: steps, fullLoad: full, peakRssMB };
  }

  /** A gateway and a worker process under the full load: end to end, and both processes' memory. */
  async split(): Promise<NonNullable<BenchResult['split']>> {
    const stack = await this.freshStack('split');
    const env = this.serviceEnv(stack.databaseUrl, stack.prefix);
    const worker = await this.startService('worker', env);
    const gateway = await this.startService('gateway', env);
    const sink = { ...this.sink(stack.prefix), db: stack.db };
    const processes = [
      { name: 'gateway', pid: gateway.pid },
      { name: 'worker', pid: worker.pid },
    ];
    const rss = new RssSampler(processes);
    this.watch(processes);
    await this.warmUp(gateway.url, sink);
    const warmed = Number((await stack.db.query<{ n: string }>('SELECT coalesce(sum(accepted), 0)::text AS n FROM batches')).rows[0].n);
    const { fullLoad: e2eFullLoad, sustained: e2e } = await this.endToEnd('gateway + worker', gateway.url, sink);
    await this.verifyWritten('split', stack.db, warmed + (e2e.load.accepted + e2eFullLoad.load.accepted) * EVENTS_PER_BATCH);
    await this.checkCounter('split', sink);
    const peakRssMB = rss.stop();
    this.log(`peak RSS: gateway ${round(peakRssMB.gateway ?? 0)} MB, worker ${round(peakRssMB.worker ?? 0)} MB`);
    return { e2e, e2eFullLoad, peakRssMB };
  }
}

/** The hand-kept lever log (bench/levers.md), appended to a full run's summary. */
function leverLog(): string | undefined {
  const file = join(ROOT, 'bench', 'levers.md');
  return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
}

async function main(): Promise<number> {
  let options: BenchOptions | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (options === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (options.render !== undefined) {
    const result = JSON.parse(readFileSync(options.render, 'utf8')) as BenchResult;
    const base = options.render.replace(/\.json$/, '');
    writeFileSync(`${base}.svg`, toSvg(result));
    writeFileSync(`${base}.md`, toMarkdown(result, `${basename(base)}.svg`, result.mode === 'smoke' ? undefined : leverLog()));
    process.stdout.write(`wrote ${base}.md and ${base}.svg\n`);
    return 0;
  }
  const out = options.out ?? (options.smoke ? mkdtempSync(join(tmpdir(), 'playsmart-bench-smoke-')) : join(ROOT, 'bench', 'results'));
  mkdirSync(out, { recursive: true });
  const startedAt = new Date();
  const loadAverageBefore = loadavg().map((l) => round(l, 2));
  // A fresh secret for a stack of our own; a running target's secret otherwise.
  const secret = options.url === undefined ? `bench-${randomUUID()}-${randomUUID()}` : options.jwtSecret;
  const load = await LoadGenerator.start({ users: options.users, seed: SEED, now: startedAt.getTime(), secret });
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: 1 });
  const bench = new Bench(options, out, load, redis, secret);
  bench.defer(() => load.stop());
  bench.defer(() => redis.quit());
  bench.log(
    `${options.smoke ? 'smoke run' : 'benchmark'}: ${cpus().length} cores, load average ${loadAverageBefore.join(' ')}; ` +
      `${options.users} users, ${load.averageBodyBytes.toLocaleString('en-US')} bytes per body; report in ${out}`,
  );

  const stopping = () => {
    bench.log('interrupted: cleaning up');
    void bench.cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', stopping);
  process.once('SIGTERM', stopping);

  let partial:
    | (Omit<BenchResult, 'targets' | 'problems' | 'finishedAt' | 'durationSeconds' | 'machine'> & {
        machine: Omit<BenchResult['machine'], 'loadAverageAfter'>;
      })
    | undefined;
  let units: UnitCostResult | undefined;
  const machine = {
    cores: cpus().length,
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGB: round(totalmem() / 1e9, 1),
    node: process.versions.node,
    platform: `${process.platform} ${process.arch}`,
    loadAverageBefore,
  };
  // With unit-costs alone, the report of the other stages (latest.*) is left as it is.
  const reportStages = options.url !== undefined || [...options.stages].some((stage) => stage !== 'unit-costs');
  try {
    partial = !reportStages
      ? undefined
      : {
          schema: 1,
          mode: options.smoke ? 'smoke' : 'full',
          label: options.label,
          startedAt: startedAt.toISOString(),
          machine,
          config: {
            target: options.url ?? 'stack started by the benchmark (built entry points, fresh database and queue prefix)',
            users: options.users,
            eventsPerBatch: EVENTS_PER_BATCH,
            averageBodyBytes: load.averageBodyBytes,
            levels: options.levels,
            connections: options.connections,
            stepSeconds: options.stepSeconds,
            e2eSeconds: options.e2eSeconds,
            lightRate: options.lightRate,
            lightSeconds: options.lightSeconds,
            serviceEnv: options.env,
          },
          ceilings: options.stages.has('ceilings') ? await bench.ceilings() : {},
          allInOne: options.stages.has('all-in-one') || options.url !== undefined ? await bench.allInOne() : undefined,
          gateway: options.stages.has('gateway') && options.url === undefined ? await bench.gatewayOnly() : undefined,
          split: options.stages.has('split') && options.url === undefined ? await bench.split() : undefined,
        };
    if (options.stages.has('unit-costs') && options.url === undefined) {
      const measured = await measureUnitCosts(bench, {
        smoke: options.smoke,
        users: options.users,
        seed: SEED,
        secret,
        eventsPerSecond: options.unitRate,
        seconds: options.unitSeconds,
        repeats: options.unitRepeats,
        drainTimeoutSeconds: options.drainTimeoutSeconds,
        serviceEnv: options.env,
      });
      units = {
        schema: 1,
        kind: 'unit-costs',
        mode: options.smoke ? 'smoke' : 'full',
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        machine: { ...machine, loadAverageAfter: loadavg().map((l) => round(l, 2)) },
        ...measured,
      };
    }
  } finally {
    await bench.cleanup();
  }

  if (units !== undefined) {
    const unitFile = join(out, options.name === 'latest' ? 'unit-costs.json' : `${options.name}-unit-costs.json`);
    writeFileSync(unitFile, `${JSON.stringify(units, null, 2)}\n`);
    for (const line of units.summary) {
      bench.log(
        `unit costs, ${line.gateways} gateway(s) + ${line.workers} worker(s), ${line.eventsPerRequest} events/request (median [min–max] of ${line.runs}): ` +
          `gateway ${line.gatewayUsPerEvent.median} [${line.gatewayUsPerEvent.min}–${line.gatewayUsPerEvent.max}] µs/event, ` +
          `worker ${line.workerUsPerRow.median} [${line.workerUsPerRow.min}–${line.workerUsPerRow.max}] µs/row, ` +
          `Redis ${line.redisUsPerJob.median} [${line.redisUsPerJob.min}–${line.redisUsPerJob.max}] µs/job, ` +
          `PostgreSQL ${line.postgresUsPerRow.median} [${line.postgresUsPerRow.min}–${line.postgresUsPerRow.max}] µs/row, ` +
          `WAL ${line.walBytesPerRow.median} [${line.walBytesPerRow.min}–${line.walBytesPerRow.max}] bytes/row`,
      );
    }
    bench.log('two cores cannot show a speed-up from 2 + 2 processes: compare the cost per unit, which capacity scales from');
    bench.log(`unit costs: ${unitFile} (npm run capacity reads it)`);
  }
  if (partial === undefined) return report(bench, options.smoke);

  const finished = new Date();
  const withoutTargets = {
    ...partial,
    finishedAt: finished.toISOString(),
    durationSeconds: round((finished.getTime() - startedAt.getTime()) / 1000, 1),
    machine: { ...partial.machine, loadAverageAfter: loadavg().map((l) => round(l, 2)) },
  };
  const result: BenchResult = { ...withoutTargets, targets: evaluateTargets(withoutTargets), problems: bench.problems };
  const file = (extension: string) => join(out, `${options.name}.${extension}`);
  writeFileSync(file('json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(file('svg'), toSvg(result));
  writeFileSync(file('md'), toMarkdown(result, `${options.name}.svg`, options.smoke ? undefined : leverLog()));
  // A smoke run lasts a moment per stage: its figures say nothing about the goals, and are not judged.
  if (options.smoke) bench.log('smoke run: every stage ran; its figures are not measurements, and no goal is judged');
  else {
    for (const target of result.targets) {
      bench.log(
        `${target.met === null ? '  –' : target.met ? ' ok' : 'MISS'} ${target.description}: ${target.measured} (goal ${target.goal})`,
      );
    }
  }
  bench.log(`report: ${file('md')}, ${options.name}.json, ${options.name}.svg (${result.durationSeconds} s)`);
  return report(bench, options.smoke);
}

/** The problems found; a smoke run fails on any. */
function report(bench: Bench, smoke: boolean): number {
  if (bench.problems.length > 0) {
    for (const problem of bench.problems) bench.log(`problem: ${problem}`);
    // A smoke run checks that the benchmark works end to end; a full run reports and leaves judging to the reader.
    if (smoke) return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
