import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Pool } from 'pg';
import { DataSource } from 'typeorm';
import { EventPartitions } from '#contract';
import { dataSourceOptions, initializeAndMigrate, MIGRATIONS } from '#persistence';
import { loadConfig } from '#platform';
import { PartitionMaintenance } from '#worker';
import { freePort } from './support/processes';
import { bootTestApp, createTestDatabase, eventually, postEvents, TEST_SECRET, TestApp, tokenFor } from './support/test-app';

// `events` partitioned by range of occurred_at: the migration keeps the rows of the table before it, the worker's
// maintenance creates partitions ahead and for what landed in the default partition (moving it), and with a retention
// drops whole partitions and refuses, at validation, what it would drop.

const DAY_MS = 86_400_000;

/** The first of the month holding `at`, in UTC, as a partition's name says it: `events_p20261101`. */
function monthPartition(at: Date): string {
  return `events_p${at.toISOString().slice(0, 7).replace('-', '')}01`;
}

function addMonths(at: Date, months: number): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1));
}

/** The partitions of `events`, by name, with their bounds as PostgreSQL prints them. */
async function partitions(db: Pool): Promise<Map<string, string>> {
  const { rows } = await db.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
     FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass`,
  );
  return new Map(rows.map(({ name, bound }) => [name, bound]));
}

/** Where each of `user`'s events is stored: partition name by event_id. */
async function placed(db: Pool, user: string): Promise<Record<string, string>> {
  const { rows } = await db.query<{ event_id: string; partition: string }>(
    `SELECT event_id, tableoid::regclass::text AS partition FROM events WHERE user_id = $1`,
    [user],
  );
  return Object.fromEntries(rows.map((row) => [row.event_id, row.partition]));
}

/** Inserts an event of `user` straight into `events`, as the worker would have stored it. */
async function insertEvent(db: Pool, user: string, occurredAt: Date, eventId: string = randomUUID()): Promise<string> {
  await db.query(
    `INSERT INTO events (user_id, event_id, game_id, type, occurred_at, received_at, batch_id) VALUES ($1, $2, 'com.a.b', 'LevelStarted', $3, now(), $4)`,
    [user, eventId, occurredAt, randomUUID()],
  );
  return eventId;
}

function batchAt(user: string, events: Array<{ event_id: string; timestamp: string }>): Record<string, unknown> {
  return { user_id: user, game_id: 'com.example.stackblaster', events: events.map((event) => ({ type: 'LevelStarted', ...event })) };
}

/** Posts a batch again (a client's retry: another batch_id, the same events) and waits for its receipt. */
async function retry(t: TestApp, user: string, body: Record<string, unknown>): Promise<void> {
  const { rows: before } = await t.db.query<{ count: string }>(`SELECT count(*) FROM batches WHERE user_id = $1`, [user]);
  const response = await postEvents(t, body, tokenFor(user));
  assert.equal(response.statusCode, 202, response.body);
  await eventually(async () => {
    const { rows } = await t.db.query<{ count: string }>(`SELECT count(*) FROM batches WHERE user_id = $1`, [user]);
    return Number(rows[0].count) > Number(before[0].count) ? true : undefined;
  }, 10_000);
}

/** Posts a batch, expects 202, and waits for `user` to have `stored` events. */
async function sendAndWait(t: TestApp, user: string, body: Record<string, unknown>, stored: number): Promise<void> {
  const response = await postEvents(t, body, tokenFor(user));
  assert.equal(response.statusCode, 202, response.body);
  await eventually(async () => {
    const { rows } = await t.db.query<{ count: string }>('SELECT count(*) FROM events WHERE user_id = $1', [user]);
    return Number(rows[0].count) === stored ? true : undefined;
  }, 10_000);
}

describe('the migration to a partitioned events table', () => {
  it('keeps the rows of the table before it, in monthly partitions, and goes back down', async () => {
    const database = await createTestDatabase();
    const options = dataSourceOptions(loadConfig({ DATABASE_URL: database.url, JWT_SECRET: TEST_SECRET }), database.url);
    let dataSource: DataSource | undefined;
    try {
      dataSource = await initializeAndMigrate({ ...options, migrations: MIGRATIONS.slice(0, -1), migrationsRun: true });
      const user = `migrated-${randomUUID()}`;
      const times = ['1999-12-31T23:59:59.999Z', '2024-03-01T00:00:00Z', '2024-03-31T23:59:59Z', '2026-04-22T14:30:00+00:00'];
      for (const occurredAt of times) {
        await dataSource.query(
          `INSERT INTO events (user_id, event_id, game_id, type, occurred_at, received_at, batch_id, customdata, clock_skew_ms)
           VALUES ($1, $2, 'com.a.b', 'LevelStarted', $3, now(), $4, '{"level": 3}', 1500)`,
          [user, randomUUID(), occurredAt, randomUUID()],
        );
      }
      const before = await dataSource.query<unknown[]>(`SELECT * FROM events ORDER BY event_id`);
      await dataSource.destroy();

      dataSource = await initializeAndMigrate({ ...options, migrationsRun: true });
      const after = await dataSource.query<unknown[]>(`SELECT * FROM events ORDER BY event_id`);
      assert.deepEqual(after, before, 'every row and value kept');
      const where = await dataSource.query<Array<{ occurred_at: Date; partition: string }>>(
        `SELECT occurred_at, tableoid::regclass::text AS partition FROM events ORDER BY occurred_at`,
      );
      assert.deepEqual(
        where.map((row) => row.partition),
        ['events_p19991201', 'events_p20240301', 'events_p20240301', 'events_p20260401'],
      );
      const names = await dataSource.query<Array<{ name: string }>>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1`,
      );
      assert.deepEqual(
        names.map(({ name }) => name),
        [...new Set(['events_default', 'events_p19991201', 'events_p20240301', 'events_p20260401', monthPartition(new Date())])].sort(),
      );
      const [pk] = await dataSource.query<Array<{ indexdef: string }>>(`SELECT indexdef FROM pg_indexes WHERE indexname = 'pk_events'`);
      assert.match(pk.indexdef, /\(user_id, event_id, occurred_at\)/);

      // Down: one table again, keyed by (user_id, event_id); an event_id stored twice keeps its first write.
      const [{ event_id: reused }] = await dataSource.query<
        Array<{
          event_id: string;
        }>
      >(`SELECT event_id FROM events ORDER BY occurred_at LIMIT 1`);
      await dataSource.query(
        `INSERT INTO events (user_id, event_id, game_id, type, occurred_at, received_at, batch_id) VALUES ($1, $2, 'com.a.b', 'LevelStarted', '2026-01-01T00:00:00Z', now(), $3)`,
        [user, reused, randomUUID()],
      );
      await dataSource.undoLastMigration({ transaction: 'each' });
      const down = await dataSource.query<unknown[]>(`SELECT * FROM events ORDER BY event_id`);
      assert.deepEqual(down, before);
      const [{ relkind }] = await dataSource.query<Array<{ relkind: string }>>(`SELECT relkind FROM pg_class WHERE relname = 'events'`);
      assert.equal(relkind, 'r');
      await dataSource.runMigrations({ transaction: 'each' });
      assert.equal((await dataSource.query<unknown[]>(`SELECT * FROM events`)).length, times.length);
    } finally {
      if (dataSource?.isInitialized === true) await dataSource.destroy();
      await database.drop();
    }
  });
});

