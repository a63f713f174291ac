import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Pool } from 'pg';
import { freePort, PrivateRedis, ServiceProcess, startService } from './support/processes';
import { makeCertificates, tlsServerArgs } from './support/redis-topologies';
import { createTestDatabase, eventually, exampleBatch, TEST_SECRET, tokenFor } from './support/test-app';

// Redis is a trust boundary: whoever writes to it can plant jobs. The service connects with an ACL user and password,
// and over TLS with a CA of the operator's, and does not connect to a Redis it cannot authenticate.

async function accepts(service: ServiceProcess, db: Pool): Promise<void> {
  const response = await fetch(`${service.url}/ingest/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokenFor('device-abc-123')}` },
    body: JSON.stringify(exampleBatch()),
  });
  assert.equal(response.status, 202);
  const { batch_id: batchId } = (await response.json()) as { batch_id: string };
  await eventually(async () => {
    const { rows } = await db.query<{ count: string }>('SELECT count(*) FROM events WHERE batch_id = $1', [batchId]);
    return rows[0].count === '3' ? true : undefined;
  }, 10_000);
}

describe('Redis with an ACL user and over TLS', { timeout: 120_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let db: Pool;
  const certificates = mkdtempSync(join(tmpdir(), 'playsmart-tls-'));
  const env = (extra: Record<string, string>) => ({
    DATABASE_URL: database.url,
    JWT_SECRET: TEST_SECRET,
    QUEUE_PREFIX: `auth-${randomUUID().slice(0, 8)}`,
    ...extra,
  });

  before(async () => {
    database = await createTestDatabase();
    db = new Pool({ connectionString: database.url, max: 1 });
  });
  after(async () => {
    await db.end();
    await database.drop();
    rmSync(certificates, { recursive: true, force: true });
  });

  it('authenticates as an ACL user from REDIS_URL, and stays not ready with a wrong password', async () => {
    const redis = await PrivateRedis.start(undefined, [
      '--user',
      'default',
      'off',
      '--user',
      'ingest',
      'on',
      '>s3cret-pass',
      '~*',
      '&*',
      '+@all',
    ]);
    const good = await startService('all-in-one', env({ REDIS_URL: `redis://ingest:s3cret-pass@127.0.0.1:${redis.port}` }));
    const wrong = await startService('gateway', env({ REDIS_URL: `redis://ingest:wrong@127.0.0.1:${redis.port}` }));
    try {
      await accepts(good, db);
      assert.equal((await fetch(`${wrong.url}/health/ready`)).status, 503);
      assert.match(wrong.logs, /Redis 127\.0\.0\.1:\d+ unreachable, retrying with backoff: WRONGPASS/);
      assert.ok(!wrong.logs.includes('s3cret-pass') && !good.logs.includes('s3cret-pass'), 'the password is never logged');
    } finally {
      await Promise.all([good.stop(), wrong.stop()]);
      await redis.stop();
    }
  });

  it('connects over TLS (rediss:) verifying the server with REDIS_TLS_CA_FILE, and refuses a server it cannot verify', async () => {
    const tls = makeCertificates(certificates);
    const port = await freePort();
    // TLS only: the plain port is off.
    const redis = await PrivateRedis.start(port, tlsServerArgs(port, tls));
    const url = `rediss://127.0.0.1:${port}`;
    const verified = await startService('all-in-one', env({ REDIS_URL: url, REDIS_TLS_CA_FILE: tls.ca }));
    const unverified = await startService('gateway', env({ REDIS_URL: url }));
    try {
      await accepts(verified, db);
      assert.equal((await fetch(`${unverified.url}/health/ready`)).status, 503, 'a server signed by an unknown CA is not trusted');
      assert.match(unverified.logs, /Redis 127\.0\.0\.1:\d+ \(TLS\) unreachable, retrying with backoff: .*(certificate|self.signed)/i);
    } finally {
      await Promise.all([verified.stop(), unverified.stop()]);
      await redis.stop();
    }
  });
});
