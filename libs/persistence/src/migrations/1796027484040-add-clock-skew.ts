import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The device's clock offset of a batch sent with `sent_at`, on the batch's receipt and on each of its events. Nullable
 * and without a default: adding them rewrites neither table, and the rows written before keep NULL, as do batches
 * sent without `sent_at`.
 */
export class AddClockSkew1796027484040 implements MigrationInterface {
  name = 'AddClockSkew1796027484040';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "events" ADD "clock_skew_ms" bigint`);
    await queryRunner.query(`ALTER TABLE "batches" ADD "clock_skew_ms" bigint`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE "batches" DROP COLUMN "clock_skew_ms"`);
    await queryRunner.query(`ALTER TABLE "events" DROP COLUMN "clock_skew_ms"`);
  }
}
