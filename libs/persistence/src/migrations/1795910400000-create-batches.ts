import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateBatches1795910400000 implements MigrationInterface {
  name = 'CreateBatches1795910400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      CREATE TABLE "batches" (
        "batch_id" uuid NOT NULL,
        "user_id" text NOT NULL,
        "accepted" integer NOT NULL,
        "received_at" timestamptz NOT NULL,
        "written_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "pk_batches" PRIMARY KEY ("batch_id")
      )`);
    // The retention sweep deletes by written_at.
    await queryRunner.query(`CREATE INDEX "idx_batches_written_at" ON "batches" ("written_at")`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE "batches"`);
  }
}
