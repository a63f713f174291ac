import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AddRouteConfig } from '../http/route-config';
import { Metrics, UNMATCHED_ROUTE } from './metrics';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @CountsRejectedEvents(). */
    playsmartCountsRejectedEvents?: boolean;
  }
}

/**
 * Marks the route whose refusals are counted by reason (`ingest_requests_rejected_total`, `events_rejected_total`).
 * The error filter counts them, so every refusal is, whichever stage gives it: a Fastify hook, the body parser, a
 * guard, the validation pipe or the producer.
 */
export const CountsRejectedEvents = (): MethodDecorator => AddRouteConfig({ playsmartCountsRejectedEvents: true });

export function countsRejectedEvents(request: FastifyRequest): boolean {
  return request.routeOptions?.config?.playsmartCountsRejectedEvents === true;
}

/**
 * Request durations, by route pattern (`/ingest/batches/:batch_id`, never the raw URL), method and status. An
 * onResponse hook: it runs after the response is sent and costs one histogram update.
 */
export function registerHttpMetrics(fastify: FastifyInstance, metrics: Metrics): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.httpRequestDuration.observe(
      { method: request.method, route: request.routeOptions.url ?? UNMATCHED_ROUTE, status_code: reply.statusCode },
      reply.elapsedTime / 1000,
    );
    done();
  });
}
