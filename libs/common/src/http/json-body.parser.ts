import { isUtf8 } from 'node:buffer';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ApiError } from '../errors/api-error';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function parseJsonBody(_request: FastifyRequest, body: Buffer): unknown {
  if (body.length === 0) throw ApiError.invalidPayload([{ field: '', message: 'body is empty' }]);
  // PostgreSQL stores only valid UTF-8; a lossy decode would store replacement characters instead of refusing.
  if (!isUtf8(body)) throw ApiError.invalidPayload([{ field: '', message: 'body is not valid UTF-8' }]);
  try {
    // JSON.parse defines "__proto__" as an own data property, never as the prototype, so it cannot pollute.
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw ApiError.invalidPayload([{ field: '', message: 'body is not valid JSON' }]);
  }
}

/**
 * Accepts only `application/json` (parameters such as charset are fine). Anything else, or a body-carrying
 * request without a content type, is answered 415 by Fastify before any route code runs.
 */
export function registerJsonBodyParser(fastify: FastifyInstance): void {
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    try {
      done(null, parseJsonBody(request, body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (BODY_METHODS.has(request.method) && request.headers['content-type'] === undefined) {
      done(new ApiError(415, 'content_type_must_be_application_json'));
      return;
    }
    done();
  });
}
