import { HttpStatus } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { ApiError } from '../errors/api-error';
import type { RateLimitDecision } from './token-bucket';

/** The IETF draft headers (draft-ietf-httpapi-ratelimit-headers), in integer seconds, plus Retry-After on a refusal. */
export function rateLimitHeaders(decision: RateLimitDecision): Record<string, string> {
  const headers: Record<string, string> = {
    'ratelimit-limit': String(decision.limit),
    'ratelimit-remaining': String(decision.remaining),
    'ratelimit-reset': String(decision.resetSeconds),
  };
  if (!decision.allowed) headers['retry-after'] = String(decision.retryAfterSeconds);
  return headers;
}

/**
 * True when `a` is more restrictive than `b`: a refusal beats a pass, then the fewer requests remaining, then the
 * longer wait (Retry-After, then Reset).
 */
export function isMoreRestrictive(a: RateLimitDecision, b: RateLimitDecision): boolean {
  if (a.allowed !== b.allowed) return !a.allowed;
  if (a.remaining !== b.remaining) return a.remaining < b.remaining;
  if (a.retryAfterSeconds !== b.retryAfterSeconds) return a.retryAfterSeconds > b.retryAfterSeconds;
  return a.resetSeconds > b.resetSeconds;
}

const reported = new WeakMap<FastifyReply, RateLimitDecision>();

/**
 * Reports one bucket's decision on the reply and refuses the request (429) when the bucket is empty.
 *
 * A request can pass through two buckets (its address before authentication, its player after). The headers
 * describe one of them, so they always describe the most restrictive one seen so far (see isMoreRestrictive): the
 * client learns about the limit it will hit first, and a 429 always describes the bucket that refused it.
 * A decision that was not enforced (limit off, Redis failing) reports nothing.
 */
export function applyRateLimit(reply: FastifyReply, decision: RateLimitDecision): void {
  if (!decision.enforced) return;
  const previous = reported.get(reply);
  if (previous === undefined || isMoreRestrictive(decision, previous)) {
    reported.set(reply, decision);
    for (const [name, value] of Object.entries(rateLimitHeaders(decision))) void reply.header(name, value);
  }
  if (!decision.allowed) throw new ApiError(HttpStatus.TOO_MANY_REQUESTS, 'rate_limited', undefined, rateLimitHeaders(decision));
}
