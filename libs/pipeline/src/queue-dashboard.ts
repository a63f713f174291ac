import type { IServerAdapter } from '@bull-board/api/typings/app';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import {
  type AdminConfig,
  BASIC_AUTH_REALM,
  basicAuthVerifier,
  errorBody,
  LoginThrottle,
  normalizeAddress,
  type SecurityEventLog,
} from '#platform';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

export interface QueueDashboardOptions {
  credentials: AdminConfig;
  /** Failed logins and their throttling are logged here. */
  securityLog: SecurityEventLog;
  /** RATE_LIMIT_IPV6_PREFIX: failed logins are counted per IPv6 network, as the rate limit counts clients. */
  ipv6Prefix: number;
}

/** Failed logins a client may make within a minute; the next attempts get 429 until the oldest is a minute old. */
export const ADMIN_LOGIN_FAILURES_PER_MINUTE = 10;

/**
 * Serves Bull Board at /admin/queues behind HTTP Basic auth. It is a Fastify plugin of its own: the auth hook is added
 * to that plugin's scope, so it guards every route of the board (page, static files and the API that retries, cleans
 * and removes jobs) and nothing else. Nest's guards, pipes and Swagger never see these routes.
 *
 * A client is refused (429) for a while after ADMIN_LOGIN_FAILURES_PER_MINUTE failed logins; refusals are logged.
 */
export async function registerQueueDashboard(
  fastify: FastifyInstance,
  /** `prefix`: put before the queue's name in the board (its shard), so that queues of one name stay apart. */
  queues: Array<{ queue: Queue; prefix?: string }>,
  { credentials, securityLog, ipv6Prefix }: QueueDashboardOptions,
): Promise<void> {
  // Loaded only where the board is served: it takes about a third of a second, which no other process should pay.
  const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/fastify'),
  ]);
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map(({ queue, prefix }) => new BullMQAdapter(queue, prefix === undefined ? {} : { prefix, delimiter: ':' })),
    // @bull-board/fastify declares its adapter against the copy of @bull-board/api it depends on (a patch release
    // apart); the interface is the same.
    serverAdapter: serverAdapter as unknown as IServerAdapter,
    options: { uiConfig: { boardTitle: 'PlaySmart Ingest' } },
  });
  const authorized = basicAuthVerifier(credentials);
  const unauthorized = JSON.stringify(errorBody(401, 'admin_credentials_required'));
  const throttled = JSON.stringify(errorBody(429, 'too_many_failed_logins'));
  const throttle = new LoginThrottle(ADMIN_LOGIN_FAILURES_PER_MINUTE);

  void fastify.register(async (scope) => {
    // The board's actions (retry, promote, clean) are PUTs without a body, which the JSON parser would refuse (415).
    // Its callers are operators with Basic credentials (checked below), not players with a bearer token.
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, playsmartBodyOptional: true, playsmartPublic: true };
    });
    scope.addHook('onRequest', (request, reply, done) => {
      const client = normalizeAddress(request.ip, ipv6Prefix);
      // Answered here, the request going no further.
      const refuse = (status: number, reason: string, body: string, headers: Record<string, string>) => {
        securityLog.record({
          status,
          reason,
          address: request.ip,
          method: request.method,
          route: request.routeOptions.url ?? '(unknown)',
          requestId: request.id,
        });
        void reply
          .code(status)
          .headers({ 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers })
          .send(body);
      };
      // Refused even with the right credentials: otherwise guessing could go on, only unanswered.
      const retryAfter = throttle.retryAfterSeconds(client);
      if (retryAfter > 0) {
        refuse(429, 'too_many_failed_logins', throttled, { 'retry-after': String(retryAfter) });
        return;
      }
      if (authorized(request.headers.authorization)) {
        throttle.succeeded(client);
        done();
        return;
      }
      // A request without credentials is a browser asking for the challenge, not a failed login.
      if (request.headers.authorization !== undefined) throttle.failed(client);
      const reason = request.headers.authorization === undefined ? 'admin_credentials_required' : 'admin_login_failed';
      refuse(401, reason, unauthorized, { 'www-authenticate': `Basic realm="${BASIC_AUTH_REALM}"` });
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
