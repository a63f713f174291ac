import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { ADMIN_LOGIN_FAILURES_PER_MINUTE } from '#pipeline';
import { GatewayModule } from '../apps/gateway/src/gateway.module';
import { WorkerModule } from '../apps/worker/src/worker.module';
import { bootTestApp, createTestDatabase, deletePrefix, TestApp } from './support/test-app';

const ADMIN = { ADMIN_USER: 'ops', ADMIN_PASSWORD: 'correct horse battery staple' };

const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
const AUTHORIZED = basic(ADMIN.ADMIN_USER, ADMIN.ADMIN_PASSWORD);

function assertChallenged(response: LightMyRequestResponse): void {
  assert.equal(response.statusCode, 401, response.body);
  assert.equal(response.headers['www-authenticate'], 'Basic realm="PlaySmart Ingest"');
  assert.deepEqual(response.json(), { error: { code: 'UNAUTHORIZED', message: 'admin_credentials_required' } });
}

describe('Bull Board without ADMIN_USER and ADMIN_PASSWORD', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('is not served at all: 404, credentials or not', async () => {
    for (const url of ['/admin/queues', '/admin/queues/', '/admin/queues/api/queues']) {
      for (const headers of [{}, AUTHORIZED]) {
        const response = await t.opsInject({ method: 'GET', url, headers });
        assert.equal(response.statusCode, 404, url);
        assert.equal(response.json<{ error: { code: string } }>().error.code, 'NOT_FOUND');
      }
    }
  });
});

