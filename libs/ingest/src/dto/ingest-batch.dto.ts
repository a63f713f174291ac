import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsString, Matches, MaxLength, ValidateIf, ValidateNested } from 'class-validator';
import { ErrorDetail, JsonBodyRules, Precheck, ValidationLimits } from '#platform';
import { AppliesClockSkew, IsRfc3339DateTime, IsStorableString } from '../validation/constraints';
import { inspectJsonTree } from '../validation/json-shape';
import { IngestEventDto } from './ingest-event.dto';

export const MAX_EVENTS_PER_BATCH = 200;

// An Android package name or iOS bundle identifier: dot-separated segments, the first starting with a letter.
const GAME_ID = /^[A-Za-z][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+$/;

// The body, the events array and an event are the three levels above customdata.
const LEVELS_ABOVE_CUSTOMDATA = 3;

function notObjects(items: readonly unknown[], field: string): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  items.forEach((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      details.push({ field: `${field}[${index}]`, message: 'an event must be a JSON object' });
    }
  });
  return details;
}

/** The error for a container nested too deeply at `path`: inside customdata the whole customdata is at fault. */
function tooDeep(path: string, limits: ValidationLimits): ErrorDetail {
  const customdata = /^events\[\d+\]\.customdata/.exec(path)?.[0];
  return customdata === undefined
    ? { field: path, message: 'is nested too deeply' }
    : { field: customdata, message: `customdata must be at most ${limits.customdataMaxDepth} levels deep` };
}

/** How deep a body may nest before it is even parsed, worded as validation words it (registerJsonBodyParser). */
export function ingestBodyRules(limits: ValidationLimits): JsonBodyRules {
  return { maxDepth: LEVELS_ABOVE_CUSTOMDATA + limits.customdataMaxDepth, tooDeep: (path) => tooDeep(path, limits) };
}

/**
 * Cheap checks on the raw body that run before class-transformer: an oversized array or deep nesting is
 * refused without building thousands of objects or overflowing the stack.
 */
function precheckIngestBatch(body: Record<string, unknown>, limits: ValidationLimits): ErrorDetail[] {
  const { events } = body;
  if (Array.isArray(events) && events.length > MAX_EVENTS_PER_BATCH) {
    return [{ field: 'events', message: `events must contain at most ${MAX_EVENTS_PER_BATCH} elements, got ${events.length}` }];
  }
  // class-validator's nested validation descends into an array where an event should be, so [[…]] would pass.
  const notEvents = Array.isArray(events) ? notObjects(events, 'events') : [];
  if (notEvents.length > 0) return notEvents;
  const problem = inspectJsonTree(body, LEVELS_ABOVE_CUSTOMDATA + limits.customdataMaxDepth);
  if (problem === undefined) return [];
  // Inside customdata the whole object is the field at fault; elsewhere the offending path is.
  const customdata = /^events\[\d+\]\.customdata/.exec(problem.path)?.[0];
  const key = problem.key ?? '';
  if (problem.reason === 'forbidden_key') {
    return [
      customdata === undefined
        ? { field: problem.path, message: `property ${key} should not exist` }
        : { field: customdata, message: `customdata key "${key}" is not allowed` },
    ];
  }
  return [tooDeep(problem.path, limits)];
}

@Precheck(precheckIngestBatch)
export class IngestBatchDto {
  @ApiProperty({ example: 'device-abc-123', description: 'Must equal the sub claim of the access token.', maxLength: 128 })
  @IsStorableString(1, 128)
  user_id: string;

  @ApiProperty({ example: 'com.example.stackblaster', description: 'Android package name or iOS bundle identifier.', maxLength: 255 })
  @IsString()
  @MaxLength(255)
  @Matches(GAME_ID, { message: 'game_id must be an Android package name or iOS bundle identifier, such as com.example.mygame' })
  game_id: string;

  @ApiPropertyOptional({
    format: 'date-time',
    example: '2026-04-22T14:31:00+00:00',
    description:
      "When the batch was sent, by the device's clock: RFC 3339 with an offset, as `timestamp`. The server then stores " +
      "the device's clock offset (sent_at minus the time it received the batch, `clock_skew_ms`) with the batch and its " +
      "events, and judges each event's timestamp by the device's clock: at most 24 hours after sent_at, whatever the " +
      'device clock says. A sent_at more than a year away from the server clock is accepted and stored, but not applied.',
  })
  @ValidateIf((batch: IngestBatchDto) => batch.sent_at !== undefined)
  @IsRfc3339DateTime()
  sent_at?: string;

  @ApiProperty({ type: [IngestEventDto], minItems: 1, maxItems: MAX_EVENTS_PER_BATCH })
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_EVENTS_PER_BATCH)
  @ValidateNested({ each: true })
  @AppliesClockSkew('sent_at')
  @Type(() => IngestEventDto)
  events: IngestEventDto[];
}
