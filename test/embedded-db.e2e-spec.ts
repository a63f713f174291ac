import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { EmbeddedDatabase, MIGRATIONS } from '#persistence';
import { freePort, startService } from './support/processes';
import { bootTestApp, deletePrefix, eventually, exampleBatch, postEvents, REDIS_URL, TEST_SECRET, tokenFor } from './support/test-app';

const ROOT = join(__dirname, '..', '..');
const execFileAsync = promisify(execFile);

// The one smoke test of the embedded development database (every other suite runs on the PostgreSQL server): the
// all-in-one service without DATABASE_URL, on PGlite in a directory of its own. The first boot creates the database
// (initdb: most of this file's time), the second one, from the build as `npm start` runs it, finds the data there.
describe('embedded database: npm start without DATABASE_URL', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'playsmart-pglite-'));
  const prefix = `embedded-${randomUUID().slice(0, 8)}`;
  const user = `embedded-${randomUUID()}`;
  let batchId = '';
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates the database, migrates it, writes the example batch and answers its receipt', async (ctx) => {
    const started = Date.now();
    const port = await freePort();
    const t = await bootTestApp({ embeddedDir: dir, env: { EMBEDDED_DB_PORT: String(port) } });
    ctx.diagnostic(`first boot (initdb and migrations): ${Date.now() - started} ms`);
    try {
      assert.equal(t.config.database.url, undefined);
      // On the port configured, so that the psql line of the README works from one start to the next.
      assert.equal(t.databaseUrl, `postgres://postgres@127.0.0.1:${port}/postgres`);
      const ready = await t.inject({ method: 'GET', url: '/health/ready' });
      assert.deepEqual(
        { ...ready.json<object>(), redis: undefined },
        { status: 'ok', checks: { redis: 'up', database: 'up' }, redis: undefined },
      );

      const response = await postEvents(t, exampleBatch(user), tokenFor(user));
      assert.equal(response.statusCode, 202, response.body);
      batchId = response.json<{ batch_id: string }>().batch_id;

      const rows = await eventually(async () => {
        const { rows } = await t.db.query<{ type: string; custom_event_name: string | null; occurred_at: Date; customdata: unknown }>(
          'SELECT type, custom_event_name, occurred_at, customdata FROM events WHERE user_id = $1 AND batch_id = $2 ORDER BY occurred_at',
          [user, batchId],
        );
        return rows.length === 3 ? rows : undefined;
      }, 10_000);
      assert.deepEqual(
        rows.map((r) => [r.type, r.custom_event_name, r.occurred_at.toISOString(), r.customdata]),
        [
          ['Custom', 'PowerUpUsed', '2026-04-22T14:29:15.000Z', { power_up: 'shield' }],
          ['LevelCompleted', null, '2026-04-22T14:30:00.000Z', { level: 5, score: 4800, duration_seconds: 42 }],
          ['AdImpression', null, '2026-04-22T14:30:45.000Z', { ad_unit: 'post_level_interstitial' }],
        ],
      );

      const receipt = await t.inject({
        method: 'GET',
        url: `/ingest/batches/${batchId}`,
        headers: { authorization: `Bearer ${tokenFor(user)}` },
      });
      assert.equal(receipt.statusCode, 200, receipt.body);
      assert.equal(receipt.json<{ status: string }>().status, 'written');

      // A retried batch (the same event ids) is stored once: ON CONFLICT works on PGlite as on PostgreSQL.
      const retried = {
        ...exampleBatch(user),
        events: (exampleBatch(user).events as object[]).map((e) => ({ ...e, event_id: randomUUID() })),
      };
      for (let attempt = 0; attempt < 2; attempt++) assert.equal((await postEvents(t, retried, tokenFor(user))).statusCode, 202);
      await eventually(async () => {
        const { rows } = await t.db.query<{ count: string }>('SELECT count(*) FROM events WHERE user_id = $1', [user]);
        const { rows: receipts } = await t.db.query<{ count: string }>('SELECT count(*) FROM batches WHERE user_id = $1', [user]);
        return rows[0].count === '6' && receipts[0].count === '3' ? true : undefined;
      }, 10_000);
      const { rows: migrations } = await t.db.query<{ name: string }>('SELECT name FROM migrations ORDER BY id');
      // Every migration ran, in order (a new one needs no edit here: docs/extending.md counts the edits of a field).
      assert.deepEqual(
        migrations.map((m) => m.name),
        MIGRATIONS.map((migration) => migration.name),
      );

      // One process at a time: the directory is locked while this one has it open.
      await assert.rejects(new EmbeddedDatabase().start({ dir, port: 0 }), new RegExp(`in use by process ${process.pid}`));
    } finally {
      await t.close();
    }
    assert.ok(!existsSync(join(dir, 'playsmart.lock')), 'the lock is released on close');
  });

  it('the built service (`npm start`) says which database it uses and finds the data again in the directory', async (ctx) => {
    assert.notEqual(batchId, '', 'the first test wrote a batch');
    // Its port taken (another program, a second checkout's service): it serves on another one and says which.
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const takenPort = (taken.address() as AddressInfo).port;
    const started = Date.now();
    const service = await startService('all-in-one', {
      EMBEDDED_DB_DIR: dir,
      EMBEDDED_DB_PORT: String(takenPort),
      JWT_SECRET: TEST_SECRET,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'log',
    }).finally(() => taken.close());
    ctx.diagnostic(`second boot (existing directory, separate process): ${Date.now() - started} ms`);
    try {
      assert.ok(service.logs.includes(`database: embedded PGlite at ${dir} (development; set DATABASE_URL for PostgreSQL)`), service.logs);
      const psql = /port (\d+) is taken \(EMBEDDED_DB_PORT\): the embedded database listens on 127\.0\.0\.1:(\d+) instead/.exec(
        service.logs,
      );
      assert.ok(psql !== null && Number(psql[1]) === takenPort && Number(psql[2]) !== takenPort, service.logs);
      assert.ok(service.logs.includes(`(psql postgres://postgres@127.0.0.1:${psql[2]}/postgres)`), service.logs);
      // The embedded database may still be busy starting (a busy machine): its 503 is the documented answer meanwhile.
      const receipt = await eventually(async () => {
        const answer = await fetch(`${service.url}/ingest/batches/${batchId}`, { headers: { authorization: `Bearer ${tokenFor(user)}` } });
        return answer.status === 503 ? undefined : answer;
      }, 15_000);
      assert.equal(receipt.status, 200);
      const { written_at: writtenAt, ...rest } = (await receipt.json()) as { written_at: string };
      assert.deepEqual(rest, { batch_id: batchId, status: 'written', accepted: 3 });
      assert.ok(Date.parse(writtenAt) <= Date.now());
    } finally {
      service.kill('SIGTERM');
      assert.equal(await service.exited(), 0, service.logs);
      await service.stop();
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
    assert.ok(!existsSync(join(dir, 'playsmart.lock')), 'the lock is released on shutdown');
  });

  it('a worker or gateway started on its own without DATABASE_URL refuses to start, naming it', async () => {
    const env = { PATH: process.env.PATH ?? '', NODE_ENV: 'test', PORT: '0', QUEUE_PREFIX: prefix, EMBEDDED_DB_DIR: join(dir, 'unused') };
    await Promise.all(
      ['dist/apps/worker/src/main.js', 'dist/apps/gateway/src/main.js'].map(async (script) => {
        const failure = await execFileAsync(process.execPath, [script], { cwd: ROOT, env, timeout: 30_000 }).then(
          () => assert.fail(`${script} started`),
          (error: { code?: number; stdout: string; stderr: string }) => error,
        );
        assert.equal(failure.code, 1);
        assert.match(failure.stdout + failure.stderr, /DATABASE_URL is required to run the gateway or the worker on its own/);
      }),
    );
    assert.ok(!existsSync(join(dir, 'unused')), 'no embedded database was created');
  });
});