describe('partition maintenance and retention, in the all-in-one service', () => {
  const RETENTION_DAYS = 400;
  let t: TestApp;
  let maintenance: PartitionMaintenance;

  before(async () => {
    // The writer on the main thread, where the test can call its maintenance.
    t = await bootTestApp({ env: { EVENTS_RETENTION_DAYS: String(RETENTION_DAYS), WRITER_THREAD: 'false' } });
    maintenance = t.app.get(PartitionMaintenance);
  });
  after(() => t.close());

  it('creates the partition of this month and the 3 after it once connected', async () => {
    const now = new Date();
    const expected = [0, 1, 2, 3].map((months) => monthPartition(addMonths(now, months)));
    const found = await eventually(async () => {
      const names = await partitions(t.db);
      return expected.every((name) => names.has(name)) ? names : undefined;
    });
    const start = addMonths(now, 1);
    assert.match(found.get(monthPartition(start))!, new RegExp(`FROM \\('${start.toISOString().slice(0, 10)} 00:00:00\\+00'\\)`));
    // A later run finds nothing to do.
    const again = await maintenance.maintain();
    assert.deepEqual([again.created, again.moved, again.dropped], [[], 0, []]);
  });

  it('stores a retried batch once, and an event_id sent again with another timestamp again', async () => {
    const user = `dedup-${randomUUID()}`;
    const [first, second] = [randomUUID(), randomUUID()];
    const now = Date.now();
    const batch = batchAt(user, [
      { event_id: first, timestamp: new Date(now - 60_000).toISOString() },
      { event_id: second, timestamp: new Date(now - 30_000).toISOString() },
    ]);
    await sendAndWait(t, user, batch, 2);
    await retry(t, user, batch);
    const { rows } = await t.db.query<{ count: string }>('SELECT count(*) FROM events WHERE user_id = $1', [user]);
    assert.equal(rows[0].count, '2', 'the retried batch is stored once');

    await sendAndWait(t, user, batchAt(user, [{ event_id: first, timestamp: new Date(now - 10_000).toISOString() }]), 3);
  });

  it('keeps an event no partition covers in the default partition, and moves it when its partition is created', async () => {
    const user = `default-${randomUUID()}`;
    // Ten months ago: older than the partitions of the migration and of the maintenance, within the retention.
    const tenMonthsAgo = new Date(addMonths(new Date(), -10).getTime() + 5 * DAY_MS);
    const eventId = randomUUID();
    await sendAndWait(t, user, batchAt(user, [{ event_id: eventId, timestamp: tenMonthsAgo.toISOString() }]), 1);
    // Far ahead: beyond what the API accepts, written as an older worker or a manual import would.
    const farAhead = await insertEvent(t.db, user, new Date('2031-06-15T12:00:00Z'));
    assert.deepEqual(await placed(t.db, user), { [eventId]: 'events_default', [farAhead]: 'events_default' });

    const result = await maintenance.maintain();
    assert.deepEqual(result.created.sort(), [monthPartition(tenMonthsAgo), 'events_p20310601'].sort());
    assert.equal(result.moved, 2);
    assert.deepEqual(await placed(t.db, user), { [eventId]: monthPartition(tenMonthsAgo), [farAhead]: 'events_p20310601' });
    const { rows } = await t.db.query<{ count: string }>('SELECT count(*) FROM events_default');
    assert.equal(rows[0].count, '0');
  });

  it('two maintenances at once both succeed, and the work is done once', async () => {
    const user = `concurrent-${randomUUID()}`;
    const eventId = await insertEvent(t.db, user, new Date('2032-02-10T00:00:00Z'));
    const results = await Promise.all([maintenance.maintain(), maintenance.maintain(), maintenance.maintain()]);
    assert.deepEqual(
      results.flatMap((result) => result.created),
      ['events_p20320201'],
    );
    assert.equal(
      results.reduce((sum, result) => sum + result.moved, 0),
      1,
    );
    assert.deepEqual(await placed(t.db, user), { [eventId]: 'events_p20320201' });
  });

  it('a maintenance finding another one at work skips its turn', async () => {
    const holder = await t.db.connect();
    try {
      await holder.query(`SELECT pg_advisory_lock(hashtext('playsmart-ingest:event-partitions'))`);
      assert.deepEqual(await maintenance.maintain(), { skipped: true, created: [], moved: 0, dropped: [], expired: 0 });
    } finally {
      await holder.query(`SELECT pg_advisory_unlock_all()`);
      holder.release();
    }
    assert.equal((await maintenance.maintain()).skipped, false);
  });

  it('after EVENTS_PARTITION_INTERVAL changes, creates partitions of the new interval where the old ones end', async () => {
    const weekly = await t.app
      .get(EventPartitions)
      .maintain({ partitionInterval: 'week', partitionsAhead: 20, retentionDays: RETENTION_DAYS });
    const lastMonthly = addMonths(new Date(), 4);
    // 20 weeks from now reach beyond the 4 monthly partitions (this month and 3 after it) by 2 to 9 weeks.
    assert.ok(weekly.created.length >= 2 && weekly.created.length <= 9, weekly.created.join());
    // The first weekly partition starts where the last monthly one ends, whatever the weekday.
    assert.equal(weekly.created.sort()[0], monthPartition(lastMonthly));
    const again = await t.app
      .get(EventPartitions)
      .maintain({ partitionInterval: 'week', partitionsAhead: 20, retentionDays: RETENTION_DAYS });
    assert.deepEqual(again.created, []);
  });

  it('with EVENTS_RETENTION_DAYS, refuses an older timestamp at validation, naming the limit', async () => {
    const user = `too-old-${randomUUID()}`;
    const old = new Date(Date.now() - (RETENTION_DAYS + 1) * DAY_MS).toISOString();
    const response = await postEvents(t, batchAt(user, [{ event_id: randomUUID(), timestamp: old }]), tokenFor(user));
    assert.equal(response.statusCode, 400, response.body);
    assert.match(
      response.body,
      /must not be more than 34560000 seconds in the past \(EVENTS_RETENTION_DAYS: events older than 400 days are not kept\)/,
    );
    const config = await t.inject({ method: 'GET', url: '/ingest/client-config', headers: { authorization: `Bearer ${tokenFor(user)}` } });
    assert.equal(config.json<{ timestamp: { max_age_seconds: number } }>().timestamp.max_age_seconds, RETENTION_DAYS * 86400);
  });

  it('drops whole partitions older than the retention, and deletes the default partition’s rows as old', async () => {
    const user = `retention-${randomUUID()}`;
    // Two years ago, as the maintenance saw it then: the partition is created and the event moved into it.
    const twoYearsAgo = new Date(Date.now() - 730 * DAY_MS);
    const old = await insertEvent(t.db, user, twoYearsAgo);
    const then = await maintenance.maintain(new Date(twoYearsAgo.getTime() + DAY_MS));
    assert.ok(then.created.includes(monthPartition(twoYearsAgo)), then.created.join());
    assert.deepEqual(await placed(t.db, user), { [old]: monthPartition(twoYearsAgo) });
    // Older than the retention, in the default partition.
    await insertEvent(t.db, user, new Date(Date.now() - 3 * 365 * DAY_MS));
    const kept = await insertEvent(t.db, user, new Date());

    const result = await maintenance.maintain();
    assert.ok(result.dropped.includes(monthPartition(twoYearsAgo)), result.dropped.join());
    assert.ok(
      then.created.every((name) => result.dropped.includes(name)),
      'every partition the maintenance of two years ago created is dropped',
    );
    assert.equal(result.expired, 1);
    assert.deepEqual(await placed(t.db, user), { [kept]: monthPartition(new Date()) });
    const names = await partitions(t.db);
    assert.ok(!names.has(monthPartition(twoYearsAgo)));
    const { rows } = await t.db.query<{ count: string }>(`SELECT count(*) FROM pg_class WHERE relname = $1`, [monthPartition(twoYearsAgo)]);
    assert.equal(rows[0].count, '0', 'detached and dropped, not only detached');
    // The partitions within the retention stay.
    assert.ok(names.has(monthPartition(new Date())));
  });
});

describe('partitions on the embedded database (PGlite)', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'playsmart-pglite-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('migrates, stores a retried batch once, and moves the default partition’s events into their partition', async () => {
    const t = await bootTestApp({ embeddedDir: dir, env: { EMBEDDED_DB_PORT: String(await freePort()) } });
    try {
      const user = `embedded-${randomUUID()}`;
      const eventId = randomUUID();
      const batch = batchAt(user, [{ event_id: eventId, timestamp: '2026-04-22T14:30:00+00:00' }]);
      await sendAndWait(t, user, batch, 1);
      await retry(t, user, batch);
      const result = await t.app.get(PartitionMaintenance).maintain();
      const expected = monthPartition(new Date('2026-04-22T00:00:00Z'));
      if (expected !== monthPartition(new Date())) {
        assert.ok(result.created.includes(expected), result.created.join());
      }
      assert.deepEqual(await placed(t.db, user), { [eventId]: expected });
      const { rows } = await t.db.query<{ count: string }>('SELECT count(*) FROM events WHERE user_id = $1', [user]);
      assert.equal(rows[0].count, '1', 'the retried batch is stored once');
    } finally {
      await t.close();
    }
  });
});
