import type { IServerAdapter } from '@bull-board/api/typings/app';
import type { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { AdminConfig } from '../config/app-config';
import { errorBody } from '../errors/api-error';
import { BASIC_AUTH_REALM, basicAuthVerifier } from './basic-auth';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * Serves Bull Board at /admin/queues behind HTTP Basic auth. It is a Fastify plugin of its own: the auth hook is added
 * to that plugin's scope, so it guards every route of the board (page, static files and the API that retries, cleans
 * and removes jobs) and nothing else. Nest's guards, pipes and Swagger never see these routes.
 */
export async function registerQueueDashboard(fastify: FastifyInstance, queues: Queue[], credentials: AdminConfig): Promise<void> {
  // Loaded only where the board is served: it takes about a third of a second, which no other process should pay.
  const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }] = await Promise.all([
    import('@bull-board/api'),
    import('@bull-board/api/bullMQAdapter'),
    import('@bull-board/fastify'),
  ]);
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue)),
    // @bull-board/fastify declares its adapter against the copy of @bull-board/api it depends on (a patch release
    // apart); the interface is the same.
    serverAdapter: serverAdapter as unknown as IServerAdapter,
    options: { uiConfig: { boardTitle: 'PlaySmart Ingest' } },
  });
  const authorized = basicAuthVerifier(credentials);
  const unauthorized = JSON.stringify(errorBody(401, 'admin_credentials_required'));

  void fastify.register(async (scope) => {
    // The board's actions (retry, promote, clean) are PUTs without a body, which the JSON parser would refuse (415).
    // Its callers are operators with Basic credentials (checked below), not players with a bearer token.
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, playsmartBodyOptional: true, playsmartPublic: true };
    });
    scope.addHook('onRequest', (request, reply, done) => {
      if (authorized(request.headers.authorization)) {
        done();
        return;
      }
      // Answered here: the request goes no further.
      void reply
        .code(401)
        .header('www-authenticate', `Basic realm="${BASIC_AUTH_REALM}"`)
        .header('content-type', 'application/json; charset=utf-8')
        .header('cache-control', 'no-store')
        .send(unauthorized);
    });
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_DASHBOARD_PATH });
  });
}
