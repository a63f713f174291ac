import type { FastifyInstance } from 'fastify';
import { AddRouteConfig } from '../http/route-config';
import { clientAddress } from '../net/client-address';
import { applyRateLimit } from './rate-limit-reply';
import type { RateLimiter } from './token-bucket';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @IpRateLimited(). */
    playsmartIpRateLimited?: boolean;
  }
}

/**
 * Puts a route under the per-client-address limit (RATE_LIMIT_PER_IP_*). It runs in Fastify's onRequest hook: before
 * the body is read and before any guard, so unauthenticated floods are refused without parsing a byte or checking a
 * signature. Routes without it (health, docs) are never limited.
 */
export const IpRateLimited = (): MethodDecorator => AddRouteConfig({ playsmartIpRateLimited: true });

/**
 * Registers the per-address limit for routes marked @IpRateLimited(). The address honours X-Forwarded-For from the
 * proxies TRUST_PROXY names (createFastifyAdapter), and is the socket's when what they pass is not an address.
 */
export function registerIpRateLimit(fastify: FastifyInstance, limiter: RateLimiter): void {
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config?.playsmartIpRateLimited !== true) return;
    applyRateLimit(reply, await limiter.consumeForIp(clientAddress(request)));
  });
}
