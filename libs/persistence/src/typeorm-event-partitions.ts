import { Injectable } from '@nestjs/common';
import { DataSource, QueryRunner } from 'typeorm';
import { EventPartitions, PartitionMaintenanceResult } from '#contract';
import type { EventStorageConfig } from '#platform';
import { DatabaseConnection } from './database-connection';
import { DEFAULT_PARTITION, intervalStart, partitionName, PartitionRange, rangeOf, rangesAhead, uncovered } from './partition-ranges';

// Per database, like the migrations' lock: one process maintains the partitions at a time, the others skip.
const MAINTENANCE_LOCK = 'playsmart-ingest:event-partitions';

// Attaching and detaching lock `events` (and its default partition); a maintenance that would queue behind a long
// statement gives up instead of holding the worker's inserts up behind it, and is tried again at the next run.
const LOCK_TIMEOUT = '5s';

interface ExistingPartition extends PartitionRange {
  name: string;
}

// The bounds of every range partition of `events`, read back as timestamptz in the same session (pg_get_expr prints
// them in the session's TimeZone, which the cast reads them in).
const LIST_PARTITIONS = `
  SELECT name, bounds[1]::timestamptz AS "start", bounds[2]::timestamptz AS "end"
  FROM (
    SELECT c.relname AS name,
      regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \\(''([^'']+)''\\) TO \\(''([^'']+)''\\)') AS bounds
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = '"events"'::regclass
  ) p
  WHERE bounds IS NOT NULL`;

const quoted = (name: string) => `"${name.replaceAll('"', '""')}"`;
const literal = (at: Date) => `'${at.toISOString()}'`;

/**
 * Maintains the range partitions of `events` (by occurred_at, UTC), holding an advisory lock so that of many workers
 * one does the work and the others skip. In order:
 * 1. with a retention, detaches then drops each partition whose whole range is older than it (a catalog change, as
 *    cheap for a huge partition as for an empty one), and deletes the default partition's rows as old;
 * 2. creates the partition of the current interval and the `partitionsAhead` after it, and one for every interval
 *    the default partition holds rows of, moving those rows into it.
 *
 * A partition is created as a table of its own, filled with its rows from the default partition, then attached, in
 * one transaction: PostgreSQL refuses to create or attach a partition while the default partition holds rows that
 * belong to it (https://www.postgresql.org/docs/current/ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE-MAINTENANCE).
 * `events` is locked (ACCESS EXCLUSIVE) from before the move until the commit, so no row of the range can land in the
 * default partition in between: inserts wait for that transaction (a few rows moved, ATTACH skipping the scan of the
 * new table thanks to its CHECK constraint), at most LOCK_TIMEOUT to get the lock, which happens when a partition is
 * created: once per interval ahead of time, and when the default partition holds rows.
 */
