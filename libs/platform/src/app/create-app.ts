import { INestApplication, Type } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { FastifyError, FastifyReply, FastifyRequest, LogController } from 'fastify';
import { DocumentBuilder, OpenAPIObject, SwaggerCustomOptions, SwaggerModule } from '@nestjs/swagger';
import { AppConfig, ConfigValidationError } from '../config/app-config';
import { APP_CONFIG, configFromProcessEnv } from '../config/config.module';
import { answerClientError, answerFrameworkError } from '../errors/error-envelope.filter';
import { registerCors, routerRefusalCorsHeaders } from '../http/cors';
import { registerEarlyAuthentication, REQUEST_AUTHENTICATOR, RequestAuthenticator } from '../http/early-authentication';
import { GENERIC_JSON_BODY_RULES, JSON_BODY_RULES, JsonBodyRules, registerJsonBodyParser } from '../http/json-body.parser';
import { requestIdFrom } from '../logging/request-context';
import { registerRequestContext } from '../logging/request-logging';
import { registerIpRateLimit } from '../rate-limit/ip-rate-limit';
import { RateLimiter } from '../rate-limit/token-bucket';

/** Believe the last `hops` proxies, as Fastify's numeric trustProxy does. */
function hopsOf(hops: number): (address: string, hop: number) => boolean {
  return (_address, hop) => hop < hops;
}

export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  const { requestTimeoutMs, headersTimeoutMs, keepAliveTimeoutMs } = config.http;
  return new FastifyAdapter({
    bodyLimit: config.bodyLimitBytes,
    // Nothing a client holds open is unbounded: a slow body, slow headers, an idle connection, a silent socket.
    requestTimeout: requestTimeoutMs,
    keepAliveTimeout: keepAliveTimeoutMs,
    connectionTimeout: keepAliveTimeoutMs + requestTimeoutMs,
    // Node checks the request and headers timeouts every 30 s by default: a 30 s request could live a minute.
    http: { headersTimeout: headersTimeoutMs, requestTimeout: requestTimeoutMs, connectionsCheckingInterval: 1000 },
    // Which X-Forwarded-For hops to believe for the client address (the per-IP rate limit): see TRUST_PROXY.
    trustProxy: typeof config.trustProxy === 'number' ? hopsOf(config.trustProxy) : config.trustProxy,
    // X-Request-Id is taken from the client when it is plain and short, generated otherwise.
    requestIdHeader: false,
    genReqId: (request: IncomingMessage) => requestIdFrom(request.headers['x-request-id']),
    // Access lines are written by registerRequestContext, with the request id and without headers.
    logController: new LogController({ disableRequestLogging: true }),
    // Bodies are parsed by registerJsonBodyParser; these guard the other paths Fastify parses itself.
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // A request Node's HTTP parser or Fastify's router refuses is answered in the error envelope too.
    clientErrorHandler: answerClientError,
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) =>
      answerFrameworkError(error, request, reply, routerRefusalCorsHeaders(config.corsOrigins, request.headers.origin)),
  });
}

export interface ConfigureOptions {
  /** Serve Swagger UI at /docs and the OpenAPI document at /docs-json. */
  swagger: boolean;
}

/** Everything an application needs beyond its module: used by every main.ts and by the end-to-end tests. */
export function configureApp(app: NestFastifyApplication, options: ConfigureOptions): void {
  const config = app.get<AppConfig>(APP_CONFIG);
  const fastify = app.getHttpAdapter().getInstance();
  app.getHttpServer().maxConnections = config.http.maxConnections;
  registerRequestContext(fastify);
  // CORS_ORIGINS: preflights answered here, before the limits and the token check; CORS headers set before any refusal.
  registerCors(fastify, config.corsOrigins);
  // The first onRequest hook after the request context: a flood from one address is refused before anything else, body checks included.
  registerIpRateLimit(fastify, app.get(RateLimiter, { strict: false }));
  registerJsonBodyParser(fastify, {
    bodyLimit: config.bodyLimitBytes,
    bytesInFlightPerClient: config.http.bodyBytesInFlightPerClient,
    ipv6Prefix: config.rateLimit.ipv6Prefix,
    rules: optional<JsonBodyRules>(app, JSON_BODY_RULES) ?? GENERIC_JSON_BODY_RULES,
  });
  // After the content-type check, before the body is read: a request without a valid token never has its body read.
  const authenticator = optional<RequestAuthenticator>(app, REQUEST_AUTHENTICATOR);
  if (authenticator !== undefined) registerEarlyAuthentication(fastify, authenticator);
  // On the players' port only when the operator says so; the operations listener serves them anyway (createOpsApp).
  if (options.swagger && config.swaggerEnabled && config.docsPublic) setupSwagger(app);
}

