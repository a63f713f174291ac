import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuthenticatedPlayer } from '#auth';
import { applyRateLimit, RateLimiter, refuseOverEventLimit } from '#platform';

/**
 * The per-player limits: requests (RATE_LIMIT_PER_SUB_*), then the events of the body (RATE_LIMIT_EVENTS_PER_SUB_*). Put it first in @UseGuards: it runs after JwtAuthGuard (global guards
 * run before route guards), so it has the verified `sub`, and before SubjectMatchGuard and the validation pipe, so a
 * limited player gets 429 whatever the body holds, and refused bodies cost tokens too.
 */
@Injectable()
export class SubjectRateLimitGuard implements CanActivate {
  constructor(private readonly limiter: RateLimiter) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const http = context.switchToHttp();
    const request = http.getRequest<FastifyRequest & { user?: AuthenticatedPlayer }>();
    const sub = request.user?.sub;
    // Only a @Public() route has no player; the per-address limit is all it gets.
    if (sub === undefined) return true;
    applyRateLimit(http.getResponse<FastifyReply>(), await this.limiter.consumeForSub(sub));
    const events = (request.body as { events?: unknown } | undefined)?.events;
    if (Array.isArray(events) && events.length > 0) refuseOverEventLimit(await this.limiter.consumeEventsForSub(sub, events.length));
    return true;
  }
}