export async function maintainEventPartitions(
  dataSource: DataSource,
  policy: EventStorageConfig,
  now = new Date(),
): Promise<PartitionMaintenanceResult> {
  const result: PartitionMaintenanceResult = { skipped: false, created: [], moved: 0, dropped: [], expired: 0 };
  const runner = dataSource.createQueryRunner();
  try {
    const [{ locked }] = (await runner.query('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [MAINTENANCE_LOCK])) as Array<{
      locked: boolean;
    }>;
    if (!locked) return { ...result, skipped: true };
    try {
      let existing = await listPartitions(runner);
      if (policy.retentionDays !== undefined) {
        const cutoff = new Date(now.getTime() - policy.retentionDays * 86_400_000);
        for (const partition of existing.filter(({ end }) => end <= cutoff)) {
          await inTransaction(runner, async () => {
            await runner.query(`ALTER TABLE "events" DETACH PARTITION ${quoted(partition.name)}`);
            await runner.query(`DROP TABLE ${quoted(partition.name)}`);
          });
          result.dropped.push(partition.name);
        }
        existing = existing.filter(({ end }) => end > cutoff);
        // Rows whose interval ends before the cutoff: their partition would be dropped as soon as created.
        const expired = (await runner.query(
          `WITH expired AS (DELETE FROM ${quoted(DEFAULT_PARTITION)} WHERE "occurred_at" < $1 RETURNING 1) SELECT count(*)::int AS n FROM expired`,
          [intervalStart(cutoff, policy.partitionInterval)],
        )) as Array<{ n: number }>;
        result.expired = expired[0].n;
      }

      const defaultRows = (await runner.query(
        `SELECT DISTINCT date_trunc($1, "occurred_at", 'UTC') AS "start" FROM ${quoted(DEFAULT_PARTITION)}`,
        [policy.partitionInterval],
      )) as Array<{ start: Date }>;
      const wanted = [
        ...rangesAhead(now, policy.partitionInterval, policy.partitionsAhead),
        ...defaultRows.map(({ start }) => rangeOf(start, policy.partitionInterval)),
      ];
      for (const range of wanted) {
        for (const part of uncovered(range, existing)) {
          const name = partitionName(part.start);
          result.moved += await createPartition(runner, name, part);
          result.created.push(name);
          existing = [...existing, { name, ...part }];
        }
      }
    } finally {
      // On a broken connection this fails too; the lock goes with the session.
      await runner.query('SELECT pg_advisory_unlock(hashtext($1))', [MAINTENANCE_LOCK]).catch(() => undefined);
    }
  } finally {
    await runner.release();
  }
  return result;
}

async function listPartitions(runner: QueryRunner): Promise<ExistingPartition[]> {
  return (await runner.query(LIST_PARTITIONS)) as ExistingPartition[];
}

/** Creates partition `name` for `range`, with the default partition's rows of that range; resolves to how many. */
async function createPartition(runner: QueryRunner, name: string, { start, end }: PartitionRange): Promise<number> {
  const table = quoted(name);
  const check = quoted(`${name}_range`);
  const inRange = `"occurred_at" >= ${literal(start)} AND "occurred_at" < ${literal(end)}`;
  return inTransaction(runner, async () => {
    // `events` itself, not only its default partition: an insert that had already routed a row to the default partition
    // would otherwise go on after the commit and fail its new constraint (SQLSTATE 23514, seen with a backlog at start).
    await runner.query(`LOCK TABLE "events" IN ACCESS EXCLUSIVE MODE`);
    await runner.query(`CREATE TABLE ${table} (LIKE "events" INCLUDING DEFAULTS)`);
    await runner.query(`ALTER TABLE ${table} ADD CONSTRAINT ${check} CHECK (${inRange})`);
    const moved = (await runner.query(
      `WITH moved AS (DELETE FROM ${quoted(DEFAULT_PARTITION)} WHERE ${inRange} RETURNING *),
       inserted AS (INSERT INTO ${table} SELECT * FROM moved RETURNING 1)
       SELECT count(*)::int AS n FROM inserted`,
    )) as Array<{ n: number }>;
    await runner.query(`ALTER TABLE "events" ATTACH PARTITION ${table} FOR VALUES FROM (${literal(start)}) TO (${literal(end)})`);
    await runner.query(`ALTER TABLE ${table} DROP CONSTRAINT ${check}`);
    return moved[0].n;
  });
}

async function inTransaction<T>(runner: QueryRunner, work: () => Promise<T>): Promise<T> {
  await runner.startTransaction();
  try {
    await runner.query(`SET LOCAL lock_timeout = '${LOCK_TIMEOUT}'`);
    const result = await work();
    await runner.commitTransaction();
    return result;
  } catch (error) {
    await runner.rollbackTransaction().catch(() => undefined);
    throw error;
  }
}

@Injectable()
export class TypeOrmEventPartitions extends EventPartitions {
  constructor(private readonly connection: DatabaseConnection) {
    super();
  }

  async maintain(policy: EventStorageConfig, now?: Date): Promise<PartitionMaintenanceResult> {
    return maintainEventPartitions(await this.connection.get(), policy, now);
  }
}
