import { ApiProperty } from '@nestjs/swagger';

export class ClientEventTypeDto {
  @ApiProperty({ example: 'LevelCompleted', description: 'A value `type` accepts.' })
  name: string;

  @ApiProperty({
    example: false,
    description: 'Events of this type need `customEventName` (see `custom_event_name`); others must not have it.',
  })
  requires_custom_event_name: boolean;
}

export class CustomEventNameRulesDto {
  @ApiProperty({
    example: '^\\p{L}[\\p{L}\\p{Nd}_.-]{0,63}$',
    description: 'A Unicode regular expression (the `u` flag in JavaScript): a letter, then letters, digits, `_`, `.` or `-`.',
  })
  pattern: string;

  @ApiProperty({ type: 'integer', example: 1 })
  min_length: number;

  @ApiProperty({ type: 'integer', example: 64, description: 'In code points.' })
  max_length: number;
}

export class CustomdataLimitsDto {
  @ApiProperty({ type: 'integer', example: 8192, description: '`customdata` as compact UTF-8 JSON (CUSTOMDATA_MAX_BYTES).' })
  max_bytes: number;

  @ApiProperty({ type: 'integer', example: 5, description: 'Nesting levels, `customdata` itself being the first (CUSTOMDATA_MAX_DEPTH).' })
  max_depth: number;

  @ApiProperty({ type: 'integer', example: 100, description: 'Keys per object (CUSTOMDATA_MAX_KEYS).' })
  max_keys: number;

  @ApiProperty({ type: 'integer', example: 100, description: 'Items per array (CUSTOMDATA_MAX_ITEMS).' })
  max_array_items: number;

  @ApiProperty({ type: [String], example: ['__proto__', 'constructor', 'prototype'], description: 'Keys refused at any level.' })
  forbidden_keys: string[];
}

export class TimestampLimitsDto {
  @ApiProperty({
    type: 'integer',
    example: 86400,
    description: 'How far ahead of the server clock a timestamp may be (TIMESTAMP_MAX_FUTURE_SECONDS).',
  })
  max_future_seconds: number;

  @ApiProperty({
    type: 'integer',
    nullable: true,
    example: null,
    description:
      'How old a timestamp may be (TIMESTAMP_MAX_AGE_SECONDS, or EVENTS_RETENTION_DAYS when that is shorter); null: no limit (games are played offline).',
  })
  max_age_seconds: number | null;
}

/** The answer of `GET /ingest/client-config`: the batching policy of the game client library, and the rules it validates by. */
export class ClientConfigDto {
  @ApiProperty({
    example: true,
    description: 'The kill switch (CLIENT_ENABLED). false: keep the queue and send nothing until the next check of this configuration.',
  })
  enabled: boolean;

  @ApiProperty({
    type: 'integer',
    example: 50,
    minimum: 1,
    maximum: 200,
    description: 'Send once this many events are queued (CLIENT_FLUSH_AT).',
  })
  flush_at: number;

  @ApiProperty({
    type: 'integer',
    example: 10000,
    description: 'Send at the latest this many milliseconds after the oldest queued event (CLIENT_FLUSH_INTERVAL_MS).',
  })
  flush_interval_ms: number;

  @ApiProperty({ type: 'integer', example: 200, description: 'Events one request may hold.' })
  max_batch_events: number;

  @ApiProperty({
    type: 'integer',
    example: 1046528,
    description:
      'Bytes the `events` array of one request may take as compact UTF-8 JSON, before compression: BODY_LIMIT less 2048 ' +
      'bytes (at most half of it) kept for the rest of the body, `user_id` and `game_id` at their longest included.',
  })
  max_batch_bytes: number;

  @ApiProperty({ type: [ClientEventTypeDto], description: 'Every event type the server accepts (its catalogue).' })
  event_types: ClientEventTypeDto[];

  @ApiProperty({ type: CustomEventNameRulesDto, description: 'What `customEventName` must be, where a type requires it.' })
  custom_event_name: CustomEventNameRulesDto;

  @ApiProperty({ type: CustomdataLimitsDto, description: 'The limits `customdata` is validated against.' })
  customdata_limits: CustomdataLimitsDto;

  @ApiProperty({
    type: TimestampLimitsDto,
    description: 'The bounds of `timestamp` (RFC 3339 with an offset, `Z` or `±hh:mm`; a UTC year from 0001 to 9999).',
  })
  timestamp: TimestampLimitsDto;
}
