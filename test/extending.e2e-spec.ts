import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { ApiPropertyOptional, OpenAPIObject, SchemaObject } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsString, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import { AcceptedEvent, decodeBatchJob, encodeBatchJob, EVENT_COLUMNS, EventColumns, SameKeys } from '#contract';
import { IngestBatchDto, IngestEventDto } from '#ingest';
import { insertBatchesParameters, insertBatchesStatement } from '#persistence';
import { ApiError, buildOpenApiDocument, DtoValidationPipe } from '#platform';
import { AppModule } from '../src/app.module';
import { addPricedEventType, PRICED_TYPE } from '../support/test-event-type';
import { bootTestApp, exampleBatch, postEvents, TestApp, tokenFor } from './support/test-app';

// docs/extending.md says what adding a field to an event takes. This file does it with a test-only field, `test_level_id`,
// on copies of the shapes, and follows one event through every layer the field must cross: validation (which refuses
// a field the DTO does not declare), the job (which carries the body's text), the worker's decoding (which keeps only
// the fields of the column table) and the INSERT (which writes only the columns of that table).
// Then it adds an event type with a customdata DTO (support/test-event-type.ts), and finds its schema in the OpenAPI
// document.

interface ExtendedEvent extends AcceptedEvent {
  test_level_id?: string;
}

class ExtendedEventDto extends IngestEventDto implements ExtendedEvent {
  @ApiPropertyOptional({ example: 'forest-3', maxLength: 64 })
  @ValidateIf((event: ExtendedEventDto) => event.test_level_id !== undefined)
  @IsString()
  @MaxLength(64)
  test_level_id?: string;
}
const extendedDtoChecked: SameKeys<ExtendedEventDto, ExtendedEvent> = true;

class ExtendedBatchDto extends IngestBatchDto {
  @ValidateNested({ each: true })
  @Type(() => ExtendedEventDto)
  declare events: ExtendedEventDto[];
}

const EXTENDED_COLUMNS = {
  ...EVENT_COLUMNS,
  test_level_id: { column: 'test_level_id', type: 'text', value: (event: ExtendedEvent) => event.test_level_id ?? null },
} as const satisfies EventColumns<ExtendedEvent>;

describe('adding a field to the event (docs/extending.md)', { timeout: 60_000 }, () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
    await t.db.query('ALTER TABLE events ADD COLUMN test_level_id text');
  });
  after(() => t.close());

  it('reaches its column through validation, the job, the worker and the INSERT', async () => {
    assert.equal(extendedDtoChecked, true);
    const user = `extending-${randomUUID()}`;
    const body = exampleBatch(user) as { events: Array<Record<string, unknown>> };
    body.events[0].test_level_id = 'forest-3';
    const pipe = new DtoValidationPipe(t.config);

    // Before the DTO declares it, the field is refused, not dropped.
    await assert.rejects(pipe.transform(structuredClone(body), { type: 'body', metatype: IngestBatchDto }), (error: unknown) => {
      assert.ok(error instanceof ApiError);
      assert.deepEqual(error.details, [{ field: 'events[0].test_level_id', message: 'property test_level_id should not exist' }]);
      return true;
    });
    const validated = (await pipe.transform(structuredClone(body), { type: 'body', metatype: ExtendedBatchDto })) as ExtendedBatchDto;
    assert.equal(validated.events[0].test_level_id, 'forest-3');
    await assert.rejects(
      pipe.transform({ ...body, events: [{ ...body.events[0], test_level_id: 7 }] }, { type: 'body', metatype: ExtendedBatchDto }),
      (error: unknown) => error instanceof ApiError && error.details?.[0]?.field === 'events[0].test_level_id',
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
      batch.events.map((event) => event.test_level_id),
      ['forest-3', ...body.events.slice(1).map(() => null)],
    );

    const columns = Object.values(EXTENDED_COLUMNS);
    const [{ inserted }] = (
      await t.db.query<{ inserted: number }>(insertBatchesStatement(columns), insertBatchesParameters([batch], columns))
    ).rows;
    assert.equal(inserted, body.events.length);
    const { rows } = await t.db.query<{ type: string; test_level_id: string | null }>(
      'SELECT type, test_level_id FROM events WHERE user_id = $1 ORDER BY occurred_at',
      [user],
    );
    assert.deepEqual(
      rows.find((row) => row.test_level_id !== null),
      { type: body.events[0].type, test_level_id: 'forest-3' },
    );
    assert.equal(rows.filter((row) => row.test_level_id === null).length, body.events.length - 1);
  });
});

describe('adding an event type with a customdata DTO (docs/extending.md)', { timeout: 60_000 }, () => {
  let t: TestApp;
  before(async () => {
    // Before the app is booted: it builds the OpenAPI document as it starts, from the catalogue as it is then.
    addPricedEventType();
    t = await bootTestApp();
  });
  after(() => t.close());

  it('puts the DTO in the OpenAPI document as a schema, which customdata refers to', async () => {
    const response = await t.inject({ method: 'GET', url: '/docs-json' });
    assert.equal(response.statusCode, 200);
    const document = response.json<OpenAPIObject>();
    const schemas = document.components?.schemas ?? {};
    assert.deepEqual(schemas.PricedCustomdataDto, {
      type: 'object',
      properties: {
        price: { type: 'integer', minimum: 0, example: 250 },
        currency: { type: 'string', enum: ['EUR', 'USD'] },
      },
      required: ['price'],
      description: `The customdata of \`${PRICED_TYPE}\` events.`,
      additionalProperties: false,
    });
    const { type, customdata } = (schemas.IngestEventDto as SchemaObject).properties as Record<string, SchemaObject>;
    assert.deepEqual(customdata.anyOf, [
      { $ref: '#/components/schemas/PricedCustomdataDto' },
      { type: 'object', additionalProperties: true, description: 'The customdata of a type without a schema of its own.' },
    ]);
    assert.match(customdata.description ?? '', /^- `PricedTest`: `PricedCustomdataDto`$/m);
    assert.ok(type.enum?.includes(PRICED_TYPE));
    assert.match(type.description ?? '', /^- `PricedTest`: A test-only priced event\.$/m);

    // The operations listener serves the same document, and `npm run openapi` builds it from an app in preview mode.
    assert.deepEqual((await t.opsInject({ method: 'GET', url: '/docs-json' })).json(), document);
    const preview = await NestFactory.create<NestFastifyApplication>(AppModule, new FastifyAdapter(), { preview: true, logger: false });
    try {
      assert.deepEqual(JSON.parse(JSON.stringify(buildOpenApiDocument(preview))), document);
    } finally {
      await preview.close();
    }
  });

  it('refuses what the schema refuses: a negative price, a key it does not declare', async () => {
    const body = {
      ...exampleBatch(),
      events: [{ type: PRICED_TYPE, timestamp: '2026-04-22T14:30:00Z', customdata: { price: -1, tax: 2 } }],
    };
    const response = await postEvents(t, body, tokenFor('device-abc-123'));
    assert.equal(response.statusCode, 400, response.body);
    const { details } = response.json<{ error: { details: Array<{ field: string }> } }>().error;
    assert.deepEqual(details.map(({ field }) => field).sort(), ['events[0].customdata.price', 'events[0].customdata.tax']);
  });
});
