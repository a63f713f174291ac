import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

export const BATCH_STATUSES = ['queued', 'written', 'failed'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export class BatchReceiptDto {
  @ApiProperty({ format: 'uuid', description: 'The `batch_id` of the 202 answer.' })
  batch_id: string;

  @ApiProperty({
    enum: BATCH_STATUSES,
    description:
      'queued: accepted, not written yet (also while a failing write is being retried). written: stored. failed: every ' +
      'write attempt failed; the batch is kept and an operator can retry it.',
  })
  status: BatchStatus;

  @ApiProperty({ type: 'integer', example: 3, description: 'Events in the batch, repeats included (`accepted:N` of the 202).' })
  accepted: number;

  @ApiPropertyOptional({ format: 'date-time', description: 'When the batch was written; only with status written.' })
  written_at?: string;
}
