import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, Server, Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Queue, Worker } from 'bullmq';
import type { LightMyRequestResponse } from 'fastify';
import { INGEST_QUEUE } from '#contract';
import { workerRedisOptions } from '#platform';
import { ReceiptRetention } from '#worker';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { WorkerModule } from '../apps/worker/src/worker.module';
import { bootTestApp, deletePrefix, eventually, exampleBatch, postEvents, REDIS_URL, TestApp, tokenFor } from './support/test-app';

interface Receipt {
  batch_id: string;
  status: 'queued' | 'written' | 'failed';
  accepted: number;
  written_at?: string;
}

const NOT_FOUND = { error: { code: 'NOT_FOUND', message: 'batch_not_found' } };

function getReceipt(t: TestApp, batchId: string, token?: string): Promise<LightMyRequestResponse> {
  return t.inject({
    method: 'GET',
    url: `/ingest/batches/${batchId}`,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

/** Sends a batch as `user` and returns its batch_id. */
async function send(t: TestApp, user: string, body: unknown = exampleBatch(user)): Promise<string> {
  const response = await postEvents(t, body, tokenFor(user));
  assert.equal(response.statusCode, 202, response.body);
  return response.json<{ batch_id: string }>().batch_id;
}

/** Polls the receipt until it has `status`. */
function receiptWith(t: TestApp, batchId: string, user: string, status: Receipt['status']): Promise<Receipt> {
  return eventually(async () => {
    const response = await getReceipt(t, batchId, tokenFor(user));
    assert.equal(response.statusCode, 200, response.body);
    const receipt = response.json<Receipt>();
    return receipt.status === status ? receipt : undefined;
    // A bound, not a speed: a worker booting on a busy machine takes seconds before its first write.
  }, 15_000);
}

/** Listens on `port` and pipes every connection to the local PostgreSQL: the database "comes back" on that port. */
async function forwardToPostgres(port: number): Promise<() => Promise<void>> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = new Socket();
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.once('close', () => sockets.delete(socket));
    }
    upstream.connect(5432, '127.0.0.1');
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function assertNotFound(response: LightMyRequestResponse): void {
  assert.equal(response.statusCode, 404, response.body);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  assert.deepEqual(response.json(), NOT_FOUND);
}

describe('GET /ingest/batches/:batch_id', () => {
  let t: TestApp;
  before(async () => {
    // The writer on the main thread, where the test can call its receipt retention sweep.
    t = await bootTestApp({ env: { WRITER_THREAD: 'false' } });
  });
  after(async () => {
    await t.close();
  });

  describe('in the all-in-one service', () => {
    it('reads queued or written right after the 202, then written with written_at and accepted', async () => {
      const user = `receipt-${randomUUID()}`;
      const sentAt = Date.now();
      const batchId = await send(t, user);

      const first = await getReceipt(t, batchId, tokenFor(user));
      assert.equal(first.statusCode, 200, first.body);
      const early = first.json<Receipt>();
      assert.ok(early.status === 'queued' || early.status === 'written', `status ${early.status}`);
      assert.equal(early.batch_id, batchId);
      assert.equal(early.accepted, 3);

      const written = await receiptWith(t, batchId, user, 'written');
      assert.deepEqual(Object.keys(written).sort(), ['accepted', 'batch_id', 'status', 'written_at']);
      assert.equal(written.batch_id, batchId);
      assert.equal(written.accepted, 3);
      const writtenAt = Date.parse(written.written_at ?? '');
      assert.ok(writtenAt >= sentAt - 1000 && writtenAt <= Date.now() + 1000, `written_at ${written.written_at}`);

      // The receipt and the events were written by one statement: they carry the same instant.
      const { rows } = await t.db.query<{ written_at: Date }>('SELECT DISTINCT written_at FROM events WHERE batch_id = $1', [batchId]);
      assert.deepEqual(
        rows.map((r) => r.written_at.toISOString()),
        [written.written_at],
      );
    });

    it('answers 404 for another player’s batch exactly as for an unknown one', async () => {
      const owner = `owner-${randomUUID()}`;
      const batchId = await send(t, owner);
      await receiptWith(t, batchId, owner, 'written');

      assertNotFound(await getReceipt(t, batchId, tokenFor(`intruder-${randomUUID()}`)));
      assertNotFound(await getReceipt(t, randomUUID(), tokenFor(owner)));
    });

    it('refuses a batch_id that is not a UUID with 400 naming batch_id, and reads one in upper case', async () => {
      const user = `format-${randomUUID()}`;
      for (const id of ['not-a-uuid', '42', `${randomUUID()}0`, randomUUID().replace(/-/g, ''), 'g1c0b7e-3b9e-4a8e-9d6a-2f0c8f1e5a42']) {
        const response = await getReceipt(t, encodeURIComponent(id), tokenFor(user));
        assert.equal(response.statusCode, 400, `${id}: ${response.body}`);
        assert.deepEqual(response.json(), {
          error: { code: 'BAD_REQUEST', message: 'invalid_payload', details: [{ field: 'batch_id', message: 'batch_id must be a UUID' }] },
        });
      }
      const batchId = await send(t, user);
      const upper = await getReceipt(t, batchId.toUpperCase(), tokenFor(user));
      assert.equal(upper.statusCode, 200, upper.body);
      assert.equal(upper.json<Receipt>().batch_id, batchId);
    });

    it('requires the bearer token before anything else', async () => {
      const user = `auth-${randomUUID()}`;
      const batchId = await send(t, user);
      for (const id of [batchId, 'not-a-uuid']) {
        const response = await getReceipt(t, id);
        assert.equal(response.statusCode, 401);
        assert.deepEqual(response.json(), { error: { code: 'UNAUTHORIZED', message: 'missing_token' } });
      }
      const expired = await getReceipt(t, batchId, tokenFor(user, { expiresIn: -60 }));
      assert.deepEqual(expired.json(), { error: { code: 'UNAUTHORIZED', message: 'token_expired' } });
    });

    it('gives a retried batch whose events were all stored already its own written receipt', async () => {
      const user = `dup-${randomUUID()}`;
      const batch = {
        user_id: user,
        game_id: 'com.example.game',
        events: [randomUUID(), randomUUID()].map((event_id) => ({ event_id, type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' })),
      };
      const first = await send(t, user, batch);
      await receiptWith(t, first, user, 'written');
      const retry = await send(t, user, batch);
      assert.notEqual(retry, first);

      const receipt = await receiptWith(t, retry, user, 'written');
      assert.equal(receipt.accepted, 2);
      assert.ok(receipt.written_at !== undefined);
      const { rows } = await t.db.query<{ count: string }>('SELECT count(*) FROM events WHERE user_id = $1', [user]);
      assert.equal(rows[0].count, '2', 'the retry stored no event');
      assert.equal((await getReceipt(t, first, tokenFor(user))).json<Receipt>().status, 'written');
    });

    it('keeps receipts for RECEIPT_RETENTION_SECONDS (7 days by default) and the sweep deletes older ones', async () => {
      assert.equal(t.config.receipts.retentionSeconds, 604_800);
      const user = `retention-${randomUUID()}`;
      const expired = await send(t, user);
      const kept = await send(t, user);
      await receiptWith(t, expired, user, 'written');
      await receiptWith(t, kept, user, 'written');
      await t.db.query(`UPDATE batches SET written_at = now() - interval '7 days 1 minute' WHERE batch_id = $1`, [expired]);
      await t.db.query(`UPDATE batches SET written_at = now() - interval '6 days 23 hours' WHERE batch_id = $1`, [kept]);

      assert.equal(await t.app.get(ReceiptRetention).sweep(), 1);

      assertNotFound(await getReceipt(t, expired, tokenFor(user)));
      const still = await getReceipt(t, kept, tokenFor(user));
      assert.equal(still.statusCode, 200);
      assert.equal(still.json<Receipt>().status, 'written');
      const { rows } = await t.db.query<{ count: string }>('SELECT count(*) FROM events WHERE user_id = $1', [user]);
      assert.equal(rows[0].count, '6', 'the sweep deletes receipts, never events');
    });

    it('is documented in OpenAPI with bearer auth and examples', async () => {
      const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<{
        paths: Record<
          string,
          Record<
            string,
            {
              security: unknown[];
              parameters: Array<{ name: string; in: string }>;
              responses: Record<string, { content?: Record<string, { example?: unknown; examples?: Record<string, unknown> }> }>;
            }
          >
        >;
      }>();
      const operation = doc.paths['/ingest/batches/{batch_id}']?.get;
      assert.ok(operation, 'GET /ingest/batches/{batch_id} is documented');
      assert.ok(operation.security.length > 0);
      assert.deepEqual(
        operation.parameters.map((p) => [p.name, p.in]),
        [['batch_id', 'path']],
      );
      assert.deepEqual(Object.keys(operation.responses['200']?.content?.['application/json']?.examples ?? {}).sort(), [
        'failed',
        'queued',
        'written',
      ]);
      // An error status has one example per reason (test/openapi.e2e-spec.ts checks them).
      for (const status of ['400', '401', '404']) {
        const examples = operation.responses[status]?.content?.['application/json']?.examples ?? {};
        assert.ok(Object.keys(examples).length > 0, `response ${status} has examples`);
      }
    });
  });

  describe('in a gateway process', () => {
    it('reads queued, then failed once the attempts are spent, then written once an operator retries it', async () => {
      const prefix = `test-${randomUUID().slice(0, 8)}`;
      const shared = { databaseUrl: t.databaseUrl, prefix };
      // Nothing processes this prefix until the test says so: the batch stays queued.
      const gateway = await bootTestApp({ rootModule: GatewayModule, env: { JOB_ATTEMPTS: '1' }, shared });
      const connection = workerRedisOptions(REDIS_URL);
      let worker: TestApp | undefined;
      try {
        const user = `failing-${randomUUID()}`;
        const batchId = await send(gateway, user);
        const queued = await getReceipt(gateway, batchId, tokenFor(user));
        assert.equal(queued.statusCode, 200);
        assert.deepEqual(queued.json(), { batch_id: batchId, status: 'queued', accepted: 3 });
        assertNotFound(await getReceipt(gateway, batchId, tokenFor(`intruder-${randomUUID()}`)));
        assertNotFound(await getReceipt(gateway, randomUUID(), tokenFor(user)));

        // A worker whose every write fails: with JOB_ATTEMPTS=1 the first failure is final.
        const failing = new Worker(INGEST_QUEUE, () => Promise.reject(new Error('simulated write failure')), { connection, prefix });
        try {
          const failed = await receiptWith(gateway, batchId, user, 'failed');
          assert.deepEqual(failed, { batch_id: batchId, status: 'failed', accepted: 3 });
        } finally {
          await failing.close();
        }
        assertNotFound(await getReceipt(gateway, batchId, tokenFor(`intruder-${randomUUID()}`)));

        const queue = new Queue(INGEST_QUEUE, { connection, prefix });
        try {
          await queue.retryJobs({ state: 'failed' });
        } finally {
          await queue.close();
        }
        worker = await bootTestApp({ rootModule: WorkerModule, shared });
        const written = await receiptWith(gateway, batchId, user, 'written');
        assert.equal(written.accepted, 3);
        assert.ok(written.written_at !== undefined);
      } finally {
        await deletePrefix(gateway.redis, prefix);
        await worker?.close();
        await gateway.close();
      }
    });

    it('keeps accepting and answering from Redis while PostgreSQL is unreachable; receipts it cannot read are 503', async () => {
      const prefix = `test-${randomUUID().slice(0, 8)}`;
      const gateway = await bootTestApp({
        rootModule: GatewayModule,
        shared: { databaseUrl: 'postgres://nobody@127.0.0.1:1/none', prefix },
      });
      try {
        const ready = await gateway.inject({ method: 'GET', url: '/health/ready' });
        assert.equal(ready.statusCode, 200);
        assert.deepEqual({ ...ready.json<object>(), redis: undefined }, { status: 'ok', checks: { redis: 'up' }, redis: undefined });

        const user = `pg-down-${randomUUID()}`;
        const batchId = await send(gateway, user);
        const queued = await getReceipt(gateway, batchId, tokenFor(user));
        assert.equal(queued.statusCode, 200);
        assert.deepEqual(queued.json(), { batch_id: batchId, status: 'queued', accepted: 3 });

        const unknown = await getReceipt(gateway, randomUUID(), tokenFor(user));
        assert.equal(unknown.statusCode, 503, unknown.body);
        assert.deepEqual(unknown.json(), { error: { code: 'SERVICE_UNAVAILABLE', message: 'database_unavailable' } });
        assert.ok(Number(unknown.headers['retry-after']) > 0);
        assert.equal((await postEvents(gateway, exampleBatch(user), tokenFor(user))).statusCode, 202);
      } finally {
        await deletePrefix(gateway.redis, prefix);
        await gateway.close();
      }
    });

    it('reads receipts once PostgreSQL is back, without a restart', async () => {
      const port = await unusedPort();
      const prefix = `test-${randomUUID().slice(0, 8)}`;
      // The all-in-one service writes into the shared database; the gateway reaches it through `port`.
      const gateway = await bootTestApp({
        rootModule: GatewayModule,
        shared: { databaseUrl: t.databaseUrl.replace(':5432/', `:${port}/`), prefix },
      });
      let stopForwarding: (() => Promise<void>) | undefined;
      try {
        const user = `pg-back-${randomUUID()}`;
        const batchId = await send(t, user);
        const written = await receiptWith(t, batchId, user, 'written');
        assert.equal((await getReceipt(gateway, batchId, tokenFor(user))).statusCode, 503);

        stopForwarding = await forwardToPostgres(port);
        const response = await getReceipt(gateway, batchId, tokenFor(user));
        assert.equal(response.statusCode, 200, response.body);
        assert.deepEqual(response.json(), written);
        assertNotFound(await getReceipt(gateway, batchId, tokenFor(`intruder-${randomUUID()}`)));
      } finally {
        await deletePrefix(gateway.redis, prefix);
        await gateway.close();
        await stopForwarding?.();
      }
    });
  });
});
