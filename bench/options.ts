import { parseArgs } from 'node:util';

export const DEVELOPMENT_SECRET = 'playsmart-development-secret-do-not-use-in-production';

export interface BenchOptions {
  smoke: boolean;
  /** Target a running service instead of starting the stack. */
  url?: string;
  /** Where the report goes; bench/results for a full run, a temporary directory for a smoke run. */
  out?: string;
  /** Connection counts of the sweep (the chart's x axis). */
  levels: number[];
  /** The accept test's full load: connections for the headline figures and the end-to-end run. */
  connections: number;
  stepSeconds: number;
  warmupSeconds: number;
  e2eSeconds: number;
  /** Light load: requests per second (over 2 connections) for the latency targets. */
  lightRate: number;
  lightSeconds: number;
  copySeconds: number;
  users: number;
  drainTimeoutSeconds: number;
  /** Stages to run: ceilings, all-in-one, gateway, split (the default set), unit-costs (only when named). */
  stages: Set<Stage>;
  /** Extra service environment (KEY=VALUE), e.g. WORKER_CONCURRENCY=8. */
  env: Record<string, string>;
  /** Run the services under `node --cpu-prof`, profiles written to <out>/profiles. */
  cpuProf: boolean;
  adminUrl: string;
  redisUrl: string;
  jwtSecret: string;
  /** With --url: the target's database and queue prefix, for the end-to-end figures. */
  databaseUrl?: string;
  queuePrefix: string;
  /** The unit-costs stage: offered events/s in all, seconds per window, windows per topology and request size. */
  unitRate: number;
  unitSeconds: number;
  unitRepeats: number;
  /** Free text stored with the result (what this run tries). */
  label?: string;
  /** Base name of the report files: <out>/<name>.json, .md and .svg. */
  name: string;
  /** Only write the markdown summary and the chart again from this result file. */
  render?: string;
}

export type Stage = 'ceilings' | 'all-in-one' | 'gateway' | 'split' | 'unit-costs';
/** The stages a run without --stages runs (and --smoke, CI's run): unit-costs only runs when named. */
const DEFAULT_STAGES: readonly Stage[] = ['ceilings', 'all-in-one', 'gateway', 'split'];
const STAGES: readonly Stage[] = [...DEFAULT_STAGES, 'unit-costs'];

export const USAGE = `npm run bench -- [options]

  --smoke                 a few seconds in all: every stage with tiny durations; report in a temporary directory
  --url <url>             measure a running service (its accept path; end to end too with --database-url)
  --out <dir>             report directory (default bench/results, or a temporary directory with --smoke)
  --connections <n>       the accept test's full load (default 32)
  --levels <a,b,…>        connection counts of the sweep (default 1,2,4,8,16,32,64)
  --step-seconds <s>      each sweep step (default 8)
  --e2e-seconds <s>       the end-to-end run (default 40; at least 30 for the report's sustained rate)
  --light-rate <req/s>    the light-load test's request rate (default 25, i.e. 5,000 events/s)
  --users <n>             distinct users, tokens and bodies (default 1000)
  --stages <a,b,…>        ceilings, all-in-one, gateway, split (default: these four); unit-costs: CPU per event, job
                          and row of each role and WAL per row at a moderate load, 1+1 and 2+2 processes, on a
                          private redis-server: <out>/unit-costs.json (<name>-unit-costs.json with --name), read by
                          npm run capacity; with unit-costs alone, latest.* are left as they are
  --unit-rate <events/s>  the unit-costs load, in all (default 10000)
  --unit-seconds <s>      each unit-costs window (default 15)
  --unit-repeats <n>      windows per topology and request size (default 3)
  --env KEY=VALUE         extra service environment, repeatable (WORKER_CONCURRENCY=8, DB_POOL_SIZE=8, …)
  --cpu-prof              run the services under node --cpu-prof (profiles in <out>/profiles)
  --label <text>          stored with the result
  --name <name>           report files <out>/<name>.json, .md, .svg (default latest)
  --render <file.json>    measure nothing: write the .md and .svg of an existing result again
  --jwt-secret <secret>   with --url: the target's HS256 secret (default: the development secret)
  --database-url <url>    with --url: the target's database, for end-to-end figures
  --queue-prefix <p>      with --url: the target's QUEUE_PREFIX (default playsmart)
  --admin-url <url>       PostgreSQL server for the bench databases (default postgres://postgres@127.0.0.1:5432/postgres)
  --redis-url <url>       Redis (default redis://127.0.0.1:6379)`;

