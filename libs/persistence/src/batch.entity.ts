import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * The receipt of one written batch (`GET /ingest/batches/:batch_id`). The worker writes it in the same statement as
 * the batch's events; the retention sweep deletes it RECEIPT_RETENTION_SECONDS after `written_at`.
 */
@Entity({ name: 'batches' })
@Index('idx_batches_written_at', ['writtenAt'])
export class BatchEntity {
  @PrimaryColumn({ name: 'batch_id', type: 'uuid', primaryKeyConstraintName: 'pk_batches' })
  batchId: string;

  /** The token subject that sent the batch: only they can read the receipt. */
  @Column({ name: 'user_id', type: 'text' })
  userId: string;

  /** Events in the request, repeats included (the 202's `accepted:N`). */
  @Column({ name: 'accepted', type: 'integer' })
  accepted: number;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt: Date;

  /** The device's clock offset, sent_at minus received_at, in ms; null when sent without sent_at (a string, as pg reads bigint). */
  @Column({ name: 'clock_skew_ms', type: 'bigint', nullable: true })
  clockSkewMs: string | null;

  @Column({ name: 'written_at', type: 'timestamptz', default: () => 'now()' })
  writtenAt: Date;
}
