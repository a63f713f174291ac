import { Body, Controller, HttpCode, HttpStatus, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiHeader, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorResponse, bodyTooLarge, CrossOrigin, IpRateLimited, JsonBodyText } from '#platform';
import { EXAMPLE_BATCH, RATE_LIMIT_HEADERS, serviceUnavailable, tooManyRequests, unauthorized, unsupportedMediaType } from './api-examples';
import { IngestAcceptedDto } from './dto/ingest-accepted.dto';
import { IngestBatchDto } from './dto/ingest-batch.dto';
import { IngestProducer } from './ingest.producer';
import { CountsRejectedEvents } from './rejected-events.counter';
import { SubjectMatchGuard } from './subject-match.guard';
import { SubjectRateLimitGuard } from './subject-rate-limit.guard';

@ApiTags('ingest')
@ApiBearerAuth()
@Controller('ingest')
export class IngestController {
  constructor(private readonly producer: IngestProducer) {}

  @Post('events')
  @HttpCode(HttpStatus.ACCEPTED)
  // Per address before authentication (onRequest hook), then per player after it and before the body is looked at.
  // Browsers on the origins of CORS_ORIGINS may send batches (preflights answered before the token check).
  @CrossOrigin()
  @IpRateLimited()
  @CountsRejectedEvents()
  @UseGuards(SubjectRateLimitGuard, SubjectMatchGuard)
  @ApiOperation({
    summary: 'Send a batch of 1 to 200 gameplay events',
    description:
      'Answered once the batch is queued; it is written within seconds.\n\n' +
      'The body may be sent compressed, with `Content-Encoding: gzip` or `deflate` (zlib-wrapped as HTTP defines it; ' +
      'raw deflate is accepted too). BODY_LIMIT (1 MiB by default) applies to the body both as sent and once ' +
      'decompressed: inflating stops as soon as it is passed (413).',
  })
  @ApiHeader({
    name: 'Content-Encoding',
    required: false,
    description:
      'The coding of a compressed body: `gzip` (or its old name `x-gzip`) or `deflate`; none or `identity` for a ' +
      'plain one. Only one coding; anything else is a 415. Try it out sends the body as it is: leave this empty there.',
    schema: { type: 'string', enum: ['gzip', 'deflate', 'identity'] },
  })
  @ApiBody({ type: IngestBatchDto, examples: { 'API page example': { value: EXAMPLE_BATCH } } })
  @ApiResponse({
    status: HttpStatus.ACCEPTED,
    type: IngestAcceptedDto,
    description: 'Queued in the server-side buffer, not yet written.',
    headers: RATE_LIMIT_HEADERS,
    example: { success: true, message: 'accepted:3 buffered:3', batch_id: '6f1c0b7e-3b9e-4a8e-9d6a-2f0c8f1e5a42' },
  })
  @ApiErrorResponse(400, {
    description: 'Fix the batch before sending it again.',
    examples: [
      {
        message: 'invalid_payload',
        details: [{ field: 'events[1].type', message: 'type must be one of the following values: SessionStarted, ...' }],
      },
      {
        message: 'invalid_payload',
        summary: 'invalid_payload (the body)',
        details: [{ field: '', message: 'body is not valid gzip data' }],
      },
    ],
  })
  @unauthorized()
  @ApiErrorResponse(403, { examples: ['user_id_mismatch', 'game_id_mismatch'] })
  // The message names the configured limit; the example, the default one.
  @ApiErrorResponse(413, { description: 'Send fewer events per request.', examples: [bodyTooLarge(1024 * 1024)] })
  @unsupportedMediaType()
  @tooManyRequests(['rate_limited', 'too_many_bytes_in_flight'])
  @serviceUnavailable(['buffer_full', 'queue_unavailable', 'shutting_down'])
  async ingest(@Body() batch: IngestBatchDto, @JsonBodyText() text: string): Promise<IngestAcceptedDto> {
    const { batchId, accepted, buffered } = await this.producer.enqueueBatch(batch, text);
    return { success: true, message: `accepted:${accepted} buffered:${buffered}`, batch_id: batchId };
  }
}
