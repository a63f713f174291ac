import { Logger } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Server } from 'node:http';
import { errorBody } from '../errors/api-error';
import { describeError } from '../logging/describe-error';

/**
 * SIGTERM and SIGINT: stop accepting connections, answer requests that still arrive on open connections with
 * 503, let the requests in flight finish, let the worker finish its active jobs (BatchWorker closes in
 * beforeApplicationShutdown), close the pools, and exit. A process that has not finished within
 * `timeoutMs` exits anyway: its unfinished jobs stay in Redis and another worker takes them up. The operations
 * listener (`ops`) keeps answering health checks and scrapes until the application has closed.
 */
export function installGracefulShutdown(app: NestFastifyApplication, timeoutMs: number, ops?: NestFastifyApplication): void {
  const logger = new Logger('Shutdown');
  let draining = false;
  const fastify = app.getHttpAdapter().getInstance();
  // Responses sent while draining close their connection, so that keep-alive clients reconnect elsewhere.
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) void reply.header('connection', 'close');
    done(null, payload);
  });
  fastify.addHook('onRequest', (_request, reply, done) => {
    if (!draining) {
      done();
      return;
    }
    void reply
      .code(503)
      .header('connection', 'close')
      .header('retry-after', '1')
      .header('content-type', 'application/json; charset=utf-8')
      .send(errorBody(503, 'shutting_down'));
  });

  const shutDown = async (signal: NodeJS.Signals): Promise<void> => {
    if (draining) return;
    draining = true;
    logger.log(`${signal}: draining (at most ${timeoutMs} ms)`);
    setTimeout(() => {
      logger.error(`still busy after ${timeoutMs} ms: exiting; unfinished jobs stay queued`);
      process.exit(1);
    }, timeoutMs).unref();
    const server: Server = app.getHttpServer();
    // close() stops accepting and resolves once the open connections have ended; idle keep-alive ones end now.
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await closed;
    await app.close();
    await ops?.close();
    logger.log('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, (received) => {
      shutDown(received).catch((error: unknown) => {
        logger.error(`shutdown failed: ${describeError(error)}`);
        process.exit(1);
      });
    });
  }
}
