import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decode, verify } from 'jsonwebtoken';
import { Redis } from 'ioredis';
import { Pool } from 'pg';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { WorkerModule } from '../apps/worker/src/worker.module';
import { dataSourceOptions, initializeAndMigrate, MIGRATIONS } from '#persistence';
import { durabilityRisks, loadConfig } from '#platform';
import { startCommand } from '../support/service-process';
import {
  bootTestApp,
  createTestDatabase,
  deletePrefix,
  eventually,
  exampleBatch,
  postEvents,
  REDIS_URL,
  TEST_SECRET,
  TestApp,
  tokenFor,
} from './support/test-app';

const ROOT = `${__dirname}/../..`;

/**
 * Runs a compiled entry point the way npm scripts do, with the given environment. Not spawnSync: the application
 * under test runs in this process, and a transaction of its own (the partition maintenance at start locks `events`)
 * must go on while a command that reads the same tables waits for it.
 */
function runNode(
  script: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [script, ...args],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8', timeout: 30_000 },
      (error, stdout, stderr) =>
        resolve({ status: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stdout, stderr }),
    );
  });
}

describe('operations: health, documentation and tooling', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('GET /health/live and /health/ready answer 200 when Redis and the database answer', async () => {
    const live = await t.inject({ method: 'GET', url: '/health/live' });
    assert.equal(live.statusCode, 200);
    const ready = await t.inject({ method: 'GET', url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    const { redis: settings, ...answer } = ready.json<{ redis: unknown }>();
    assert.deepEqual(answer, { status: 'ok', checks: { redis: 'up', database: 'up' } });
    // What the Redis in use can lose, as it says itself (CI's runs with appendonly no).
    const direct = new Redis(REDIS_URL);
    try {
      const [, appendonly] = (await direct.config('GET', 'appendonly')) as string[];
      const [, policy] = (await direct.config('GET', 'maxmemory-policy')) as string[];
      const risks = durabilityRisks({ appendonly, maxmemory_policy: policy });
      assert.deepEqual(settings, { appendonly, maxmemory_policy: policy, risks });
      assert.equal(
        appendonly === 'no',
        risks.some((risk) => risk.startsWith('appendonly no')),
      );
    } finally {
      direct.disconnect();
    }
  });

  it('serves Swagger UI at /docs and an OpenAPI document with bearer auth, the example and every response', async () => {
    const ui = await t.inject({ method: 'GET', url: '/docs' });
    assert.equal(ui.statusCode, 200);
    assert.match(String(ui.headers['content-type']), /text\/html/);

    const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<{
      components: { securitySchemes: Record<string, { scheme: string }> };
      paths: Record<
        string,
        Record<
          string,
          {
            security: unknown[];
            requestBody: { content: Record<string, { examples: Record<string, { value: unknown }> }> };
            responses: Record<string, { content?: Record<string, { example?: unknown; examples?: Record<string, unknown> }> }>;
          }
        >
      >;
    }>();
    assert.equal(Object.values(doc.components.securitySchemes)[0]?.scheme, 'bearer');
    const operation = doc.paths['/ingest/events']?.post;
    assert.ok(operation, 'POST /ingest/events is documented');
    assert.ok(operation.security.length > 0);
    assert.deepEqual(Object.values(operation.requestBody.content['application/json'].examples)[0].value, exampleBatch());
    assert.ok(operation.responses['202']?.content?.['application/json']?.example, 'response 202 has an example');
    // An error status has one example per reason (test/openapi.e2e-spec.ts checks them).
    for (const status of ['400', '401', '403', '413']) {
      const examples = operation.responses[status]?.content?.['application/json']?.examples ?? {};
      assert.ok(Object.keys(examples).length > 0, `response ${status} has examples`);
    }
    assert.ok(!('/health/live' in doc.paths), 'health is not part of the public API');
  });

  it('npm run token prints a token for the configured secret that the service accepts', async () => {
    const result = await runNode('dist/scripts/token.js', ['device-abc-123'], { JWT_SECRET: TEST_SECRET });
    assert.equal(result.status, 0, result.stderr);
    const token = result.stdout.trim();
    const claims = verify(token, TEST_SECRET) as { sub: string; exp: number };
    assert.equal(claims.sub, 'device-abc-123');
    assert.ok(claims.exp > Date.now() / 1000);
    assert.equal((await postEvents(t, exampleBatch(), token)).statusCode, 202);
  });

  it('npm run token writes the JWT_TYPE header and refuses a lifetime over JWT_MAX_LIFETIME_SECONDS', async () => {
    const env = { JWT_SECRET: TEST_SECRET, JWT_TYPE: 'at+jwt', JWT_MAX_LIFETIME_SECONDS: '3600' };
    const typed = await runNode('dist/scripts/token.js', ['device-abc-123', '3600'], env);
    assert.equal(typed.status, 0, typed.stderr);
    assert.equal((decode(typed.stdout.trim(), { complete: true })?.header as { typ?: string }).typ, 'at+jwt');
    const tooLong = await runNode('dist/scripts/token.js', ['device-abc-123', '3601'], env);
    assert.equal(tooLong.status, 2);
    assert.match(tooLong.stderr, /JWT_MAX_LIFETIME_SECONDS \(3600\)/);
  });

  it('npm run token writes the game into the JWT_GAME_CLAIM claim', async () => {
    const result = await runNode('dist/scripts/token.js', ['device-abc-123', '600', 'com.example.stackblaster'], {
      JWT_SECRET: TEST_SECRET,
      JWT_GAME_CLAIM: 'game_id',
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal((verify(result.stdout.trim(), TEST_SECRET) as { game_id?: string }).game_id, 'com.example.stackblaster');
    const unbound = await runNode('dist/scripts/token.js', ['device-abc-123', '600', 'com.example.stackblaster'], {
      JWT_SECRET: TEST_SECRET,
    });
    assert.equal(unbound.status, 2);
    assert.match(unbound.stderr, /JWT_GAME_CLAIM/);
  });

  it('npm run build compiles once, then does nothing while dist/ is newer than its sources', () => {
    const build = () => spawnSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(build().status, 0);
    const stamp = statSync(`${ROOT}/dist/.build-stamp`).mtimeMs;
    const again = build();
    assert.equal(again.status, 0, again.stderr);
    assert.equal(statSync(`${ROOT}/dist/.build-stamp`).mtimeMs, stamp, 'nothing was compiled the second time');
  });

  it('refuses to start with a bad variable, naming it', async () => {
    const badPort = await runNode('dist/src/main.js', [], { PORT: 'abc' });
    assert.equal(badPort.status, 1);
    assert.match(badPort.stderr, /PORT must be an integer/);
    const production = await runNode('dist/src/main.js', [], { NODE_ENV: 'production' });
    assert.equal(production.status, 1);
    assert.match(production.stderr, /DATABASE_URL is required/);
    assert.match(production.stderr, /JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URI is required/);
  });

  it('fails closed: the published development secret only where NODE_ENV says development, and :prod is production', async () => {
    // A gateway started by hand with neither NODE_ENV nor a key once accepted tokens signed with the published secret.
    const bare = await runNode('dist/apps/gateway/src/main.js', [], { DATABASE_URL: t.databaseUrl });
    assert.equal(bare.status, 1);
    assert.match(bare.stderr, /JWT_SECRET, JWT_PUBLIC_KEY or JWT_JWKS_URI is required unless NODE_ENV is development or test/);
    for (const role of ['all-in-one', 'gateway', 'worker'] as const) assert.equal(startCommand(role).env.NODE_ENV, 'production', role);
    const scripts = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts;
    assert.match(scripts.start, /NODE_ENV=\$\{NODE_ENV:-development\} exec node /);
  });

  it('creates the schema from migrations, with named constraints and indexes', async () => {
    const { rows: columns } = await t.db.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'events' ORDER BY column_name`,
    );
    const byName = Object.fromEntries(columns.map((c) => [c.column_name, `${c.data_type}${c.is_nullable === 'YES' ? ' null' : ''}`]));
    assert.deepEqual(byName, {
      batch_id: 'uuid',
      clock_skew_ms: 'bigint null',
      custom_event_name: 'text null',
      customdata: 'jsonb null',
      event_id: 'uuid',
      game_id: 'text',
      occurred_at: 'timestamp with time zone',
      received_at: 'timestamp with time zone',
      type: 'text',
      user_id: 'text',
      written_at: 'timestamp with time zone',
    });
    const { rows: batchColumns } = await t.db.query<{ column_name: string; data_type: string; is_nullable: string }>(
      `SELECT column_name, data_type, is_nullable FROM information_schema.columns WHERE table_name = 'batches' ORDER BY column_name`,
    );
    assert.deepEqual(
      Object.fromEntries(batchColumns.map((c) => [c.column_name, `${c.data_type}${c.is_nullable === 'YES' ? ' null' : ''}`])),
      {
        accepted: 'integer',
        batch_id: 'uuid',
        clock_skew_ms: 'bigint null',
        received_at: 'timestamp with time zone',
        user_id: 'text',
        written_at: 'timestamp with time zone',
      },
    );
    const { rows: indexes } = await t.db.query<{ indexname: string; indexdef: string }>(
      `SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events' ORDER BY indexname`,
    );
    assert.deepEqual(
      indexes.map((i) => i.indexname),
      ['idx_events_batch_id', 'idx_events_game_id_occurred_at', 'idx_events_user_id_occurred_at', 'pk_events'],
    );
    // A partitioned table's keys contain its partition key (see docs/guarantees.md).
    assert.match(indexes.find((i) => i.indexname === 'pk_events')?.indexdef ?? '', /\(user_id, event_id, occurred_at\)/);
    const { rows: partitioning } = await t.db.query<{ definition: string }>(`SELECT pg_get_partkeydef('events'::regclass) AS definition`);
    assert.equal(partitioning[0].definition, 'RANGE (occurred_at)');
  });

  it('the entities and the migrations describe the same schema', async () => {
    const result = await runNode(
      'node_modules/typeorm/cli.js',
      ['migration:generate', '--check', '-d', 'dist/libs/persistence/src/data-source.js', 'drift'],
      // As the npm script sets it.
      { NODE_ENV: 'development', DATABASE_URL: t.databaseUrl },
    );
    assert.equal(result.status, 0, result.stdout + result.stderr);
  });

  it('npm run migration:run applies the migrations to an empty database', async () => {
    const database = await createTestDatabase();
    try {
      const result = await runNode('node_modules/typeorm/cli.js', ['migration:run', '-d', 'dist/libs/persistence/src/data-source.js'], {
        NODE_ENV: 'development',
        DATABASE_URL: database.url,
      });
      assert.equal(result.status, 0, result.stderr + result.stdout);
      const pool = new Pool({ connectionString: database.url, max: 1 });
      const { rows } = await pool.query<{ count: string }>(`SELECT count(*) FROM information_schema.tables WHERE table_name = 'events'`);
      await pool.end();
      assert.equal(rows[0].count, '1');
    } finally {
      await database.drop();
    }
  });
});

describe("operators' endpoints on the operations listener", () => {
  it("serves metrics and the docs there, and neither on the players' port without DOCS_PUBLIC", async () => {
    const t = await bootTestApp({ env: { DOCS_PUBLIC: 'false' } });
    try {
      for (const url of ['/metrics', '/docs', '/docs-json', '/docs/swagger-ui.css']) {
        assert.equal((await t.inject({ method: 'GET', url })).statusCode, 404, `${url} on the players' port`);
      }
      for (const url of ['/metrics', '/docs', '/docs-json', '/health/live', '/health/ready']) {
        assert.equal((await t.opsInject({ method: 'GET', url })).statusCode, 200, `${url} on the operations listener`);
      }
      for (const url of ['/health/live', '/health/ready']) assert.equal((await t.inject({ method: 'GET', url })).statusCode, 200, url);
    } finally {
      await t.close();
    }
  });
});

describe('migrations', () => {
  it('writers starting at once on an empty database all start, and each migration is applied once', async () => {
    const database = await createTestDatabase();
    const options = dataSourceOptions(loadConfig({ DATABASE_URL: database.url, JWT_SECRET: TEST_SECRET }), database.url);
    const started = await Promise.allSettled(Array.from({ length: 4 }, () => initializeAndMigrate({ ...options, migrationsRun: true })));
    try {
      const failures = started.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
      assert.deepEqual(failures, [], 'every writer started');
      const pool = new Pool({ connectionString: database.url, max: 1 });
      const { rows } = await pool.query<{ name: string; count: string }>('SELECT name, count(*) FROM migrations GROUP BY name');
      await pool.end();
      assert.deepEqual(rows.map((row) => row.name).sort(), MIGRATIONS.map((migration) => migration.name).sort());
      assert.ok(
        rows.every((row) => row.count === '1'),
        'each migration recorded once',
      );
    } finally {
      for (const result of started) if (result.status === 'fulfilled') await result.value.destroy();
      await database.drop();
    }
  });
});

describe('gateway and worker as separate processes', () => {
  it('the gateway queues without a database and the worker writes', async () => {
    const database = await createTestDatabase();
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    // The worker creates the schema. The gateway's database is unreachable on purpose: it reads receipts only, so it
    // must start, be ready and queue without one (test/receipts.e2e-spec.ts covers its receipts).
    const worker = await bootTestApp({ rootModule: WorkerModule, shared: { databaseUrl: database.url, prefix } });
    const gateway = await bootTestApp({ rootModule: GatewayModule, shared: { databaseUrl: 'postgres://nobody@127.0.0.1:1/none', prefix } });
    try {
      const ready = await gateway.inject({ method: 'GET', url: '/health/ready' });
      assert.deepEqual({ ...ready.json<object>(), redis: undefined }, { status: 'ok', checks: { redis: 'up' }, redis: undefined });
      assert.equal(
        (await worker.inject({ method: 'POST', url: '/ingest/events', headers: { 'content-type': 'application/json' }, payload: '{}' }))
          .statusCode,
        404,
      );

      const user = `split-${randomUUID()}`;
      const response = await postEvents(gateway, exampleBatch(user), tokenFor(user));
      assert.equal(response.statusCode, 202);
      await eventually(async () => {
        const { rows } = await worker.db.query<{ count: string }>('SELECT count(*) FROM events WHERE user_id = $1', [user]);
        return rows[0].count === '3' ? true : undefined;
      });
    } finally {
      await deletePrefix(worker.redis, prefix);
      await gateway.close();
      await worker.close();
      await database.drop();
    }
  });
});
