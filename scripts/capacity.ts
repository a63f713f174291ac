// `npm run capacity -- --events-per-second 1000000 [--events-per-request 50 --outage-minutes 10 …]`: the gateways,
// workers, Redis masters, queue shards and PostgreSQL a target rate needs, scaled from the unit costs the benchmark
// measured (`npm run bench -- --stages unit-costs`, bench/results/unit-costs.json). See docs/scaling.md.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type Assumptions, at, costModel, DEFAULT_ASSUMPTIONS, plan, singleBox, type UnitCostFile } from './capacity-model';

const ROOT = join(__dirname, '..', '..');
const UNIT_COSTS = join(ROOT, 'bench', 'results', 'unit-costs.json');
const BENCH = join(ROOT, 'bench', 'results', 'latest.json');

const USAGE = `npm run capacity -- --events-per-second <n> [options]

  --events-per-second <n>      the target: events accepted and written per second (required)
  --events-per-request <n>     events per POST /ingest/events, 1–200 (default 50)
  --outage-minutes <m>         a PostgreSQL outage Redis must hold the backlog of (default 10)
  --cores-per-instance <n>     ASSUMED cores one gateway or worker process uses (default 1: Node is single-threaded)
  --headroom <0–1>             ASSUMED target utilization of CPU and Redis memory (default 0.6)
  --redis-maxmemory-gb <n>     ASSUMED maxmemory of one Redis master (default 16)
  --postgres-cores <n>         ASSUMED cores of the PostgreSQL primary (default 32)
  --redis-replicas <n>         ASSUMED replicas per Redis master (default 1)
  --topology <g>x<w>           which measured topology's unit costs to use: 1x1 (default) or 2x2
  --unit-costs <file>          default bench/results/unit-costs.json (the last unit-costs run)
  --bench <file>               the end-to-end figure to check against (default bench/results/latest.json)`;

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number ≥ 0, got ${text}`);
  return value;
}

const int = (value: number) => Math.round(value).toLocaleString('en-US');
const num = (value: number, digits = 1) => value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

function main(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      'events-per-second': { type: 'string' },
      'events-per-request': { type: 'string' },
      'outage-minutes': { type: 'string' },
      'cores-per-instance': { type: 'string' },
      headroom: { type: 'string' },
      'redis-maxmemory-gb': { type: 'string' },
      'postgres-cores': { type: 'string' },
      'redis-replicas': { type: 'string' },
      topology: { type: 'string' },
      'unit-costs': { type: 'string' },
      bench: { type: 'string' },
    },
    strict: true,
  });
  if (values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const rate = positive('events-per-second', values['events-per-second'], NaN);
  if (!(rate > 0)) throw new Error('--events-per-second is required');
  const demand = {
    eventsPerSecond: rate,
    eventsPerRequest: positive('events-per-request', values['events-per-request'], 50),
    outageMinutes: positive('outage-minutes', values['outage-minutes'], 10),
  };
  const given = (name: string) => values[name as keyof typeof values] !== undefined;
  const assumptions: Assumptions = {
    coresPerInstance: positive('cores-per-instance', values['cores-per-instance'], DEFAULT_ASSUMPTIONS.coresPerInstance),
    headroom: positive('headroom', values.headroom, DEFAULT_ASSUMPTIONS.headroom),
    redisMaxmemoryGB: positive('redis-maxmemory-gb', values['redis-maxmemory-gb'], DEFAULT_ASSUMPTIONS.redisMaxmemoryGB),
    postgresCores: positive('postgres-cores', values['postgres-cores'], DEFAULT_ASSUMPTIONS.postgresCores),
    redisReplicasPerMaster: positive('redis-replicas', values['redis-replicas'], DEFAULT_ASSUMPTIONS.redisReplicasPerMaster),
  };
  const topology = /^(\d+)x(\d+)$/.exec(values.topology ?? '1x1');
  if (topology === null) throw new Error(`--topology takes <gateways>x<workers>, got ${values.topology}`);

  const unitFile = values['unit-costs'] ?? UNIT_COSTS;
  if (!existsSync(unitFile)) throw new Error(`${unitFile} not found: run npm run bench -- --stages unit-costs first`);
  const units = JSON.parse(readFileSync(unitFile, 'utf8')) as UnitCostFile;
  const model = costModel(units, Number(topology[1]), Number(topology[2]));
  const result = plan(model, demand, assumptions);
  const out: string[] = [];
  const say = (line = '') => out.push(line);
  const assumed = (name: string, value: string, flag: string) => `ASSUMED   ${name}: ${value}${given(flag) ? ' (given)' : ' (default)'}`;

  // 1. Today's single box, from the same unit costs: the sanity check.
  const box = singleBox(model, units.machine.cores, 200);
  let measured = '';
  const benchFile = values.bench ?? BENCH;
  if (existsSync(benchFile)) {
    const bench = JSON.parse(readFileSync(benchFile, 'utf8')) as {
      startedAt: string;
      machine: { cores: number; cpu: string };
      split?: { e2e?: { writtenPerSecond: number } };
    };
    const written = bench.split?.e2e?.writtenPerSecond;
    const other = bench.machine.cpu === units.machine.cpu ? '' : `, on another machine: ${bench.machine.cores} cores, ${bench.machine.cpu}`;
    if (written !== undefined)
      measured = `; the benchmark measured ${int(written)} rows/s sustained end to end (gateway + worker processes, ${bench.startedAt.slice(0, 10)}${other}): ${num(written / box.eventsPerSecond, 2)} of the estimate (the load generator, the benchmark and other tests share the cores)`;
  }
  say(
    `Sanity check, today's single box (${units.machine.cores} cores, everything on it, 200 events per request): ` +
      `${num(box.usPerEvent)} µs of CPU per event in all → at most ${int(box.eventsPerSecond)} events/s${measured}`,
  );
  say(
    `Unit costs: ${unitFile} (${units.mode} run of ${units.startedAt}, ${units.machine.cores} cores, ${units.machine.cpu}, ` +
      `load average ${units.machine.loadAverageBefore[0]} → ${units.machine.loadAverageAfter[0]}; medians of ${model.gateways} gateway + ${model.workers} worker)`,
  );
  if (units.mode === 'smoke') say('WARNING: a smoke run: its figures are not measurements');

  say();

  // 2. The target.
  const size = demand.eventsPerRequest;
  say(
    `Target: ${int(rate)} events/s in requests of ${size} events${given('events-per-request') ? '' : ' (default)'} = ${int(result.jobsPerSecond)} jobs/s; ` +
      `PostgreSQL outage to ride out: ${demand.outageMinutes} min${given('outage-minutes') ? '' : ' (default)'}`,
  );
  say('Inputs:');
  say(
    `  measured  gateway ${num(at(model.gatewayUsPerRequest, size) / size, 2)} µs/event (${num(model.gatewayUsPerRequest.fixed, 0)} µs per request + ${num(model.gatewayUsPerRequest.perEvent, 2)} µs per event)`,
  );
  say(
    `  measured  worker ${num(at(model.workerUsPerJob, size) / size, 2)} µs/row (${num(model.workerUsPerJob.fixed, 0)} µs per job + ${num(model.workerUsPerJob.perEvent, 2)} µs per row)`,
  );
  say(
    `  measured  Redis ${num(at(model.redisUsPerJob, size), 0)} µs/job (${num(model.redisUsPerJob.fixed, 0)} + ${num(model.redisUsPerJob.perEvent, 2)} µs per event in the job), one queue = one shard`,
  );
  say(
    `  measured  PostgreSQL ${num(at(model.postgresUsPerJob, size) / size, 2)} µs/row, WAL ${int(at(model.walBytesPerJob, size) / size)} bytes/row`,
  );
  say(`  measured  Redis memory ${int(at(model.redisBytesPerJob, size))} bytes per waiting job of ${size} events`);
  if (model.storageBytesPerRow !== undefined) say(`  measured  events on disk ${int(model.storageBytesPerRow)} bytes/row`);
  say(
    `  ${assumed('cores per gateway or worker process (Node runs JavaScript on one thread)', String(assumptions.coresPerInstance), 'cores-per-instance')}`,
  );
  say(`  ${assumed('target utilization of CPU and Redis memory', String(assumptions.headroom), 'headroom')}`);
  say(`  ${assumed('GB maxmemory per Redis master', String(assumptions.redisMaxmemoryGB), 'redis-maxmemory-gb')}`);
  say(`  ${assumed('cores per PostgreSQL primary', String(assumptions.postgresCores), 'postgres-cores')}`);
  say(`  ${assumed('replicas per Redis master', String(assumptions.redisReplicasPerMaster), 'redis-replicas')}`);
  say(
    `  ASSUMED   the unit costs measured on this ${units.machine.cores}-core machine hold on the production machines (same CPU speed, no noise)`,
  );
  say();
  say('Needs:');
  say(`  gateways          ${int(result.gateways)}   (${num(result.cores.gateway)} cores of CPU)`);
  say(`  workers           ${int(result.workers)}   (${num(result.cores.worker)} cores of CPU)`);
  const { redis, postgres } = result;
  say(
    `  Redis masters     ${int(redis.masters)}   (CPU: ${num(result.cores.redis)} cores, one per master → ${redis.mastersForCpu}; memory: ` +
      `${int(redis.backlogJobs)} jobs waiting after ${demand.outageMinutes} min (L = λW) = ${num(redis.backlogGB)} GB → ${redis.mastersForMemory}) + ${int(redis.replicas)} replicas`,
  );
  say(`  QUEUE_SHARDS      ${int(redis.queueShards)}   (a multiple of the masters; each queue lives on one master)`);
  say(
    redis.bufferMaxEvents > 1_000_000
      ? `  BUFFER_MAX_EVENTS ≥ ${int(redis.bufferMaxEvents)}   (the outage's backlog; the default 1,000,000 refuses with 503 sooner)`
      : `  BUFFER_MAX_EVENTS   the default 1,000,000 holds the outage's backlog (${int(redis.bufferMaxEvents)} events)`,
  );
  say(
    `  PostgreSQL        ${int(postgres.primaries)} ${postgres.primaries > 1 ? `primaries' worth: one primary takes every write, so it needs ${int(result.cores.postgres / assumptions.headroom)} cores, or the writes split over databases (not supported today)` : 'primary'}   ` +
      `(${num(result.cores.postgres)} cores of CPU, WAL ${num(postgres.walMBPerSecond)} MB/s` +
      ')',
  );
  const perDay = postgres.storageGBPerDay;
  if (perDay !== undefined) {
    const tb = (days: number) => num((perDay * days) / 1000);
    say(
      `  events on disk    ${tb(1)} TB a day: a partition of EVENTS_PARTITION_INTERVAL=day holds ${tb(1)} TB, week ${tb(7)} TB, month ${tb(30)} TB ` +
        '(indexes included; EVENTS_RETENTION_DAYS bounds the total)',
    );
  }
  if (demand.outageMinutes > 0)
    say(
      `  after the outage  ${num(postgres.catchUpMinutes)} min to write the backlog with the headroom left (writes at 1/${assumptions.headroom} of the rate)`,
    );
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n\n${USAGE}\n`);
  process.exitCode = 2;
}
