import fastifyCors, { FastifyCorsOptions } from '@fastify/cors';
import type { FastifyInstance, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { CorsOrigins } from '../config/app-config';
import { AddRouteConfig } from './route-config';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set by @CrossOrigin(): browsers on the origins of CORS_ORIGINS may call the route. */
    playsmartCrossOrigin?: boolean;
  }
}

/** Lets browsers on the origins of CORS_ORIGINS call the route (answers its preflights, and CORS headers on its answers). */
export const CrossOrigin = (): MethodDecorator => AddRouteConfig({ playsmartCrossOrigin: true });

/**
 * An onRequest hook that answers before any body is read (it never lets the request go on), and closes the connection
 * when the request comes with a body, so that the rest of it is not read either.
 */
function answerBeforeTheBody(answer: (reply: FastifyReply) => void): onRequestHookHandler {
  return (request, reply) => {
    const withBody = request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] ?? '0') !== '0';
    if (withBody) void reply.header('connection', 'close');
    answer(reply);
  };
}

/** What a browser may send: the token, the body's type and coding, and a request id of its own. */
export const CORS_ALLOWED_HEADERS = 'Authorization, Content-Type, Content-Encoding, X-Request-Id';
/** What a page may read of an answer beyond the safelisted headers: the rate limits' and the request id. */
export const CORS_EXPOSED_HEADERS = 'Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, X-Request-Id';
/** How long a browser may keep a preflight's answer: 2 hours, Chromium's ceiling (Firefox keeps up to 24). */
export const CORS_MAX_AGE_SECONDS = 7200;

/**
 * The CORS headers of an answer Fastify's router gives before any hook runs (a URL it cannot decode, a path parameter
 * over its length: answerFrameworkError), for an allowed origin, so that a page can read those refusals too. The
 * route is unknown then: every path gets them, which tells an allowed origin nothing the envelope does not.
 */
export function routerRefusalCorsHeaders(origins: CorsOrigins | undefined, origin: string | undefined): Record<string, string> {
  if (origins === undefined || origin === undefined || (origins !== '*' && !origins.includes(origin))) return {};
  return { 'access-control-allow-origin': origin, 'access-control-expose-headers': CORS_EXPOSED_HEADERS, vary: 'Origin' };
}

/**
 * CORS for the routes marked @CrossOrigin(), with @fastify/cors, from `origins` (CORS_ORIGINS); nothing at all when it
 * is unset. Its onRequest hook runs right after the request context (so a preflight has its X-Request-Id and log
 * lines like any request: not with Nest's `app.enableCors()`, whose hook runs before every hook of ours), and before
 * the per-address limit, the content-type check and the early authentication:
 *
 * - a preflight (OPTIONS with Origin and Access-Control-Request-Method) from an allowed origin is answered 204 in the
 *   hook, before any of them: it carries no token and no body, costs a header check, and is not counted against the
 *   per-address limit (docs/security.md says why);
 * - an answer to an allowed origin has its CORS headers set before anything can refuse the request, so that the
 *   page can read every refusal too (429, 415, 401, 413, 400, 503), which keeps the error envelope.
 *
 * An origin that is not allowed gets no CORS headers (only `Vary: Origin`), and its preflight a 204 without them,
 * which the browser refuses. Each marked path gets an OPTIONS route, public (no token): the CORS hook answers its
 * preflights with the methods of the marked routes on that path; the route answers the rest. No OPTIONS request has
 * its body read.
 */
export function registerCors(fastify: FastifyInstance, origins: CorsOrigins | undefined): void {
  if (origins === undefined) return;
  const allowed = origins === '*' ? () => true : (origin: string) => origins.includes(origin);
  const methodsByPath = new Map<string, Set<string>>();

  fastify.addHook('onRoute', (route) => {
    // @fastify/cors's route for the OPTIONS requests of paths it does not know, whose body Fastify would read: 404 first.
    if (route.method === 'OPTIONS' && route.url === '*') {
      route.config = { ...route.config, playsmartPublic: true };
      route.onRequest = [...[route.onRequest ?? []].flat(), answerBeforeTheBody((reply) => reply.callNotFound())];
    }
    if (route.config?.playsmartCrossOrigin !== true) return;
    let methods = methodsByPath.get(route.url);
    if (methods === undefined) {
      const known = new Set<string>();
      methods = known;
      methodsByPath.set(route.url, known);
      // The OPTIONS requests the CORS hook leaves (not preflights, or from an origin that is not allowed): 204 without
      // CORS headers, answered in a hook, since Fastify reads an OPTIONS request's body before its handler.
      fastify.route({
        method: 'OPTIONS',
        url: route.url,
        config: { playsmartPublic: true },
        onRequest: answerBeforeTheBody(
          (reply) =>
            void reply
              .code(204)
              .header('allow', [...known, 'OPTIONS'].join(', '))
              .send(),
        ),
        handler: (_request, reply) => reply.code(204).send(),
      });
    }
    for (const method of [route.method].flat()) if (method !== 'HEAD' && method !== 'OPTIONS') methods.add(method);
  });

  const optionsFor = (request: FastifyRequest): FastifyCorsOptions => {
    const origin = request.headers.origin;
    const methods = request.routeOptions.url === undefined ? undefined : methodsByPath.get(request.routeOptions.url);
    const preflight = request.method === 'OPTIONS';
    if (methods === undefined || origin === undefined || !allowed(origin)) return { origin: false };
    // An OPTIONS request without Access-Control-Request-Method is no preflight: the route above answers it.
    if (preflight && request.headers['access-control-request-method'] === undefined) return { origin: false };
    return {
      // The request's own origin, never `*`: caches keep one answer per origin (Vary: Origin).
      origin,
      methods: [...methods].join(', '),
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      maxAge: CORS_MAX_AGE_SECONDS,
      // Bearer tokens, no cookies: Access-Control-Allow-Credentials is never sent.
      credentials: false,
    };
  };
  void fastify.register(fastifyCors, { hook: 'onRequest', delegator: (request, callback) => callback(null, optionsFor(request)) });
}
