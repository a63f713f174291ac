import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsInt, IsOptional, Min } from 'class-validator';
import { EVENT_TYPE_NAMES, EVENT_TYPES, EventTypeDefinition } from '#ingest';

/** A test-only event type with a customdata DTO: the catalogue has no such type yet. */
export const PRICED_TYPE = 'PricedTest';

/** Documented as any DTO: @ApiProperty says what the OpenAPI document shows of each property. */
export class PricedCustomdataDto {
  @ApiProperty({ type: 'integer', minimum: 0, example: 250 })
  @IsInt()
  @Min(0)
  price: number;

  @ApiPropertyOptional({ enum: ['EUR', 'USD'] })
  @IsOptional()
  @IsIn(['EUR', 'USD'])
  currency?: string;
}

/**
 * Adds PRICED_TYPE to the catalogue of this test process, as an entry in event-types.ts would: to EVENT_TYPES, and to
 * EVENT_TYPE_NAMES, the array IngestEventDto's @IsIn holds.
 */
export function addPricedEventType(): void {
  if (Object.hasOwn(EVENT_TYPES, PRICED_TYPE)) return;
  const definition: EventTypeDefinition = { description: 'A test-only priced event.', customdata: PricedCustomdataDto };
  Object.assign(EVENT_TYPES, { [PRICED_TYPE]: definition });
  (EVENT_TYPE_NAMES as string[]).push(PRICED_TYPE);
}
