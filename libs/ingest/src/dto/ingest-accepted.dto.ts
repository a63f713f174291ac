import { ApiProperty } from '@nestjs/swagger';

export class IngestAcceptedDto {
  @ApiProperty({ example: true })
  success: true;

  @ApiProperty({
    example: 'accepted:3 buffered:3',
    description: 'accepted: events in this request. buffered: events accepted service-wide and not yet written, these included.',
  })
  message: string;

  @ApiProperty({
    format: 'uuid',
    description: 'Identifies this batch in logs and in the events table; `GET /ingest/batches/{batch_id}` tells whether it is written.',
  })
  batch_id: string;
}
