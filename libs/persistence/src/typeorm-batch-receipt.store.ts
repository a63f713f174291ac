import { Injectable } from '@nestjs/common';
import { BatchReceiptStore, StoredBatchReceipt } from '#contract';
import { DatabaseConnection } from './database-connection';

const FIND_RECEIPT = `SELECT "accepted", "written_at" FROM "batches" WHERE "batch_id" = $1 AND "user_id" = $2`;

// One statement, by the database's clock; idx_batches_written_at makes it a range scan.
const DELETE_OLD_RECEIPTS = `DELETE FROM "batches" WHERE "written_at" < now() - make_interval(secs => $1)`;

@Injectable()
export class TypeOrmBatchReceiptStore extends BatchReceiptStore {
  constructor(private readonly connection: DatabaseConnection) {
    super();
  }

  async find(batchId: string, userId: string): Promise<StoredBatchReceipt | undefined> {
    const dataSource = await this.connection.get();
    const rows: Array<{ accepted: number; written_at: Date }> = await dataSource.query(FIND_RECEIPT, [batchId, userId]);
    const row = rows[0];
    return row === undefined ? undefined : { batchId, accepted: row.accepted, writtenAt: row.written_at };
  }

  async deleteOlderThan(retentionSeconds: number): Promise<number> {
    const dataSource = await this.connection.get();
    const runner = dataSource.createQueryRunner();
    try {
      const result = await runner.query(DELETE_OLD_RECEIPTS, [retentionSeconds], true);
      return result.affected ?? 0;
    } finally {
      await runner.release();
    }
  }
}
