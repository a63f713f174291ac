import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsIn, IsString, IsUUID, Validate, ValidateIf } from 'class-validator';
import type { AcceptedEvent, SameKeys } from '#contract';
import { ValidateNestedBy } from '#platform';
import { describeEventTypes, EVENT_TYPE_NAMES, eventTypeDefinition } from '../event-types';
import { CustomdataConstraint, IsCustomEventNameForType, TimestampConstraint } from '../validation/constraints';

/** One event of a batch, as validated: AcceptedEvent's fields, each with its rules and its documentation. */
export class IngestEventDto implements AcceptedEvent {
  @ApiPropertyOptional({
    format: 'uuid',
    description: 'Chosen by the client so that a retried batch is not stored twice. The server assigns one when absent.',
  })
  @ValidateIf((event: IngestEventDto) => event.event_id !== undefined)
  @IsUUID('all')
  event_id?: string;

  @ApiProperty({ enum: EVENT_TYPE_NAMES, example: 'LevelCompleted', description: `One of:\n\n${describeEventTypes()}` })
  @IsString()
  @IsIn(EVENT_TYPE_NAMES)
  type: string;

  @ApiProperty({
    format: 'date-time',
    example: '2026-04-22T14:30:00+00:00',
    description:
      'RFC 3339 with an offset (Z or ±hh:mm), stored as sent (in UTC). At most 24 hours in the future; when the batch ' +
      "has a sent_at within a year of the server's clock, at most 24 hours after sent_at (the device's clock) instead.",
  })
  @Validate(TimestampConstraint)
  timestamp: string;

  @ApiPropertyOptional({
    example: 'PowerUpUsed',
    pattern: '^\\p{L}[\\p{L}\\p{Nd}_.-]{0,63}$',
    description: 'Required when type is Custom, refused otherwise.',
  })
  @IsCustomEventNameForType()
  customEventName?: string;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    example: { level: 5, score: 4800 },
    description: 'A JSON object: at most 8 KiB, 5 levels deep, 100 keys per object and 100 items per array.',
  })
  @ValidateIf((event: IngestEventDto) => event.customdata !== undefined)
  // Decorators register from the bottom up: placed above the size and depth check, this one runs after it.
  @ValidateNestedBy((event: IngestEventDto) => eventTypeDefinition(event.type)?.customdata)
  @Validate(CustomdataConstraint)
  // Keep the client's object as parsed instead of class-transformer's copy, which drops keys such as __proto__.
  @Transform(({ obj }: { obj: { customdata?: unknown } }) => obj.customdata)
  customdata?: Record<string, unknown>;
}

// A property here that AcceptedEvent lacks would be validated and then dropped by the worker; one AcceptedEvent has
// and this lacks would be refused as unknown: either does not compile.
export const INGEST_EVENT_DTO_FIELDS_CHECKED: SameKeys<IngestEventDto, AcceptedEvent> = true;
