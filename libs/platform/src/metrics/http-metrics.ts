import type { FastifyInstance } from 'fastify';
import { Metrics, UNMATCHED_ROUTE } from './metrics';

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
