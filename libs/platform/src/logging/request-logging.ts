import { Logger } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { requestContext } from './request-context';

/**
 * Runs every request inside its own context (so that each log line it causes names its id), returns the id as
 * `X-Request-Id`, and writes one access line per request: at debug level, or warn for server errors. The line names
 * the route pattern, never the URL's values, and no header or body.
 */
export function registerRequestContext(fastify: FastifyInstance): void {
  const logger = new Logger('Http');
  fastify.addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    requestContext.run({ requestId: request.id }, done);
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    const line = {
      method: request.method,
      route: request.routeOptions.url ?? '(unknown)',
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
    };
    if (reply.statusCode >= 500) logger.warn(line);
    else logger.debug(line);
    done();
  });
}
