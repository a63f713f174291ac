import { Controller, Get, Header, HttpStatus, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CrossOrigin, IpRateLimited } from '#platform';
import { RATE_LIMIT_HEADERS, serviceUnavailable, tooManyRequests, unauthorized } from './api-examples';
import { ClientConfigService } from './client-config.service';
import { ClientConfigDto } from './dto/client-config.dto';
import { SubjectRateLimitGuard } from './subject-rate-limit.guard';

/** Clients fetch the policy when they start and at most this often after. */
export const CLIENT_CONFIG_CACHE_CONTROL = 'private, max-age=300';

@ApiTags('ingest')
@ApiBearerAuth()
@Controller('ingest')
export class ClientConfigController {
  constructor(private readonly policy: ClientConfigService) {}

  @Get('client-config')
  @CrossOrigin()
  // Counts against the same per-address and per-player limits as sending.
  @IpRateLimited()
  @UseGuards(SubjectRateLimitGuard)
  @Header('Cache-Control', CLIENT_CONFIG_CACHE_CONTROL)
  @ApiOperation({
    summary: 'The batching policy of the game client library',
    description:
      'When to send (flush_at events, or flush_interval_ms after the oldest queued one), how much one request may hold, ' +
      'whether to send at all (enabled: false keeps the queue until the next check), and the rules events are ' +
      'validated by: the event types of this server, customEventName, customdata and timestamp limits. Fetch it when ' +
      'the game starts and again at most every 5 minutes (Cache-Control).',
  })
  @ApiResponse({
    status: HttpStatus.OK,
    type: ClientConfigDto,
    description: 'The policy.',
    headers: {
      ...RATE_LIMIT_HEADERS,
      'Cache-Control': { description: `\`${CLIENT_CONFIG_CACHE_CONTROL}\``, schema: { type: 'string' } },
    },
  })
  @unauthorized()
  @tooManyRequests(['rate_limited'])
  @serviceUnavailable(['shutting_down'])
  clientConfig(): ClientConfigDto {
    return this.policy.answer();
  }
}
