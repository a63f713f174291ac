import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticatedPlayer } from '#auth';
import { ApiError, AppConfig, applyRateLimit, InjectConfig, RateLimitDecision, RateLimiter, rateLimitKey } from '#platform';

/**
 * The per-player limits: requests (RATE_LIMIT_PER_SUB_*), then the events of the body (RATE_LIMIT_EVENTS_PER_SUB_*). Put it first in @UseGuards: it runs after JwtAuthGuard (global guards
 * run before route guards), so it has the verified `sub`, and before SubjectMatchGuard and the validation pipe, so a
 * limited player gets 429 whatever the body holds, and refused bodies cost tokens too.
 */
@Injectable()
export class SubjectRateLimitGuard implements CanActivate {
  constructor(
    private readonly limiter: RateLimiter,
    @InjectConfig() private readonly config: AppConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & { user?: AuthenticatedPlayer }>();
    const sub = request.user?.sub;
    // Only a @Public() route has no player; the per-address limit is all it gets.
    if (sub === undefined) return true;
    applyRateLimit(http.getResponse<FastifyReply>(), await this.limiter.consumeForSub(sub));
    const events = (request.body as { events?: unknown } | undefined)?.events;
    if (Array.isArray(events) && events.length > 0) refuseOverEventLimit(await this.consumeEvents(sub, events.length));
    return true;
  }

  /**
   * The player's event bucket (RATE_LIMIT_EVENTS_PER_SUB_*): a batch takes one token per event, so that a few players
   * cannot fill the buffer all players share (BUFFER_MAX_EVENTS) with full batches within their request limit.
   */
  private consumeEvents(sub: string, events: number): Promise<RateLimitDecision> {
    const { eventsPerSubPerSecond, eventsPerSubBurst } = this.config.rateLimit;
    const key = rateLimitKey(this.config.queue.prefix, 'events', sub);
    return this.limiter.consume(key, eventsPerSubPerSecond, eventsPerSubBurst, Math.min(events, eventsPerSubBurst));
  }
}

/**
 * Refuses a request whose events the player's event bucket cannot take (429 with Retry-After). Its RateLimit-*
 * headers stay those of the request buckets: they count requests, this one counts events.
 */
function refuseOverEventLimit(decision: RateLimitDecision): void {
  if (!decision.enforced || decision.allowed) return;
  throw new ApiError(HttpStatus.TOO_MANY_REQUESTS, 'rate_limited', undefined, { 'retry-after': String(decision.retryAfterSeconds) });
}