describe('Bull Board with ADMIN_USER and ADMIN_PASSWORD (all-in-one)', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({ env: ADMIN });
  });
  after(async () => {
    await t.close();
  });

  it("is served on the operations listener only, never on the players' port", async () => {
    for (const url of ['/admin/queues', '/admin/queues/api/queues', '/metrics']) {
      const response = await t.inject({ method: 'GET', url, headers: AUTHORIZED });
      assert.equal(response.statusCode, 404, url);
    }
    assert.equal((await t.opsInject({ method: 'GET', url: '/admin/queues', headers: AUTHORIZED })).statusCode, 200);
  });

  it('asks for credentials on every board route: the page, its files and its API', async () => {
    for (const url of [
      '/admin/queues',
      '/admin/queues/queue/ingest-events',
      '/admin/queues/static/favicon-32x32.png',
      '/admin/queues/api/queues',
    ]) {
      assertChallenged(await t.opsInject({ method: 'GET', url }));
    }
    assertChallenged(await t.opsInject({ method: 'PUT', url: '/admin/queues/api/queues/ingest-events/retry/failed' }));
  });

  it('refuses wrong credentials and other schemes', async () => {
    const cases = [
      basic('ops', 'wrong password'),
      basic('someone', ADMIN.ADMIN_PASSWORD),
      basic('ops', `${ADMIN.ADMIN_PASSWORD} `),
      { authorization: `Bearer ${Buffer.from(`ops:${ADMIN.ADMIN_PASSWORD}`).toString('base64')}` },
      { authorization: 'Basic not-base64!' },
    ];
    // Each from an address of its own: ten failures from one address within a minute are throttled (below).
    for (const [index, headers] of cases.entries()) {
      const remoteAddress = `198.51.100.${index + 1}`;
      assertChallenged(await t.opsInject({ method: 'GET', url: '/admin/queues', headers, remoteAddress }));
      assertChallenged(await t.opsInject({ method: 'GET', url: '/admin/queues/api/queues', headers, remoteAddress }));
    }
  });

  it(`answers 429 with Retry-After after ${ADMIN_LOGIN_FAILURES_PER_MINUTE} failed logins from one client within a minute, whatever it sends next`, async () => {
    const remoteAddress = '2001:db8:77:1::1';
    const wrong = basic('ops', 'guess');
    for (let i = 0; i < ADMIN_LOGIN_FAILURES_PER_MINUTE; i++) {
      assertChallenged(await t.opsInject({ method: 'GET', url: '/admin/queues/api/queues', headers: wrong, remoteAddress }));
    }
    // The same client: another address of its /56, the right password included.
    for (const headers of [wrong, AUTHORIZED, {}]) {
      const refused = await t.opsInject({ method: 'GET', url: '/admin/queues/api/queues', headers, remoteAddress: '2001:db8:77:2::9' });
      assert.equal(refused.statusCode, 429, refused.body);
      assert.deepEqual(refused.json(), { error: { code: 'TOO_MANY_REQUESTS', message: 'too_many_failed_logins' } });
      const retryAfter = Number(refused.headers['retry-after']);
      assert.ok(retryAfter >= 55 && retryAfter <= 60, `Retry-After ${refused.headers['retry-after']}`);
      assert.equal(refused.headers['www-authenticate'], undefined);
      assert.ok(refused.headers['x-request-id']);
    }
    const elsewhere = await t.opsInject({
      method: 'GET',
      url: '/admin/queues/api/queues',
      headers: AUTHORIZED,
      remoteAddress: '2001:db8:77:100::1',
    });
    assert.equal(elsewhere.statusCode, 200, 'another client is not affected');
  });

  it('forgets the failures of a client that then logs in', async () => {
    const remoteAddress = '203.0.113.50';
    const wrong = basic('ops', 'typo');
    for (let i = 0; i < ADMIN_LOGIN_FAILURES_PER_MINUTE - 1; i++) {
      assertChallenged(await t.opsInject({ method: 'GET', url: '/admin/queues', headers: wrong, remoteAddress }));
    }
    assert.equal(
      (await t.opsInject({ method: 'GET', url: '/admin/queues/api/queues', headers: AUTHORIZED, remoteAddress })).statusCode,
      200,
    );
    assertChallenged(await t.opsInject({ method: 'GET', url: '/admin/queues', headers: wrong, remoteAddress }));
    assertChallenged(await t.opsInject({ method: 'GET', url: '/admin/queues', headers: wrong, remoteAddress }));
  });

  it('serves the board with the right credentials, and its API lists the ingest queue', async () => {
    const page = await t.opsInject({ method: 'GET', url: '/admin/queues', headers: AUTHORIZED });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /PlaySmart Ingest/);
    // The page loads its assets and API from under the base path.
    assert.match(page.body, /<base href="\/admin\/queues\/"/);
    const script = /<script defer src="(static\/js\/[^"]+)"/.exec(page.body)?.[1];
    assert.ok(script);
    assert.equal((await t.opsInject({ method: 'GET', url: `/admin/queues/${script}`, headers: AUTHORIZED })).statusCode, 200);

    const api = await t.opsInject({ method: 'GET', url: '/admin/queues/api/queues', headers: AUTHORIZED });
    assert.equal(api.statusCode, 200, api.body);
    const { queues } = api.json<{ queues: Array<{ name: string }> }>();
    assert.deepEqual(
      queues.map((q) => q.name),
      ['ingest-events'],
    );
  });

  it("takes the board's actions, which are PUTs without a body or a content type", async () => {
    const retry = await t.opsInject({ method: 'PUT', url: '/admin/queues/api/queues/ingest-events/retry/failed', headers: AUTHORIZED });
    assert.equal(retry.statusCode, 200, retry.body);
    // The API's own routes keep their rule: a POST without a content type is still a 415.
    const ingest = await t.inject({ method: 'POST', url: '/ingest/events', payload: '{}' });
    assert.equal(ingest.statusCode, 415);
  });

  it('is not part of the OpenAPI document', async () => {
    const doc = (await t.inject({ method: 'GET', url: '/docs-json' })).json<{ paths: Record<string, unknown> }>();
    assert.deepEqual(
      Object.keys(doc.paths).filter((path) => path.startsWith('/admin')),
      [],
    );
  });
});

describe('Bull Board in the split deployment', () => {
  it('is served by the worker app and not by the gateway, which faces the players', async () => {
    const database = await createTestDatabase();
    const prefix = `test-${randomUUID().slice(0, 8)}`;
    const worker = await bootTestApp({ rootModule: WorkerModule, env: ADMIN, shared: { databaseUrl: database.url, prefix } });
    const gateway = await bootTestApp({ rootModule: GatewayModule, env: ADMIN, shared: { databaseUrl: database.url, prefix } });
    try {
      assertChallenged(await worker.opsInject({ method: 'GET', url: '/admin/queues' }));
      const api = await worker.opsInject({ method: 'GET', url: '/admin/queues/api/queues', headers: AUTHORIZED });
      assert.equal(api.statusCode, 200);
      assert.deepEqual(
        api.json<{ queues: Array<{ name: string }> }>().queues.map((q) => q.name),
        ['ingest-events'],
      );
      assert.equal((await gateway.opsInject({ method: 'GET', url: '/admin/queues', headers: AUTHORIZED })).statusCode, 404);
    } finally {
      await deletePrefix(worker.redis, prefix);
      await gateway.close();
      await worker.close();
      await database.drop();
    }
  });
});