function numbers(text: string): number[] {
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.some((value) => !Number.isInteger(value) || value < 1)) throw new Error(`not a list of positive integers: ${text}`);
  return values;
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number, got ${text}`);
  return value;
}

export function parseOptions(argv: readonly string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      help: { type: 'boolean', short: 'h' },
      smoke: { type: 'boolean' },
      url: { type: 'string' },
      out: { type: 'string' },
      connections: { type: 'string' },
      levels: { type: 'string' },
      'step-seconds': { type: 'string' },
      'warmup-seconds': { type: 'string' },
      'e2e-seconds': { type: 'string' },
      'light-rate': { type: 'string' },
      'light-seconds': { type: 'string' },
      'copy-seconds': { type: 'string' },
      'unit-rate': { type: 'string' },
      'unit-seconds': { type: 'string' },
      'unit-repeats': { type: 'string' },
      users: { type: 'string' },
      stages: { type: 'string' },
      env: { type: 'string', multiple: true },
      'cpu-prof': { type: 'boolean' },
      label: { type: 'string' },
      name: { type: 'string' },
      render: { type: 'string' },
      'jwt-secret': { type: 'string' },
      'database-url': { type: 'string' },
      'queue-prefix': { type: 'string' },
      'admin-url': { type: 'string' },
      'redis-url': { type: 'string' },
    },
    strict: true,
  });
  if (values.help === true) return 'help';
  const smoke = values.smoke === true;
  const env: Record<string, string> = {};
  for (const pair of values.env ?? []) {
    const match = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(pair);
    if (match === null) throw new Error(`--env takes KEY=VALUE, got ${pair}`);
    env[match[1]] = match[2];
  }
  const stages = new Set<Stage>(
    values.stages === undefined
      ? DEFAULT_STAGES
      : values.stages.split(',').map((stage) => {
          if (!(STAGES as readonly string[]).includes(stage)) throw new Error(`unknown stage ${stage}; stages: ${STAGES.join(', ')}`);
          return stage as Stage;
        }),
  );
  const levels = values.levels === undefined ? (smoke ? [1, 4] : [1, 2, 4, 8, 16, 32, 64]) : numbers(values.levels);
  return {
    smoke,
    url: values.url,
    out: values.out,
    levels,
    connections: positive('connections', values.connections, smoke ? 4 : 32),
    stepSeconds: positive('step-seconds', values['step-seconds'], smoke ? 0.5 : 8),
    warmupSeconds: positive('warmup-seconds', values['warmup-seconds'], smoke ? 0.3 : 3),
    e2eSeconds: positive('e2e-seconds', values['e2e-seconds'], smoke ? 1 : 40),
    lightRate: positive('light-rate', values['light-rate'], 25),
    lightSeconds: positive('light-seconds', values['light-seconds'], smoke ? 0.5 : 10),
    copySeconds: positive('copy-seconds', values['copy-seconds'], smoke ? 0.3 : 8),
    users: positive('users', values.users, smoke ? 20 : 1000),
    unitRate: positive('unit-rate', values['unit-rate'], smoke ? 2000 : 10_000),
    unitSeconds: positive('unit-seconds', values['unit-seconds'], smoke ? 1 : 15),
    unitRepeats: Math.round(positive('unit-repeats', values['unit-repeats'], smoke ? 1 : 3)),
    drainTimeoutSeconds: smoke ? 15 : 120,
    stages,
    env,
    cpuProf: values['cpu-prof'] === true,
    adminUrl: values['admin-url'] ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: values['redis-url'] ?? 'redis://127.0.0.1:6379',
    jwtSecret: values['jwt-secret'] ?? DEVELOPMENT_SECRET,
    databaseUrl: values['database-url'],
    queuePrefix: values['queue-prefix'] ?? 'playsmart',
    label: values.label,
    name: values.name ?? 'latest',
    render: values.render,
  };
}
