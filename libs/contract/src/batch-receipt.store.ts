/** A written batch's receipt as stored in table `batches`. */
export interface StoredBatchReceipt {
  batchId: string;
  /** Events in the request, repeats included. */
  accepted: number;
  writtenAt: Date;
}

/** The receipts port: read by the gateway (`GET /ingest/batches/:batch_id`), swept by the worker. */
export abstract class BatchReceiptStore {
  /** The receipt of `batchId` if `userId` sent it; undefined for an unknown batch and for another player's alike. */
  abstract find(batchId: string, userId: string): Promise<StoredBatchReceipt | undefined>;

  /** Deletes the receipts written more than `retentionSeconds` ago (by the database's clock); resolves to how many. */
  abstract deleteOlderThan(retentionSeconds: number): Promise<number>;
}
