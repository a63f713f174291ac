import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, QueryResult } from 'typeorm';
import type { IngestBatchJobData } from '#common';
import { EventStore } from './event.store';

// One statement per batch whatever its size: each column travels as one array parameter. ON CONFLICT makes a
// redelivered job or a client's retried batch a no-op instead of a duplicate.
const INSERT_BATCH = `
  INSERT INTO "events" ("user_id", "event_id", "game_id", "type", "custom_event_name", "occurred_at", "received_at", "customdata", "batch_id")
  SELECT $1, e.event_id, $2, e.type, e.custom_event_name, e.occurred_at, $3, e.customdata, $4
  FROM unnest($5::uuid[], $6::text[], $7::text[], $8::timestamptz[], $9::jsonb[])
    AS e(event_id, type, custom_event_name, occurred_at, customdata)
  ON CONFLICT ON CONSTRAINT "pk_events" DO NOTHING`;

@Injectable()
export class TypeOrmEventStore extends EventStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    super();
  }

  async insertBatch(batch: IngestBatchJobData): Promise<number> {
    const { events } = batch;
    const runner = this.dataSource.createQueryRunner();
    try {
      const result: QueryResult = await runner.query(
        INSERT_BATCH,
        [
          batch.user_id,
          batch.game_id,
          batch.received_at,
          batch.batch_id,
          events.map((e) => e.event_id),
          events.map((e) => e.type),
          events.map((e) => e.custom_event_name),
          events.map((e) => e.occurred_at),
          events.map((e) => (e.customdata === null ? null : JSON.stringify(e.customdata))),
        ],
        true,
      );
      return result.affected ?? 0;
    } finally {
      await runner.release();
    }
  }
}
