// Runs the compiled unit (*.spec.js) and end-to-end (*.e2e-spec.js) tests with Node's test runner.
// Usage: node scripts/run-tests.mjs [unit|e2e|runtime]   (default: all of them, the unit files first)
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';

const which = process.argv[2] ?? 'all';
if (!['all', 'unit', 'e2e', 'runtime'].includes(which)) {
  console.error(`unknown mode ${which}: node scripts/run-tests.mjs [unit|e2e|runtime]`);
  process.exit(2);
}
// `runtime`, for the other Node versions CI runs: every unit test, and the end-to-end files whose behaviour rests on
// what changes from one Node release to the next (HTTP parsing and errors, sockets and timeouts, zlib, TLS, signals
// and child processes, worker threads of the log transport, fetch (the game client's too), WebAssembly). The long fault-injection and
// property files (faults, partitions, validation properties, …) exercise our own logic on top of the same APIs, and
// run on the machine's Node only: all of them three times would take CI past its time budget. The token buckets and the
// buffered counter (seconds each) ran there as unit tests before they moved to end-to-end files, and still do.
const RUNTIME_E2E = new Set(
  [
    'auth-keys',
    'buffered-events',
    'client-faults',
    'compression',
    'embedded-db',
    'errors',
    'ingest',
    'logging',
    'receipts',
    'redis-auth',
    'signals',
    'slow-clients',
    'token-bucket',
  ].map((name) => `${name}.e2e-spec.js`),
);
const files = [];
function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path);
    else if (entry.name.endsWith('.e2e-spec.js')) {
      if (which === 'all' || which === 'e2e' || (which === 'runtime' && RUNTIME_E2E.has(entry.name))) files.push(path);
    } else if (entry.name.endsWith('.spec.js') && which !== 'e2e') files.push(path);
  }
}
for (const root of ['dist/libs', 'dist/apps', 'dist/src', 'dist/test', 'dist/packages']) {
  try {
    walk(root);
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
  }
}
if (files.length === 0) {
  console.error('no test files found under dist/: run tsc -p tsconfig.json first');
  process.exit(1);
}
files.sort();

// One file at a time: end-to-end files share the machine's PostgreSQL and Redis (each with its own database and prefix).
// A test that hangs fails after 5 minutes instead of holding CI until its limit, and the whole run is bounded too.
// No --test-force-exit: on Node 20 it ends a file's process while some of its tests are still queued, and those tests
// then neither run nor fail (the count of tests changed from run to run). Every file closes what it opens instead.
// The unit files run first, on their own, under scripts/no-services.mjs: a unit test that connects to Redis or
// PostgreSQL fails. Then the end-to-end files, against the real services.
const RUN_LIMIT_MS = 20 * 60 * 1000;
const deadline = Date.now() + RUN_LIMIT_MS;
const unitFiles = files.filter((file) => !file.endsWith('.e2e-spec.js'));
const e2eFiles = files.filter((file) => file.endsWith('.e2e-spec.js'));
const statuses = [];
if (unitFiles.length > 0) {
  const guard = `--import=${pathToFileURL(join(import.meta.dirname, 'no-services.mjs')).href}`;
  const NODE_OPTIONS = [process.env.NODE_OPTIONS, guard].filter(Boolean).join(' ');
  console.log(`# unit tests: ${unitFiles.length} files, no Redis or PostgreSQL (scripts/no-services.mjs)`);
  statuses.push(runFiles(unitFiles, { ...process.env, NODE_OPTIONS }));
}
if (e2eFiles.length > 0) {
  // The check belongs to the whole suite (npm test) and to the end-to-end files run alone. The runtime subsets CI runs
  // on other Node versions repeat files whose cleanup the whole suite has already checked.
  const before = which !== 'runtime' ? await redisKeys() : undefined;
  console.log(`# end-to-end tests: ${e2eFiles.length} files, against the machine's Redis and PostgreSQL`);
  const status = runFiles(e2eFiles, process.env);
  statuses.push(status);
  if (status === 0 && before !== undefined) {
    // Tests share the machine's Redis: each removes the keys it created. A key that appeared during the run and is
    // still there is one a test (or the code it ran) left behind.
    const left = [...(await redisKeys())].filter((key) => !before.has(key));
    if (left.length > 0) {
      console.error(`the tests left ${left.length} keys in the shared Redis (db:key):\n  ${left.slice(0, 20).join('\n  ')}`);
      process.exit(1);
    }
    console.log('# the shared Redis holds no key the tests created');
  }
}
process.exit(statuses.find((status) => status !== 0) ?? 0);

/** Runs `files` with Node's test runner, one at a time, within what is left of the run's time limit; its exit status. */
function runFiles(files, env) {
  const timeout = Math.max(deadline - Date.now(), 1);
  const result = spawnSync(
    process.execPath,
    ['--enable-source-maps', '--test', '--test-concurrency=1', '--test-timeout=300000', ...files],
    {
      stdio: 'inherit',
      env,
      timeout,
      killSignal: 'SIGKILL',
    },
  );
  if (result.error !== undefined) console.error(`tests stopped: ${result.error.message} (limit ${RUN_LIMIT_MS / 60000} min for the run)`);
  return result.status ?? 1;
}

/** Every key of every database of the shared Redis (the end-to-end tests' REDIS_URL), as "db:key". */
async function redisKeys() {
  const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const keys = new Set();
    const databases = [...(await redis.info('keyspace')).matchAll(/^db(\d+):/gm)].map((match) => Number(match[1]));
    for (const db of databases) {
      await redis.select(db);
      for await (const batch of redis.scanStream({ count: 1000 })) for (const key of batch) keys.add(`${db}:${key}`);
    }
    return keys;
  } finally {
    redis.disconnect();
  }
}
