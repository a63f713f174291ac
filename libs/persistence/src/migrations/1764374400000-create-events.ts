import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateEvents1764374400000 implements MigrationInterface {
  name = 'CreateEvents1764374400000';

  async up(queryRunner: QueryRunner): Promise<void> {
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
        CONSTRAINT "pk_events" PRIMARY KEY ("user_id", "event_id")
      )`);
    await queryRunner.query(`CREATE INDEX "idx_events_game_id_occurred_at" ON "events" ("game_id", "occurred_at")`);
    await queryRunner.query(`CREATE INDEX "idx_events_user_id_occurred_at" ON "events" ("user_id", "occurred_at")`);
    await queryRunner.query(`CREATE INDEX "idx_events_batch_id" ON "events" ("batch_id")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "events"`);
  }
}
