import { Body, Controller, HttpCode, HttpStatus, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { SubjectMatchGuard, SubjectRateLimitGuard } from '#auth';
import { CountsRejectedEvents, IpRateLimited, JsonBodyText } from '#common';
import { ERROR_EXAMPLES, EXAMPLE_BATCH } from './api-examples';
import { IngestAcceptedDto } from './dto/ingest-accepted.dto';
import { IngestBatchDto } from './dto/ingest-batch.dto';
import { IngestProducer } from './ingest.producer';

const integerHeader = (description: string) => ({ description, schema: { type: 'integer' } });

/** Sent with every answer of a rate-limited route; they describe the most restrictive of the caller's buckets. */
const RATE_LIMIT_HEADERS = {
  'RateLimit-Limit': integerHeader('Requests the bucket holds when full (its burst).'),
  'RateLimit-Remaining': integerHeader('Requests left right now.'),
  'RateLimit-Reset': integerHeader('Seconds until the bucket is full again.'),
};

const errorResponse = (status: keyof typeof ERROR_EXAMPLES, description: string, headers?: Record<string, object>) =>
  ApiResponse({ status, description, headers, content: { 'application/json': { example: ERROR_EXAMPLES[status] } } });

@ApiTags('ingest')
@ApiBearerAuth()
@Controller('ingest')
export class IngestController {
  constructor(private readonly producer: IngestProducer) {}

  @Post('events')
  @HttpCode(HttpStatus.ACCEPTED)
  // Per address before authentication (onRequest hook), then per player after it and before the body is looked at.
  @IpRateLimited()
  @CountsRejectedEvents()
  @UseGuards(SubjectRateLimitGuard, SubjectMatchGuard)
  @ApiOperation({
    summary: 'Send a batch of 1 to 200 gameplay events',
    description: 'Answered once the batch is queued; it is written within seconds.',
  })
  @ApiBody({ type: IngestBatchDto, examples: { 'API page example': { value: EXAMPLE_BATCH } } })
  @ApiResponse({
    status: HttpStatus.ACCEPTED,
    type: IngestAcceptedDto,
    description: 'Queued in the server-side buffer, not yet written.',
    headers: RATE_LIMIT_HEADERS,
    example: { success: true, message: 'accepted:3 buffered:3', batch_id: '6f1c0b7e-3b9e-4a8e-9d6a-2f0c8f1e5a42' },
  })
  @errorResponse(400, 'The body failed validation; details lists every failing field.')
  @errorResponse(401, 'The bearer token is missing (missing_token), expired (token_expired) or invalid (invalid_token).')
  @errorResponse(
    403,
    "user_id does not match the token's subject (user_id_mismatch), or game_id does not match the game the token is for (game_id_mismatch, with JWT_GAME_CLAIM).",
  )
  @errorResponse(413, 'The body exceeds BODY_LIMIT.')
  @errorResponse(415, 'The content type is not application/json.')
  @errorResponse(429, 'Too many requests from this player (token subject) or from this client address; retry after Retry-After seconds.', {
    ...RATE_LIMIT_HEADERS,
    'Retry-After': integerHeader('Seconds until a request is allowed again (at least 1).'),
  })
  @errorResponse(503, 'The queue is unavailable; retry after Retry-After seconds.')
  async ingest(@Body() batch: IngestBatchDto, @JsonBodyText() text: string): Promise<IngestAcceptedDto> {
    const { batchId, accepted, buffered } = await this.producer.enqueueBatch(batch, text);
    return { success: true, message: `accepted:${accepted} buffered:${buffered}`, batch_id: batchId };
  }
}
