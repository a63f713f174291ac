import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @Public() and on the routes of Swagger UI and Bull Board: no bearer token is asked for. */
    playsmartPublic?: boolean;
  }
}

/**
 * Verifies a request's bearer token from its headers alone, and records the caller on the request; rejects with the
 * 401 to answer. Provided by the authentication library; the HTTP platform only knows this port.
 */
export interface RequestAuthenticator {
  authenticate(request: FastifyRequest): Promise<void>;
}

export const REQUEST_AUTHENTICATOR = Symbol('REQUEST_AUTHENTICATOR');

/**
 * Authenticates every request to a route that is not public in an onRequest hook, before its body is read: a request
 * without a valid token costs a header check, never the buffering, inflating or parsing of its body, however large or
 * slow it is. Its connection is closed after the 401, so that the body it may still be sending is not read either.
 * Unknown routes are left to their 404.
 */
export function registerEarlyAuthentication(fastify: FastifyInstance, authenticator: RequestAuthenticator): void {
  fastify.addHook('onRequest', async (request, reply) => {
    if (request.is404 || request.routeOptions.config?.playsmartPublic === true) return;
    try {
      await authenticator.authenticate(request);
    } catch (error) {
      void reply.header('connection', 'close');
      throw error;
    }
  });
}
