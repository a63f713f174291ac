import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClientConfig } from './config.js';
import { accepted, defaultClientConfig as clientConfig, harness, settle, type Recorded, type Reply } from './testing/fakes.js';

const ok = (config: ClientConfig) => (): Reply => ({ status: 200, body: config, headers: { 'Cache-Control': 'private, max-age=300' } });

describe('createIngestClient: the client-config', () => {
  it('reads GET /ingest/client-config with the token, and drops at once what the server would refuse', async () => {
    const h = harness({ clientConfig: true, flushAt: 1000 });
    h.server.config = ok(clientConfig());
    await settle();
    assert.equal(h.server.requests[0].url, 'https://ingest.example.com/ingest/client-config');
    assert.equal(h.server.requests[0].headers.authorization, 'Bearer token-1');
    const refused = [
      h.client.track('LevelExploded'),
      h.client.track('Custom', { power_up: 'shield' }),
      h.client.track('Custom', {}, { customEventName: '1stPowerUp' }),
      h.client.track('Custom', {}, { customEventName: 'P'.repeat(65) }),
      h.client.track('LevelCompleted', {}, { customEventName: 'PowerUpUsed' }),
      h.client.track('AdImpression', { blob: 'x'.repeat(8200) }),
      h.client.track('AdImpression', { a: { b: { c: { d: { e: { f: 1 } } } } } }),
      h.client.track('AdImpression', Object.fromEntries(Array.from({ length: 101 }, (_, i) => [`k${i}`, i]))),
      h.client.track('AdImpression', { list: Array.from({ length: 101 }, (_, i) => i) }),
      h.client.track('AdImpression', JSON.parse('{"a":{"__proto__":{"x":1}}}') as Record<string, unknown>),
      h.client.track('AdImpression', { nested: [{ constructor: 1 }] }),
    ];
    const accepted = [
      h.client.track('Custom', { power_up: 'shield' }, { customEventName: 'PowerUpUsed' }),
      h.client.track('Custom', {}, { customEventName: 'Ébauche_2.0-b' }),
      h.client.track('AdImpression', { a: { b: { c: { d: { e: 1 } } } } }),
      h.client.track('AdImpression', { list: Array.from({ length: 100 }, (_, i) => i), blob: 'x'.repeat(7000) }),
    ];
    assert.deepEqual(
      refused.map((id) => h.drops.find((drop) => drop.ids[0] === id)?.reason),
      refused.map(() => 'invalid'),
    );
    assert.ok(h.drops.every((drop) => drop.reason === 'invalid' && Array.isArray(drop.details) && drop.details.length > 0));
    await h.client.flush();
    assert.deepEqual(h.server.sentIds, [accepted]);
  });

  it('never holds tracking up: before the configuration has come, events are queued as they are', async () => {
    const h = harness({ clientConfig: true, flushAt: 1000 });
    let answer: (reply: Reply) => void = () => {};
    h.server.config = () => new Promise<Reply>((resolve) => (answer = resolve));
    const early = h.client.track('LevelExploded');
    assert.equal(h.client.stats().queued, 1);
    await settle();
    answer(ok(clientConfig())());
    await settle();
    h.client.track('LevelExploded');
    assert.deepEqual(h.client.stats(), { queued: 1, sent: 0, retried: 0, dropped: { invalid: 1 } });
    await h.client.flush();
    assert.deepEqual(h.server.sentIds, [[early]], 'the server judges what was queued before');
  });

  it('takes flush_at, flush_interval_ms and max_batch_events from it, unless the options set them', async () => {
    const h = harness({ clientConfig: true });
    h.server.config = ok(clientConfig({ flush_at: 3, max_batch_events: 2, flush_interval_ms: 1000 }));
    await settle();
    for (let i = 0; i < 3; i++) h.client.track('LevelStarted');
    await settle();
    assert.deepEqual(
      h.server.posts.map((request) => request.body?.events.length),
      [2, 1],
    );
    h.client.track('LevelStarted');
    await h.clock.advance(1000);
    assert.equal(h.server.posts.length, 3);

    const own = harness({ clientConfig: true, flushAt: 5, maxBatchEvents: 150 });
    own.server.config = ok(clientConfig({ flush_at: 3, max_batch_events: 100 }));
    await settle();
    for (let i = 0; i < 4; i++) own.client.track('LevelStarted');
    await settle();
    assert.equal(own.server.posts.length, 0, 'the option flushAt wins');
    for (let i = 0; i < 300; i++) own.client.track('LevelStarted');
    await own.client.flush();
    assert.ok(
      own.server.posts.every((request) => (request.body?.events.length ?? 0) <= 100),
      'the smaller batch size wins',
    );
  });

  it('enabled false: keeps the queue and sends nothing until a later read says otherwise (5 minutes on)', async () => {
    const h = harness({ clientConfig: true, flushAt: 10 });
    let config = clientConfig({ enabled: false });
    h.server.config = () => ok(config)();
    await settle();
    for (let i = 0; i < 25; i++) h.client.track('AdImpression', { i });
    await h.client.flush();
    await h.clock.advance(4 * 60_000);
    assert.equal(h.server.posts.length, 0);
    assert.equal(h.client.stats().queued, 25);
    config = clientConfig();
    await h.clock.advance(60_000);
    assert.equal(h.server.requests.filter((request) => request.method === 'GET').length, 2);
    assert.equal(h.client.stats().queued, 0);
    assert.equal(h.client.stats().sent, 25);
  });

  it('is read at most every 5 minutes, whatever the answer', async () => {
    for (const reply of [ok(clientConfig()), (): Reply => ({ status: 503 }), (): Reply => ({ status: 200, body: { unexpected: true } })]) {
      const h = harness({ clientConfig: true, flushAt: 1 });
      h.server.config = reply;
      h.server.events = (request: Recorded) => accepted(request);
      for (let second = 0; second < 12 * 60; second += 10) {
        h.client.track('AdImpression');
        await h.clock.advance(10_000);
      }
      assert.deepEqual(
        h.server.requests.filter((request) => request.method === 'GET').map((request) => (request.at - h.server.requests[0].at) / 60_000),
        [0, 5, 10],
      );
    }
  });
});
