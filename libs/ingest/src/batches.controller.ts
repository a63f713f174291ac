import { Controller, Get, HttpStatus, Injectable, Param, PipeTransform, Req, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiParam, ApiResponse, ApiTags } from '@nestjs/swagger';
import { isUUID } from 'class-validator';
import type { FastifyRequest } from 'fastify';
import { AuthenticatedPlayer, AuthenticationError } from '#auth';
import { ApiError, ApiErrorResponse, CrossOrigin, IpRateLimited } from '#platform';
import { RECEIPT_EXAMPLES, serviceUnavailable, tooManyRequests, unauthorized } from './api-examples';
import { BatchReceiptService } from './batch-receipt.service';
import { BatchReceiptDto } from './dto/batch-receipt.dto';
import { SubjectRateLimitGuard } from './subject-rate-limit.guard';

/** `:batch_id` must be a UUID (400 invalid_payload naming `batch_id` otherwise); compared in lower case, as issued. */
@Injectable()
export class BatchIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUUID(value, 'all')) throw ApiError.invalidPayload([{ field: 'batch_id', message: 'batch_id must be a UUID' }]);
    return value.toLowerCase();
  }
}

@ApiTags('ingest')
@ApiBearerAuth()
@Controller('ingest')
export class BatchesController {
  constructor(private readonly receipts: BatchReceiptService) {}

  @Get('batches/:batch_id')
  // Polling counts against the same per-address and per-player limits as sending.
  @CrossOrigin()
  @IpRateLimited()
  @UseGuards(SubjectRateLimitGuard)
  @ApiOperation({
    summary: 'Where a batch stands: queued, written or failed',
    description:
      'Only the player (token subject) who sent the batch can read its receipt; for anyone else it does not exist (404). ' +
      'A written batch is remembered for RECEIPT_RETENTION_SECONDS (7 days by default); a failed one until it is retried.',
  })
  @ApiParam({
    name: 'batch_id',
    format: 'uuid',
    description: 'The `batch_id` of the 202 answer.',
    example: RECEIPT_EXAMPLES.written.batch_id,
  })
  @ApiResponse({
    status: HttpStatus.OK,
    type: BatchReceiptDto,
    description: 'The receipt.',
    examples: {
      queued: { summary: 'Accepted, not written yet', value: RECEIPT_EXAMPLES.queued },
      written: { summary: 'Stored', value: RECEIPT_EXAMPLES.written },
      failed: { summary: 'Every write attempt failed', value: RECEIPT_EXAMPLES.failed },
    },
  })
  @ApiErrorResponse(400, {
    examples: [{ message: 'invalid_payload', details: [{ field: 'batch_id', message: 'batch_id must be a UUID' }] }, 'malformed_url'],
  })
  @unauthorized()
  @ApiErrorResponse(404, { examples: ['batch_not_found'] })
  @ApiErrorResponse(414, { examples: ['path_parameter_too_long'] })
  @tooManyRequests(['rate_limited'])
  @serviceUnavailable(['database_unavailable', 'queue_unavailable', 'shutting_down'])
  async receipt(
    @Param('batch_id', BatchIdPipe) batchId: string,
    @Req() request: FastifyRequest & { user?: AuthenticatedPlayer },
  ): Promise<BatchReceiptDto> {
    // JwtAuthGuard (global) has set the user; without one the route is not reachable.
    const sub = request.user?.sub;
    if (sub === undefined) throw new AuthenticationError('missing_token');
    const receipt = await this.receipts.find(batchId, sub);
    if (receipt === undefined) throw new ApiError(HttpStatus.NOT_FOUND, 'batch_not_found');
    return receipt;
  }
}
