import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bootTestApp, eventually, exampleBatch, postEvents, TestApp, tokenFor } from './support/test-app';

// Redis memory must not grow with every batch ever written: under noeviction a full Redis turns every request into a
// 503. Each written batch used to leave a released-marker for 7 days (136 B: about 12 million keys a week for one
// player at the request limit).

async function keysUnder(t: TestApp): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await t.redis.scan(cursor, 'MATCH', `${t.config.queue.prefix}:*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys.sort();
}

describe('Redis footprint of written batches', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp();
  });
  after(async () => {
    await t.close();
  });

  it('a drained service keeps no key per batch: 500 batches leave the keys one batch leaves', async (ctx) => {
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const body = { ...exampleBatch(), events: (exampleBatch().events as unknown[]).slice(0, 1) };
        assert.equal((await postEvents(t, body, tokenFor('device-abc-123'))).statusCode, 202);
      }
      await eventually(
        async () => ((await t.redis.get(`${t.config.queue.prefix}:ingest-events:buffered-events`)) === '0' ? true : undefined),
        30_000,
      );
    };
    await send(1);
    const afterOne = await keysUnder(t);
    const bytesAfterOne = await memoryOf(t, afterOne);
    await send(500);
    const afterMany = await keysUnder(t);
    assert.deepEqual(
      afterMany.filter((key) => !afterOne.includes(key)),
      [],
      'no key was added per batch',
    );
    assert.deepEqual(
      afterMany.filter((key) => /:(reserved|released):/.test(key)),
      [],
    );
    const grownBytes = (await memoryOf(t, afterMany)) - bytesAfterOne;
    ctx.diagnostic(
      `${afterMany.length} keys after 1 and after 501 batches; their memory grew by ${grownBytes} B (the event stream's entries)`,
    );
  });
});

/** MEMORY USAGE summed over `keys`. */
async function memoryOf(t: TestApp, keys: string[]): Promise<number> {
  let bytes = 0;
  for (const key of keys) bytes += Number((await t.redis.call('MEMORY', 'USAGE', key)) ?? 0);
  return bytes;
}
