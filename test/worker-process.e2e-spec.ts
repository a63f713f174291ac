import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { startService } from './support/processes';
import { createTestDatabase, deletePrefix, eventually, REDIS_URL } from './support/test-app';

// A worker process on its own takes WORKER_CONCURRENCY=64 jobs at a time unless told otherwise (its write groups need
// them to form); the all-in-one, whose worker shares the cores with HTTP, takes 16 on its writer thread and 4 when its
// worker shares the event loop too.

describe('WORKER_CONCURRENCY by role', { timeout: 60_000 }, () => {
  let database: { url: string; drop: () => Promise<void> };
  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    await database.drop();
  });

  const concurrencyOf = async (role: 'worker' | 'all-in-one', extra: Record<string, string> = {}): Promise<string> => {
    const prefix = `role-${randomUUID().slice(0, 8)}`;
    const service = await startService(role, {
      DATABASE_URL: database.url,
      REDIS_URL,
      QUEUE_PREFIX: prefix,
      LOG_LEVEL: 'log',
      ...extra,
    });
    try {
      return await eventually(() => Promise.resolve(/writing batches, (\d+) at a time/.exec(service.logs)?.[1]), 15_000);
    } finally {
      // Gracefully, so that nothing it sent reaches Redis after its keys are deleted.
      await service.terminate();
      const redis = new Redis(REDIS_URL);
      await deletePrefix(redis, prefix);
      redis.disconnect();
    }
  };

  it('a worker process takes 64 jobs at a time by default, and WORKER_CONCURRENCY when set', async () => {
    assert.equal(await concurrencyOf('worker'), '64');
    assert.equal(await concurrencyOf('worker', { WORKER_CONCURRENCY: '8' }), '8');
  });

  it('the all-in-one takes 16 on its writer thread, 4 on its main thread', async () => {
    assert.equal(await concurrencyOf('all-in-one'), '16');
    assert.equal(await concurrencyOf('all-in-one', { WRITER_THREAD: 'false' }), '4');
  });
});
