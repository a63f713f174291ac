import { MigrationInterface, QueryRunner } from 'typeorm';
import { DEFAULT_PARTITION, partitionName, rangeOf } from '../partition-ranges';

const COLUMNS = [
  'user_id',
  'event_id',
  'game_id',
  'type',
  'custom_event_name',
  'occurred_at',
  'received_at',
  'customdata',
  'batch_id',
  'written_at',
  'clock_skew_ms',
]
  .map((column) => `"${column}"`)
  .join(', ');

const INDEXES = ['idx_events_game_id_occurred_at', 'idx_events_user_id_occurred_at', 'idx_events_batch_id'];

/** Renames `events`, its primary key and its indexes out of the way (suffix `_${suffix}`), for a new `events`. */
async function setAside(queryRunner: QueryRunner, suffix: string): Promise<string> {
  const table = `events_${suffix}`;
  await queryRunner.query(`ALTER TABLE "events" RENAME TO "${table}"`);
  await queryRunner.query(`ALTER TABLE "${table}" RENAME CONSTRAINT "pk_events" TO "pk_events_${suffix}"`);
  for (const index of INDEXES) await queryRunner.query(`ALTER INDEX "${index}" RENAME TO "${index}_${suffix}"`);
  return table;
}

/** A new `events`, with its primary key `pk_events` (`key`) and its indexes; partitioned when `partitioning` says so. */
async function createEvents(queryRunner: QueryRunner, key: string, partitioning: string): Promise<void> {
  await queryRunner.query(`
    CREATE TABLE "events" (
      "user_id" text NOT NULL,
      "event_id" uuid NOT NULL,
      "game_id" text NOT NULL,
      "type" text NOT NULL,
      "custom_event_name" text,
      "occurred_at" timestamptz NOT NULL,
      "received_at" timestamptz NOT NULL,
      "customdata" jsonb,
      "batch_id" uuid NOT NULL,
      "written_at" timestamptz NOT NULL DEFAULT now(),
      "clock_skew_ms" bigint,
      CONSTRAINT "pk_events" ${key}
    ) ${partitioning}`);
  await createIndexes(queryRunner);
}

async function createIndexes(queryRunner: QueryRunner): Promise<void> {
  await queryRunner.query(`CREATE INDEX "idx_events_game_id_occurred_at" ON "events" ("game_id", "occurred_at")`);
  await queryRunner.query(`CREATE INDEX "idx_events_user_id_occurred_at" ON "events" ("user_id", "occurred_at")`);
  await queryRunner.query(`CREATE INDEX "idx_events_batch_id" ON "events" ("batch_id")`);
}

/**
 * `events` becomes partitioned by range of `occurred_at`, keeping its rows. A partitioned table's unique keys must
 * contain the partition key (https://www.postgresql.org/docs/current/ddl-partitioning.html#DDL-PARTITIONING-DECLARATIVE-LIMITATIONS),
 * so the primary key, which deduplicates the writes, becomes (user_id, event_id, occurred_at).
 *
 * The rows are copied into one monthly partition per month (UTC) that has rows, plus the current month; partitions
 * ahead, of EVENTS_PARTITION_INTERVAL, are the worker's (TypeOrmEventPartitions), as is the default partition's
 * content. Copying takes time in proportion to the table, during which the worker does not write (it starts once
 * migrated) and the gateway keeps queueing.
 */
export class PartitionEvents1796033699423 implements MigrationInterface {
  name = 'PartitionEvents1796033699423';

  async up(queryRunner: QueryRunner): Promise<void> {
    // The copy takes as long as the table is large: not cut short by the pool's statement_timeout (in this transaction only).
    await queryRunner.query(`SET LOCAL statement_timeout = 0`);
    const old = await setAside(queryRunner, 'unpartitioned');
    await createEvents(queryRunner, `PRIMARY KEY ("user_id", "event_id", "occurred_at")`, `PARTITION BY RANGE ("occurred_at")`);
    await queryRunner.query(`CREATE TABLE "${DEFAULT_PARTITION}" PARTITION OF "events" DEFAULT`);
    const months = (await queryRunner.query(
      `SELECT date_trunc('month', "occurred_at", 'UTC') AS "start" FROM "${old}"
       UNION SELECT date_trunc('month', now(), 'UTC')`,
    )) as Array<{ start: Date }>;
    for (const { start } of months) {
      const range = rangeOf(start, 'month');
      await queryRunner.query(
        `CREATE TABLE "${partitionName(range.start)}" PARTITION OF "events" FOR VALUES FROM ('${range.start.toISOString()}') TO ('${range.end.toISOString()}')`,
      );
    }
    await queryRunner.query(`INSERT INTO "events" (${COLUMNS}) SELECT ${COLUMNS} FROM "${old}"`);
    await queryRunner.query(`DROP TABLE "${old}"`);
  }

  /**
   * Back to one table keyed by (user_id, event_id). An event_id stored more than once (with other timestamps) keeps
   * its first write only.
   */
  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SET LOCAL statement_timeout = 0`);
    const partitioned = await setAside(queryRunner, 'partitioned');
    await createEvents(queryRunner, `PRIMARY KEY ("user_id", "event_id")`, '');
    await queryRunner.query(
      `INSERT INTO "events" (${COLUMNS}) SELECT ${COLUMNS} FROM "${partitioned}" ORDER BY "written_at"
       ON CONFLICT ON CONSTRAINT "pk_events" DO NOTHING`,
    );
    await queryRunner.query(`DROP TABLE "${partitioned}"`);
  }
}
