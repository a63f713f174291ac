import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsString, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import { AcceptedEvent, decodeBatchJob, encodeBatchJob, EVENT_COLUMNS, EventColumns, SameKeys } from '#contract';
import { IngestBatchDto, IngestEventDto } from '#ingest';
import { insertBatchParameters, insertBatchStatement } from '#persistence';
import { ApiError, DtoValidationPipe } from '#platform';
import { bootTestApp, exampleBatch, TestApp } from './support/test-app';

// docs/extending.md says what adding a field to an event takes. This file does it with a test-only field, `level_id`,
// on copies of the shapes, and follows one event through every layer the field must cross: validation (which refuses
// a field the DTO does not declare), the job (which carries the body's text), the worker's decoding (which keeps only
// the fields of the column table) and the INSERT (which writes only the columns of that table).

interface ExtendedEvent extends AcceptedEvent {
  level_id?: string;
}

class ExtendedEventDto extends IngestEventDto implements ExtendedEvent {
  @ApiPropertyOptional({ example: 'forest-3', maxLength: 64 })
  @ValidateIf((event: ExtendedEventDto) => event.level_id !== undefined)
  @IsString()
  @MaxLength(64)
  level_id?: string;
}
const extendedDtoChecked: SameKeys<ExtendedEventDto, ExtendedEvent> = true;

class ExtendedBatchDto extends IngestBatchDto {
  @ValidateNested({ each: true })
  @Type(() => ExtendedEventDto)
  declare events: ExtendedEventDto[];
}

const EXTENDED_COLUMNS = {
  ...EVENT_COLUMNS,
  level_id: { column: 'level_id', type: 'text', value: (event: ExtendedEvent) => event.level_id ?? null },
} as const satisfies EventColumns<ExtendedEvent>;

describe('adding a field to the event (docs/extending.md)', { timeout: 60_000 }, () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
    await t.db.query('ALTER TABLE events ADD COLUMN level_id text');
  });
  after(() => t.close());

  it('reaches its column through validation, the job, the worker and the INSERT', async () => {
    assert.equal(extendedDtoChecked, true);
    const user = `extending-${randomUUID()}`;
    const body = exampleBatch(user) as { events: Array<Record<string, unknown>> };
    body.events[0].level_id = 'forest-3';
    const pipe = new DtoValidationPipe(t.config);

    // Before the DTO declares it, the field is refused, not dropped.
    await assert.rejects(pipe.transform(structuredClone(body), { type: 'body', metatype: IngestBatchDto }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.deepEqual(error.details, [{ field: 'events[0].level_id', message: 'property level_id should not exist' }]);
      return true;
    });
    const validated = (await pipe.transform(structuredClone(body), { type: 'body', metatype: ExtendedBatchDto })) as ExtendedBatchDto;
    assert.equal(validated.events[0].level_id, 'forest-3');
    await assert.rejects(
      pipe.transform({ ...body, events: [{ ...body.events[0], level_id: 7 }] }, { type: 'body', metatype: ExtendedBatchDto }),
      (error: unknown) => error instanceof ApiError && error.details?.[0]?.field === 'events[0].level_id',
    );

    // The gateway queues the body's text as it was validated; the worker decodes it with the column table.
    const job = encodeBatchJob({
      batch_id: randomUUID(),
      user_id: user,
      accepted: body.events.length,
      received_at: new Date().toISOString(),
      body: JSON.stringify(body),
    });
    assert.deepEqual(
      decodeBatchJob(job).events.map((event) => Object.keys(event).sort()),
      body.events.map(() =>
        Object.values(EVENT_COLUMNS)
          .map(({ column }) => column)
          .sort(),
      ),
      'without its column the worker does not carry the field',
    );
    const batch = decodeBatchJob<ExtendedEvent>(job, EXTENDED_COLUMNS);
    assert.deepEqual(
      batch.events.map((event) => event.level_id),
      ['forest-3', ...body.events.slice(1).map(() => null)],
    );

    const columns = Object.values(EXTENDED_COLUMNS);
    const [{ inserted }] = (await t.db.query<{ inserted: number }>(insertBatchStatement(columns), insertBatchParameters(batch, columns)))
      .rows;
    assert.equal(inserted, body.events.length);
    const { rows } = await t.db.query<{ type: string; level_id: string | null }>(
      'SELECT type, level_id FROM events WHERE user_id = $1 ORDER BY occurred_at',
      [user],
    );
    assert.deepEqual(
      rows.find((row) => row.level_id !== null),
      { type: body.events[0].type, level_id: 'forest-3' },
    );
    assert.equal(rows.filter((row) => row.level_id === null).length, body.events.length - 1);
  });
});
