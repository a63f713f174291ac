// The load generator: a child process of the benchmark, so that autocannon never shares an event loop with the
// service it measures nor with the benchmark's own sampling. It builds the pool of users, tokens and bodies once,
// then runs whatever load the parent asks for and sends back a summary.
import autocannon from 'autocannon';
import { EVENTS_PER_BATCH, makeBatches, makeTokens } from './fixtures';
import type { LoadChildMessage, LoadParentMessage, LoadResult, LoadRun } from './load-protocol';

interface Prepared {
  bodies: Buffer[];
  authorizations: string[];
  eventsPerBatch: number;
}

let pool: Prepared | undefined;
// Rotates over the whole pool across every connection, so that consecutive requests come from different players.
let next = 0;

function send(message: LoadChildMessage): void {
  process.send?.(message);
}

function run(spec: LoadRun): Promise<LoadResult> {
  const prepared = pool;
  if (prepared === undefined) return Promise.reject(new Error('the pool is not built yet'));
  return new Promise((resolve, reject) => {
    autocannon(
      {
        url: spec.url,
        connections: spec.connections,
        duration: spec.durationSeconds,
        overallRate: spec.overallRate,
        timeout: 30,
        requests: [
          {
            method: 'POST',
            path: '/ingest/events',
            setupRequest: (request) => {
              const i = next++ % prepared.bodies.length;
              request.headers = { 'content-type': 'application/json', authorization: prepared.authorizations[i] };
              request.body = prepared.bodies[i];
              return request;
            },
          },
        ],
      },
      (error, result) => {
        if (error !== null) {
          reject(error);
          return;
        }
        const statusCodes: Record<string, number> = {};
        for (const [code, { count }] of Object.entries(result.statusCodeStats)) statusCodes[code] = count;
        if (result.errors > 0) statusCodes.errors = result.errors;
        if (result.timeouts > 0) statusCodes.timeouts = result.timeouts;
        const seconds = result.duration;
        resolve({
          connections: spec.connections,
          overallRate: spec.overallRate,
          durationSeconds: seconds,
          requests: result.requests.total,
          accepted: result['2xx'],
          requestsPerSecond: result.requests.total / seconds,
          eventsPerSecond: (result['2xx'] * prepared.eventsPerBatch) / seconds,
          latencyMs: {
            p50: result.latency.p50,
            p90: result.latency.p90,
            p99: result.latency.p99,
            max: result.latency.max,
            mean: result.latency.mean,
          },
          statusCodes,
        });
      },
    );
  });
}

process.on('message', (message: LoadParentMessage) => {
  switch (message.type) {
    case 'init': {
      const eventsPerBatch = message.eventsPerBatch ?? EVENTS_PER_BATCH;
      const batches = makeBatches({ users: message.users, seed: message.seed, now: message.now, eventsPerBatch });
      const tokens = makeTokens(
        batches.map((batch) => batch.user_id),
        message.secret,
      );
      pool = {
        bodies: batches.map((batch) => Buffer.from(JSON.stringify(batch))),
        authorizations: tokens.map((token) => `Bearer ${token}`),
        eventsPerBatch,
      };
      const bytes = pool.bodies.reduce((sum, body) => sum + body.length, 0);
      send({ type: 'ready', averageBodyBytes: Math.round(bytes / pool.bodies.length) });
      break;
    }
    case 'run':
      run(message.run).then(
        (result) => send({ type: 'result', id: message.id, result }),
        (error: Error) => send({ type: 'error', id: message.id, message: error.message }),
      );
      break;
    case 'exit':
      process.exit(0);
  }
});