/** A provider some applications have (the gateway's authenticator, its body rules), or undefined. */
export function optional<T>(app: INestApplication, token: symbol | (abstract new (...args: never[]) => T)): T | undefined {
  try {
    return app.get<T>(token, { strict: false });
  } catch {
    return undefined;
  }
}

/**
 * What the OpenAPI document says of the API beyond its controllers' decorators, provided under API_DOCUMENT by the
 * module that serves the API (IngestModule), with `useValue`, which an app created with `preview: true` holds too.
 */
export interface ApiDocument {
  title: string;
  description: string;
  version: string;
  /** The operation Swagger UI shows open on arrival: the one a newcomer comes to try. */
  openOnArrival?: { path: string; method: 'get' | 'put' | 'post' | 'delete' | 'patch' };
  /** Classes to describe in components.schemas besides those the routes reach; getSchemaPath() names them. */
  extraModels?(): Type<unknown>[];
  /** Changes the document once built: what is known only then. */
  amend?(document: OpenAPIObject): void;
}

export const API_DOCUMENT = Symbol('API_DOCUMENT');

/**
 * The OpenAPI document, built from the controllers' metadata and the application's API_DOCUMENT: the running service
 * serves it (setupSwagger) and `npm run openapi` writes it to openapi.json from an app created with `preview: true`,
 * so there is one builder.
 */
export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const api = apiDocumentOf(app);
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle(api.title)
      .setDescription(api.description)
      .setVersion(api.version)
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
      .build(),
    { extraModels: api.extraModels?.() ?? [] },
  );
  api.amend?.(document);
  return document;
}

function apiDocumentOf(app: INestApplication): ApiDocument {
  return optional<ApiDocument>(app, API_DOCUMENT) ?? { title: 'API', description: '', version: '1.0' };
}

/** Swagger UI at /docs and the document at /docs-json on `app`, describing `described` (by default `app` itself). */
export function setupSwagger(app: NestFastifyApplication, described: INestApplication = app): void {
  // Swagger UI and the document are read by people without a token: public, like a route marked @Public().
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRoute', (route) => {
      if (route.url === '/docs' || route.url.startsWith('/docs/') || route.url.startsWith('/docs-')) {
        route.config = { ...route.config, playsmartPublic: true };
      }
    });
  const document = buildOpenApiDocument(described);
  const options = swaggerUiOptions(document, apiDocumentOf(described).openOnArrival);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json', ...options });
}

/**
 * Swagger UI's options: tags expanded, and the operation `openOnArrival` open, its parameters, body and responses in view without a
 * click. Swagger UI has no option for that: once it has started, a script marks the operation shown in its store, as
 * a click on it does, unless the address names an operation already (a deep link, which Swagger UI opens itself).
 * The action goes to the store directly: the `layoutActions.show` a click calls would also push the operation's
 * deep link onto the history, so that Back would first lead back to /docs. A document without that operation opens
 * none.
 */
export function swaggerUiOptions(
  document: OpenAPIObject,
  openOnArrival: ApiDocument['openOnArrival'],
): Pick<SwaggerCustomOptions, 'swaggerOptions' | 'customJsStr'> {
  const swaggerOptions = { docExpansion: 'list', displayRequestDuration: true };
  const operation = openOnArrival === undefined ? undefined : document.paths[openOnArrival.path]?.[openOnArrival.method];
  if (operation?.operationId === undefined) return { swaggerOptions };
  // Swagger UI's key of an operation's "shown" flag: its first tag ("default" without one) and its operationId.
  const key = JSON.stringify(['operations', operation.tags?.[0] ?? 'default', operation.operationId]);
  const customJsStr =
    "window.addEventListener('load', function () {\n" +
    "  if (window.location.hash !== '' || window.ui === undefined) return;\n" +
    `  window.ui.getStore().dispatch({ type: 'layout_show', payload: { thing: ${key}, shown: true } });\n` +
    '});';
  return { swaggerOptions, customJsStr };
}

/**
 * Validates the environment first, so that a bad variable stops start-up with a message naming it. `roleDefaults`:
 * see configFromProcessEnv.
 */
export function loadConfigOrExit(roleDefaults?: Readonly<Record<string, string>>): AppConfig {
  try {
    return configFromProcessEnv(roleDefaults);
  } catch (error) {
    if (error instanceof ConfigValidationError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}
