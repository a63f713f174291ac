import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One gameplay event. The primary key (user_id, event_id, occurred_at) is what makes every write idempotent: a
 * partitioned table's keys must contain its partition key, occurred_at, so an event_id sent again with another
 * timestamp is another row. The table is partitioned by range of occurred_at (migration PartitionEvents, maintained
 * by TypeOrmEventPartitions), which TypeORM does not describe: `synchronize` stays off.
 */
@Entity({ name: 'events' })
@Index('idx_events_game_id_occurred_at', ['gameId', 'occurredAt'])
@Index('idx_events_user_id_occurred_at', ['userId', 'occurredAt'])
@Index('idx_events_batch_id', ['batchId'])
export class EventEntity {
  @PrimaryColumn({ name: 'user_id', type: 'text', primaryKeyConstraintName: 'pk_events' })
  userId: string;

  @PrimaryColumn({ name: 'event_id', type: 'uuid', primaryKeyConstraintName: 'pk_events' })
  eventId: string;

  @Column({ name: 'game_id', type: 'text' })
  gameId: string;

  @Column({ name: 'type', type: 'text' })
  type: string;

  @Column({ name: 'custom_event_name', type: 'text', nullable: true })
  customEventName: string | null;

  @PrimaryColumn({ name: 'occurred_at', type: 'timestamptz', primaryKeyConstraintName: 'pk_events' })
  occurredAt: Date;

  @Column({ name: 'received_at', type: 'timestamptz' })
  receivedAt: Date;

  @Column({ name: 'customdata', type: 'jsonb', nullable: true })
  customdata: Record<string, unknown> | null;

  @Column({ name: 'batch_id', type: 'uuid' })
  batchId: string;

  /** The batch's sent_at minus received_at, in ms; null when sent without sent_at. pg reads a bigint as a string. */
  @Column({ name: 'clock_skew_ms', type: 'bigint', nullable: true })
  clockSkewMs: string | null;

  @Column({ name: 'written_at', type: 'timestamptz', default: () => 'now()' })
  writtenAt: Date;
}
