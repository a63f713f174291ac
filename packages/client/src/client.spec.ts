import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KEEPALIVE_EVENT_BYTES, SAVE_DELAY_MS } from './client.js';
import type { Lifecycle, LifecycleEvent, Storage, WireEvent } from './types.js';
import {
  accepted,
  failure,
  FakeClock,
  FakeServer,
  harness,
  InspectableStorage,
  seededRandom,
  settle,
  type Reply,
} from './testing/fakes.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('createIngestClient: batching', () => {
  it('sends once flushAt events are queued, not before, as the API takes them', async () => {
    const { client, server } = harness({ flushAt: 5 });
    const ids = [1, 2, 3, 4].map((level) => client.track('LevelCompleted', { level }));
    await settle();
    assert.equal(server.posts.length, 0);
    ids.push(client.track('Custom', { power_up: 'shield' }, { customEventName: 'PowerUpUsed' }));
    await settle();
    assert.equal(server.posts.length, 1);
    const [request] = server.posts;
    assert.equal(request.url, 'https://ingest.example.com/ingest/events');
    assert.equal(request.headers.authorization, 'Bearer token-1');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.equal(request.body?.user_id, 'device-abc-123');
    assert.equal(request.body?.game_id, 'com.example.stackblaster');
    assert.deepEqual(server.sentIds[0], ids);
    for (const id of ids) assert.match(id, UUID);
    assert.deepEqual(request.body?.events[4], {
      event_id: ids[4],
      type: 'Custom',
      timestamp: '2026-04-22T14:30:00.000Z',
      customEventName: 'PowerUpUsed',
      customdata: { power_up: 'shield' },
    });
    assert.equal(request.body?.sent_at, '2026-04-22T14:30:00.000Z', 'the time of the attempt');
  });

  it('sends flushIntervalMs after the oldest queued event', async () => {
    const { client, server, clock } = harness({ flushIntervalMs: 10_000 });
    client.track('LevelStarted');
    await clock.advance(4000);
    client.track('LevelFailed');
    await clock.advance(5999);
    assert.equal(server.posts.length, 0);
    await clock.advance(1);
    assert.equal(server.posts.length, 1);
    assert.equal(server.sentIds[0].length, 2);
    await clock.advance(60_000);
    assert.equal(server.posts.length, 1, 'nothing queued, nothing sent');
    assert.equal(clock.pending, 0, 'no timer while the queue is empty');
  });

  it('never puts more than 200 events in a request, and flush() sends everything', async () => {
    const { client, server } = harness({ flushAt: 1000 });
    for (let i = 0; i < 450; i++) client.track('AdImpression', { i });
    await client.flush();
    assert.deepEqual(
      server.posts.map((request) => request.body?.events.length),
      [200, 200, 50],
    );
    assert.equal(new Set(server.sentIds.flat()).size, 450);
    assert.deepEqual(client.stats(), { queued: 0, sent: 450, retried: 0, dropped: {} });
  });

  it('keeps the events array of a request within the byte budget', async () => {
    const { client, server } = harness({ flushAt: 1000, maxBatchBytes: 2000 });
    for (let i = 0; i < 40; i++) client.track('AdImpression', { ad_unit: 'é'.repeat(i * 3) });
    await client.flush();
    assert.ok(server.posts.length > 1);
    for (const request of server.posts) assert.ok(Buffer.byteLength(JSON.stringify(request.body?.events)) <= 2000);
    assert.equal(server.sentIds.flat().length, 40);
  });

  it('drops an event that could never fit a request as too_large', () => {
    const { client, drops } = harness({ maxBatchBytes: 500 });
    const id = client.track('AdImpression', { blob: 'x'.repeat(600) });
    assert.deepEqual(drops, [{ reason: 'too_large', ids: [id], details: drops[0]?.details }]);
    assert.equal(client.stats().queued, 0);
  });
});

describe('createIngestClient: saved before sent', () => {
  it('saves tracked events within SAVE_DELAY_MS, in one write, and leaves them unsent until flushAt or the interval', async () => {
    const { client, storage, server, clock } = harness({ flushAt: 50 });
    const ids = [client.track('SessionStarted'), client.track('LevelStarted')];
    await clock.advance(100);
    ids.push(client.track('LevelCompleted'));
    await clock.advance(SAVE_DELAY_MS - 101);
    assert.equal(storage.saves, 0, 'not one write a track');
    await clock.advance(1);
    assert.equal(storage.saves, 1);
    assert.deepEqual(await storage.ids(), ids);
    assert.equal(server.posts.length, 0);
  });

  it('saves tracked events before sending them (one write for the three) and removes them after a 202 only', async () => {
    const clock = new FakeClock();
    const server = new FakeServer(clock);
    const storage = new InspectableStorage();
    const savedAtSend: string[][] = [];
    let status = 503;
    server.events = async (request) => {
      savedAtSend.push(await storage.ids());
      return status === 202 ? accepted(request) : failure(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable');
    };
    const { client } = harness({ flushAt: 3 }, { clock, server, storage });
    const ids = [client.track('SessionStarted'), client.track('LevelStarted'), client.track('LevelCompleted')];
    await settle();
    assert.equal(storage.saves, 1, 'the three events of one tick make one write');
    assert.deepEqual(savedAtSend, [ids], 'in storage when the request went');
    assert.deepEqual(await storage.ids(), ids, 'kept after a 503');
    status = 202;
    await clock.advance(60_000);
    assert.equal(server.posts.length, 2);
    assert.deepEqual(await storage.ids(), [], 'removed after the 202');
  });

  it('resends the saved events with the same event_ids after a restart', async () => {
    const clock = new FakeClock();
    const storage = new InspectableStorage();
    const first = harness({ flushAt: 2 }, { clock, storage });
    first.server.events = () => failure(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable');
    const ids = [first.client.track('LevelStarted', { level: 1 }), first.client.track('LevelCompleted', { level: 1 })];
    await first.client.shutdown({ timeoutMs: 1000 });
    assert.deepEqual(await storage.ids(), ids);
    assert.equal(first.client.track('LevelStarted'), first.drops.at(-1)?.ids[0], 'after shutdown an event is dropped as closed');
    assert.equal(first.drops.at(-1)?.reason, 'closed');

    const second = harness({ flushAt: 50 }, { clock, storage });
    await settle();
    assert.deepEqual(second.server.sentIds, [ids], 'sent at start, without waiting for flushAt');
    assert.deepEqual(second.server.posts[0].body?.events[0].customdata, { level: 1 });
    await clock.advance(SAVE_DELAY_MS);
    assert.deepEqual(await storage.ids(), [], 'the removal saved');
  });

  it('merges every snapshot the storage holds by event_id, and reports one that is not a queue instead of failing', async () => {
    const event = (id: string) => ({ event_id: id, type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' });
    const snapshot = (...ids: string[]) =>
      JSON.stringify({ v: 1, user_id: 'device-abc-123', game_id: 'com.example.stackblaster', events: ids.map(event) });
    const storage = new InspectableStorage();
    const texts = [snapshot('a', 'b'), 'null', snapshot('b', 'c'), '{"events":[null,7]}', 'not json'];
    storage.loadAll = () => Promise.resolve(texts);
    const { client, server, errors, clock } = harness({}, { storage });
    await client.flush();
    assert.deepEqual(server.sentIds, [['a', 'b', 'c']]);
    assert.equal(errors.filter((error) => error.kind === 'storage').length, 2, "'null' and 'not json'; the object holds no event");
    await clock.advance(SAVE_DELAY_MS);
    assert.deepEqual(await storage.ids(), [], 'the merged queue, saved in place of what was read');
  });

  it('a restart waits out the Retry-After the client before it was given', async () => {
    const clock = new FakeClock();
    const storage = new InspectableStorage();
    const first = harness({ flushAt: 1, random: () => 0 }, { clock, storage });
    first.server.events = () => failure(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable', undefined, { 'Retry-After': '30' });
    const id = first.client.track('LevelStarted');
    await settle();
    await first.client.shutdown({ timeoutMs: 1000 });

    const second = harness({ random: () => 0 }, { clock, storage });
    await clock.advance(29_999);
    assert.equal(second.server.posts.length, 0);
    await clock.advance(1);
    assert.deepEqual(second.server.sentIds, [[id]]);
  });

  it('reports saved events of another player or game as identity_changed, and does not send them', async () => {
    const storage = new InspectableStorage();
    await storage.save(
      JSON.stringify({
        v: 1,
        user_id: 'someone-else',
        game_id: 'com.example.stackblaster',
        events: [{ event_id: 'a', type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z' }],
      }),
    );
    const { client, drops, server } = harness({}, { storage });
    await client.flush();
    assert.deepEqual(drops, [{ reason: 'identity_changed', ids: ['a'], details: undefined }]);
    assert.equal(server.posts.length, 0);
  });
});

describe('createIngestClient: answers', () => {
  it('400: drops exactly the events details name, reports them, and sends the rest with the same ids', async () => {
    const { client, server, drops } = harness({ flushAt: 5 });
    server.events = (request) =>
      server.posts.length === 1
        ? failure(400, 'BAD_REQUEST', 'invalid_payload', [
            { field: 'events[1].timestamp', message: 'must be RFC 3339' },
            { field: 'events[3].customdata["a.b"]', message: 'bad' },
            { field: 'events[3].customdata', message: 'too deep' },
          ])
        : accepted(request);
    const ids = [0, 1, 2, 3, 4].map((i) => client.track('LevelStarted', { i }));
    await client.flush();
    assert.deepEqual(
      drops.map(({ reason, ids }) => ({ reason, ids })),
      [{ reason: 'invalid', ids: [ids[1], ids[3]] }],
    );
    assert.equal((drops[0].details as unknown[]).length, 3);
    assert.deepEqual(server.sentIds, [ids, [ids[0], ids[2], ids[4]]]);
    assert.deepEqual(client.stats(), { queued: 0, sent: 3, retried: 0, dropped: { invalid: 2 } });
  });

  it('400 naming no event: keeps the events and stops sending', async () => {
    const { client, server, errors } = harness({ flushAt: 1 });
    server.events = () => failure(400, 'BAD_REQUEST', 'invalid_payload', [{ field: 'user_id', message: 'too long' }]);
    client.track('LevelStarted');
    await client.flush();
    await client.flush();
    assert.equal(server.posts.length, 1);
    assert.deepEqual(errors, [{ kind: 'rejected', code: 'invalid_payload', status: 400 }]);
    assert.equal(client.stats().queued, 1);
  });

  it('413: sends the batch again in halves until the server takes it; one event alone that is too large is dropped', async () => {
    const { client, server, drops } = harness({ flushAt: 100 });
    server.events = (request) => {
      const events = request.body?.events ?? [];
      if (events.some((event) => event.type === 'Purchase') || events.length > 2)
        return failure(413, 'PAYLOAD_TOO_LARGE', 'body_too_large: the limit is 10 bytes');
      return accepted(request);
    };
    const ids = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => client.track('LevelStarted', { i }));
    await client.flush();
    assert.deepEqual(
      server.posts.map((request) => request.body?.events.length),
      [8, 4, 2, 2, 2, 2],
    );
    assert.deepEqual(server.sentIds.slice(2).flat(), ids);
    const purchase = client.track('Purchase');
    await client.flush();
    assert.deepEqual(
      drops.map(({ reason, ids }) => ({ reason, ids })),
      [{ reason: 'too_large', ids: [purchase] }],
    );
    assert.equal(client.stats().retried, 0);
  });

  it('401 token_expired: one getToken for every request waiting, the same events again at once, not counted as a retry', async () => {
    const clock = new FakeClock();
    const server = new FakeServer(clock);
    const start = clock.now();
    // token-1 expires 6 minutes in; the request of events is held until the client-config check has begun.
    const expired = (authorization: string | undefined) => authorization === 'Bearer token-1' && clock.now() - start >= 6 * 60_000;
    let release = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    server.config = (request) => {
      if (expired(request.headers.authorization)) return failure(401, 'UNAUTHORIZED', 'token_expired');
      if (server.posts.length > 0) release();
      return { status: 404 };
    };
    server.events = async (request) => {
      await gate;
      return expired(request.headers.authorization) ? failure(401, 'UNAUTHORIZED', 'token_expired') : accepted(request);
    };
    const h = harness({ flushAt: 1, clientConfig: true, requestTimeoutMs: 10 * 60_000 }, { clock, server });
    await clock.advance(4 * 60_000);
    const first = h.client.track('LevelStarted'); // sent with token-1, and the request waits at the gate
    await clock.advance(2 * 60_000);
    const second = h.client.track('LevelCompleted'); // the client-config is 6 minutes old: read again, concurrently
    await Promise.all([h.client.flush(), h.client.flush(), h.client.flush()]);
    await settle();
    assert.equal(h.tokens, 2, 'getToken: once at first, once for the refresh both requests waited on');
    assert.deepEqual(
      server.requests.map((request) => `${request.method} ${request.headers.authorization}`),
      [
        'GET Bearer token-1',
        'POST Bearer token-1',
        'GET Bearer token-1',
        'GET Bearer token-2',
        'POST Bearer token-2',
        'POST Bearer token-2',
      ],
    );
    assert.deepEqual(server.sentIds, [[first], [first], [second]]);
    assert.equal(server.maxInFlight, 2, 'the client-config check alongside the one request of events');
    assert.deepEqual(h.client.stats(), { queued: 0, sent: 2, retried: 0, dropped: {} });
  });

  it('401 token_expired again with the new token: retried with backoff, with another token each time', async () => {
    const { client, server, clock } = harness({ flushAt: 1, random: () => 1 });
    server.events = () => failure(401, 'UNAUTHORIZED', 'token_expired');
    client.track('LevelStarted');
    await clock.advance(3500);
    assert.deepEqual(
      server.posts.map((request) => [request.at - server.posts[0].at, request.headers.authorization]),
      [
        [0, 'Bearer token-1'],
        [0, 'Bearer token-2'],
        [1000, 'Bearer token-3'],
        [3000, 'Bearer token-4'],
      ],
    );
    assert.equal(client.stats().retried, 3, 'the request at 3000 ms failed too');
  });

  for (const [status, message] of [
    [401, 'invalid_token'],
    [401, 'missing_token'],
    [403, 'user_id_mismatch'],
    [403, 'game_id_mismatch'],
  ] as const) {
    it(`${status} ${message}: keeps the events, stops sending, reports to onError (not onDrop) until resume()`, async () => {
      const { client, server, clock, errors, drops } = harness({ flushAt: 1 });
      let reply: Reply = failure(status, status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', message);
      server.events = (request) => (reply.status === 202 ? accepted(request) : reply);
      client.track('LevelStarted');
      await settle();
      client.track('LevelCompleted');
      await clock.advance(10 * 60_000);
      await client.flush();
      assert.equal(server.posts.length, 1);
      assert.deepEqual(errors, [{ kind: 'auth', code: message, status }]);
      assert.deepEqual(drops, []);
      assert.equal(client.stats().queued, 2);
      reply = { status: 202 };
      client.resume();
      await settle();
      assert.equal(server.posts.length, 2);
      assert.equal(client.stats().queued, 0);
    });
  }

  it('honours Retry-After: no request sooner', async () => {
    const { client, server, clock } = harness({ flushAt: 1, random: () => 0 });
    server.events = (request) =>
      server.posts.length === 1 ? failure(429, 'TOO_MANY_REQUESTS', 'rate_limited', undefined, { 'Retry-After': '30' }) : accepted(request);
    client.track('LevelStarted');
    await settle();
    for (let i = 0; i < 10; i++) client.track('LevelCompleted');
    await client.flush();
    await clock.advance(29_999);
    assert.equal(server.posts.length, 1);
    await clock.advance(1);
    assert.equal(server.posts.length, 2);
    assert.equal(server.posts[1].body?.events.length, 11);
    assert.equal(client.stats().retried, 1);
  });

  it('caps Retry-After at 5 minutes, and reads an HTTP date', async () => {
    const { client, server, clock } = harness({ flushAt: 1, random: () => 0 });
    let retryAfter = '86400';
    server.events = (request) =>
      server.posts.length <= 2
        ? failure(503, 'SERVICE_UNAVAILABLE', 'buffer_full', undefined, { 'Retry-After': retryAfter })
        : accepted(request);
    client.track('LevelStarted');
    await settle();
    retryAfter = new Date(clock.now() + 5 * 60_000 + 42_000).toUTCString();
    await clock.advance(5 * 60_000 - 1);
    assert.equal(server.posts.length, 1);
    await clock.advance(1);
    assert.equal(server.posts.length, 2);
    await clock.advance(41_999);
    assert.equal(server.posts.length, 2);
    await clock.advance(1);
    assert.equal(server.posts.length, 3);
  });

  it('pauses while RateLimit-Remaining is 0, until RateLimit-Reset', async () => {
    const { client, server, clock } = harness({ flushAt: 2 });
    server.events = (request) => ({
      ...accepted(request),
      headers: { 'RateLimit-Limit': '10', 'RateLimit-Remaining': '0', 'RateLimit-Reset': '20' },
    });
    client.track('LevelStarted');
    client.track('LevelCompleted');
    await settle();
    client.track('LevelStarted');
    client.track('LevelCompleted');
    await client.flush();
    await clock.advance(19_999);
    assert.equal(server.posts.length, 1, 'flushAt reached, flush() called: still waiting');
    await clock.advance(1);
    assert.equal(server.posts.length, 2);
    assert.equal(client.stats().retried, 0);
  });

  it('retries network errors and timeouts with jittered backoff, 1 s to 60 s', async () => {
    const delays: number[] = [];
    const { client, server, clock } = harness({
      flushAt: 1,
      random: () => 1,
      requestTimeoutMs: 5000,
      onBatch: (o) => o.retryInMs !== undefined && delays.push(o.retryInMs),
    });
    let calls = 0;
    server.events = () => {
      calls += 1;
      if (calls % 2 === 0) return new Promise<Reply>(() => undefined); // never answered
      throw new TypeError('fetch failed');
    };
    client.track('LevelStarted');
    await clock.advance(20 * 60_000);
    assert.deepEqual(delays.slice(0, 9), [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    const gaps = server.posts.slice(1).map((request, i) => request.at - server.posts[i].at);
    assert.deepEqual(
      gaps.slice(0, 8),
      [1000, 2000 + 5000, 4000, 8000 + 5000, 16_000, 32_000 + 5000, 60_000, 60_000 + 5000],
      'a timeout takes requestTimeoutMs',
    );
    assert.equal(client.stats().queued, 1);
  });

  it('408, 429, 500, 502, 503 and 504 are retried; 404 and 415 stop', async () => {
    for (const status of [408, 429, 500, 502, 503, 504]) {
      const { client, server, clock } = harness({ flushAt: 1 });
      server.events = (request) => (server.posts.length === 1 ? { status } : accepted(request));
      client.track('LevelStarted');
      await clock.advance(60_000);
      assert.deepEqual([status, client.stats().sent, client.stats().retried], [status, 1, 1]);
    }
    for (const status of [404, 415]) {
      const { client, server, clock, errors } = harness({ flushAt: 1 });
      server.events = () => ({ status });
      client.track('LevelStarted');
      await clock.advance(60_000);
      assert.deepEqual([server.posts.length, errors[0]?.kind], [1, 'rejected']);
    }
  });
});

describe('createIngestClient: bounds and guarantees', () => {
  it('drops the oldest events when the queue is full, by count and by bytes', async () => {
    const { client, drops, server } = harness({ flushAt: 1000, maxQueueEvents: 5 });
    const ids = [0, 1, 2, 3, 4, 5, 6].map((i) => client.track('LevelStarted', { i }));
    assert.deepEqual(drops, [
      { reason: 'queue_full', ids: [ids[0]], details: undefined },
      { reason: 'queue_full', ids: [ids[1]], details: undefined },
    ]);
    await client.flush();
    assert.deepEqual(server.sentIds, [ids.slice(2)]);
    assert.deepEqual(client.stats().dropped, { queue_full: 2 });

    const bytes = harness({ flushAt: 1000, maxQueueBytes: 1000 });
    const big = [0, 1, 2, 3].map(() => bytes.client.track('LevelStarted', { pad: 'x'.repeat(300) }));
    assert.deepEqual(bytes.drops.map((drop) => drop.ids).flat(), [big[0], big[1]], 'two events fit in 1000 bytes');
  });

  it('never has two requests of events in flight', async () => {
    const clock = new FakeClock();
    const server = new FakeServer(clock);
    server.events = async (request) => {
      await settle(1);
      return request.body!.events.length % 3 === 0 ? failure(503, 'SERVICE_UNAVAILABLE', 'buffer_full') : accepted(request);
    };
    const { client } = harness({ flushAt: 3, maxBatchEvents: 4 }, { clock, server });
    for (let round = 0; round < 30; round++) {
      for (let i = 0; i <= round % 7; i++) client.track('AdImpression', { round, i });
      void client.flush();
      await clock.advance(round * 300);
    }
    await clock.advance(10 * 60_000);
    await client.flush();
    assert.ok(server.posts.length > 30);
    assert.equal(server.maxInFlight, 1);
    assert.equal(client.stats().queued, 0);
  });

  it('track never throws: a storage that throws, customdata JSON cannot write, callbacks that throw', async () => {
    const broken: Storage = {
      load: () => {
        throw new Error('no disk');
      },
      save: () => Promise.reject(new Error('disk full')),
    };
    const errors: string[] = [];
    const { client, server } = harness(
      {
        flushAt: 3,
        onDrop: () => {
          throw new Error('game bug');
        },
        onError: (error) => errors.push(`${error.kind}: ${error.message}`),
      },
      { storage: broken as InspectableStorage },
    );
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const ids = [
      client.track('LevelStarted'),
      client.track('LevelCompleted', cyclic),
      client.track('AdImpression', { big: 10n }),
      client.track('Purchase', 'not an object' as unknown as Record<string, unknown>),
      client.track('Custom', { a: '\u0000' }, { customEventName: 'X' }),
      client.track('LevelFailed'),
      client.track('SessionEnded'),
    ];
    for (const id of ids) assert.match(id, UUID);
    await client.flush();
    assert.deepEqual(server.sentIds, [[ids[0], ids[5], ids[6]]], 'sent without storage');
    assert.deepEqual(client.stats().dropped, { invalid: 4 });
    assert.ok(errors.some((error) => error.startsWith('storage: load failed')));
    assert.ok(errors.some((error) => error.startsWith('storage: save failed')));
  });

  it('copies customdata when tracked: a later change of the caller’s object does not reach the server', async () => {
    const { client, server } = harness();
    const data = { level: 5 };
    client.track('LevelCompleted', data);
    data.level = 6;
    await client.flush();
    assert.deepEqual(server.posts[0].body?.events[0].customdata, { level: 5 });
  });

  it('counts queued, sent, retried and dropped events', async () => {
    const { client, server, clock } = harness({ flushAt: 1000, maxQueueEvents: 3 });
    server.events = (request) => (server.posts.length === 1 ? { status: 503 } : accepted(request));
    for (let i = 0; i < 4; i++) client.track('LevelStarted');
    client.track('X', 5 as unknown as Record<string, unknown>);
    assert.deepEqual(client.stats(), { queued: 3, sent: 0, retried: 0, dropped: { queue_full: 1, invalid: 1 } });
    await client.flush();
    assert.deepEqual(client.stats(), { queued: 3, sent: 0, retried: 1, dropped: { queue_full: 1, invalid: 1 } });
    await clock.advance(2000);
    assert.deepEqual(client.stats(), { queued: 0, sent: 3, retried: 1, dropped: { queue_full: 1, invalid: 1 } });
  });

  it('sends no sent_at with sendSentAt false', async () => {
    const { client, server } = harness({ flushAt: 1, sendSentAt: false });
    client.track('LevelStarted');
    await client.flush();
    assert.equal(server.posts.length, 1);
    assert.equal('sent_at' in (server.posts[0].body ?? {}), false);
  });

  it('sends sent_at with each attempt, and goes on without it when the server refuses it', async () => {
    const { client, server, clock, errors } = harness({ flushAt: 1 });
    server.events = (request) =>
      request.body?.sent_at !== undefined
        ? failure(400, 'BAD_REQUEST', 'invalid_payload', [{ field: 'sent_at', message: 'property sent_at should not exist' }])
        : accepted(request);
    await clock.advance(1234);
    client.track('LevelStarted');
    await client.flush();
    assert.equal(server.posts[0].body?.sent_at, '2026-04-22T14:30:01.234Z');
    assert.equal(server.posts[1].body?.sent_at, undefined);
    assert.equal(client.stats().sent, 1);
    assert.deepEqual(errors, [{ kind: 'rejected', code: 'invalid_payload', status: 400 }]);
  });

  it('makes few requests through a 10-minute outage (503 without Retry-After)', async (t) => {
    const counts: Record<string, number> = {};
    for (const [name, random] of [
      ['seeded', seededRandom(42)],
      ['random() always 1', () => 1],
      ['random() always 0', () => 0],
    ] as const) {
      const { client, server, clock } = harness({ flushAt: 10, random, clientConfig: true });
      server.events = () => failure(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable');
      server.config = () => failure(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable');
      // The game goes on: an event a second for the whole outage.
      for (let second = 0; second < 600; second++) {
        client.track('AdImpression', { second });
        await clock.advance(1000);
      }
      counts[name] = server.requests.length;
      const gaps = server.posts.slice(1).map((request, i) => request.at - server.posts[i].at);
      assert.ok(Math.min(...gaps) >= 1000, `${name}: never two requests within a second`);
      assert.ok(Math.max(...gaps) <= 60_000, `${name}: never more than a minute between tries`);
      t.diagnostic(`${name}: ${server.posts.length} POST + ${server.requests.length - server.posts.length} GET client-config in 10 min`);
    }
    assert.ok(counts.seeded <= 40, `seeded: ${counts.seeded} requests`);
    assert.ok(counts['random() always 1'] <= 20);
    assert.ok(counts['random() always 0'] <= 603, 'at most one a second however the jitter falls');
  });
});

describe('createIngestClient: the app going away, shutdown, compression', () => {
  function fakeLifecycle(): Lifecycle & { emit(event: LifecycleEvent): void } {
    let listener: ((event: LifecycleEvent) => void) | undefined;
    return {
      subscribe(callback) {
        listener = callback;
        return () => (listener = undefined);
      },
      emit: (event) => listener?.(event),
    };
  }

  it('on background: saves the newest events and sends with keepalive at once, within 60 KiB a request', async () => {
    const lifecycle = fakeLifecycle();
    const storage = new InspectableStorage();
    const saves: string[][] = [];
    // The page is going: no save ends, no answer comes.
    storage.save = (snapshot) => {
      saves.push((JSON.parse(snapshot) as { events: WireEvent[] }).events.map((event) => event.event_id));
      return new Promise<void>(() => undefined);
    };
    const { client, server, clock } = harness({ flushAt: 1000, lifecycle }, { storage });
    server.events = () => new Promise<Reply>(() => undefined);
    // 100 events of about 1 KiB: more than one keepalive request holds.
    const ids = Array.from({ length: 100 }, (_, i) => client.track('AdImpression', { i, pad: 'x'.repeat(1000) }));
    await clock.advance(SAVE_DELAY_MS);
    assert.equal(saves.length, 1, 'a save of the 100 is running');
    ids.push(client.track('SessionEnded'));
    lifecycle.emit('background');
    // Only microtasks: a closing page may run no other task after pagehide.
    for (let i = 0; i < 100; i++) await Promise.resolve();
    assert.deepEqual(saves[1], ids, 'a save of every event starts at once, beside the one still running');
    assert.equal(server.posts.length, 1, 'sent in the same task, though no save has finished');
    const [request] = server.posts;
    assert.equal(request.keepalive, true);
    assert.equal(request.headers['content-encoding'], undefined, 'not gzipped: CompressionStream needs tasks a closing page may not get');
    assert.ok(JSON.stringify(request.body?.events).length <= KEEPALIVE_EVENT_BYTES);
    assert.ok(request.bodyBytes < 64 * 1024, `${request.bodyBytes} bytes, within the browser's keepalive budget`);
    assert.deepEqual(server.sentIds[0], ids.slice(0, server.sentIds[0].length));
    assert.ok(server.sentIds[0].length < 100, 'what does not fit waits for the next start');
  });

  it('on background: a batch waiting for its save, or in flight without keepalive, goes again with keepalive', async () => {
    const lifecycle = fakeLifecycle();
    const storage = new InspectableStorage();
    let endSave: () => void = () => undefined;
    storage.save = () => new Promise<void>((resolve) => (endSave = resolve));
    const { client, server, clock } = harness({ flushAt: 2, lifecycle }, { storage });
    const replies: ((reply: Reply) => void)[] = [];
    server.events = () => new Promise<Reply>((resolve) => replies.push(resolve));
    const ids = [client.track('LevelStarted'), client.track('LevelCompleted')];
    await settle();
    assert.equal(server.posts.length, 0, 'the batch waits for its save');
    lifecycle.emit('background');
    await settle();
    assert.deepEqual(
      server.posts.map((request) => request.keepalive),
      [true],
      'taken again and sent with keepalive, without waiting for the save',
    );
    replies[0](accepted(server.posts[0]));
    endSave();
    await settle();
    lifecycle.emit('foreground');
    const more = [client.track('LevelStarted'), client.track('LevelFailed')];
    await clock.advance(SAVE_DELAY_MS);
    endSave();
    await settle();
    assert.equal(server.posts[1].keepalive, false, 'an ordinary request in flight…');
    lifecycle.emit('exit');
    await settle();
    assert.equal(server.posts[2].keepalive, true, '…abandoned when the page goes, and sent again with keepalive');
    assert.deepEqual(server.sentIds.slice(1), [more, more]);
    replies[2](accepted(server.posts[2]));
    await settle();
    assert.deepEqual(client.stats(), { queued: 0, sent: 4, retried: 0, dropped: {} });
    assert.deepEqual(server.sentIds[0], ids);
  });

  it('on background: an event too large for keepalive goes in an ordinary request, and is not dropped', async () => {
    const lifecycle = fakeLifecycle();
    const { client, server, drops } = harness({ flushAt: 1000, lifecycle });
    const id = client.track('Custom', { blob: 'x'.repeat(KEEPALIVE_EVENT_BYTES) }, { customEventName: 'Big' });
    lifecycle.emit('background');
    await settle();
    assert.deepEqual(drops, []);
    assert.deepEqual(server.sentIds, [[id]]);
    assert.equal(server.posts[0].keepalive, false);
  });

  it('back in the foreground: requests are ordinary again', async () => {
    const lifecycle = fakeLifecycle();
    const { client, server } = harness({ flushAt: 1000, lifecycle });
    client.track('LevelStarted');
    lifecycle.emit('exit');
    await settle();
    client.track('LevelCompleted');
    lifecycle.emit('foreground');
    await client.flush();
    assert.deepEqual(
      server.posts.map((request) => request.keepalive),
      [true, false],
    );
  });

  it('shutdown keeps retrying while a retry falls within its timeout, then saves what is left', async () => {
    const { client, server, clock, storage } = harness({ flushAt: 1000 });
    let answers = 0;
    server.events = (request) => (++answers <= 2 ? failure(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable') : accepted(request));
    const id = client.track('SessionEnded');
    let done = false;
    void client.shutdown({ timeoutMs: 10_000 }).then(() => (done = true));
    await clock.advance(9_999);
    assert.equal(done, true, 'done before its timeout');
    assert.equal(server.posts.length, 3);
    assert.deepEqual(client.stats(), { queued: 0, sent: 1, retried: 2, dropped: {} });
    assert.deepEqual(await storage.ids(), []);

    const second = harness({ flushAt: 1000 });
    second.server.events = () => failure(503, 'SERVICE_UNAVAILABLE', 'queue_unavailable', undefined, { 'Retry-After': '120' });
    const kept = second.client.track('SessionEnded');
    let stopped = false;
    void second.client.shutdown({ timeoutMs: 10_000 }).then(() => (stopped = true));
    await second.clock.advance(0);
    assert.equal(stopped, true, 'a retry past the timeout is not waited for');
    assert.equal(second.server.posts.length, 1);
    assert.deepEqual(await second.storage.ids(), [kept], 'kept for the next start');
    assert.notEqual(id, kept);
  });

  it('shutdown resolves within its timeout though getToken or the storage never answers', async () => {
    const clock = new FakeClock();
    const stuckToken = harness({ flushAt: 1000, getToken: () => new Promise<string>(() => undefined) }, { clock });
    stuckToken.client.track('SessionEnded');
    const stuckStorage = harness({ flushAt: 1000 }, { clock });
    stuckStorage.storage.save = () => new Promise<void>(() => undefined);
    stuckStorage.client.track('SessionEnded');
    const ended: string[] = [];
    void stuckToken.client.shutdown({ timeoutMs: 3000 }).then(() => ended.push('token'));
    void stuckStorage.client.shutdown({ timeoutMs: 3000 }).then(() => ended.push('storage'));
    await clock.advance(2999);
    assert.deepEqual(ended, []);
    await clock.advance(1);
    assert.deepEqual(ended.sort(), ['storage', 'token']);
  });

  it('gzips bodies of 2 KiB and more with CompressionStream, and sends smaller ones as they are', async () => {
    const { client, server } = harness({ flushAt: 1000, compression: true });
    client.track('LevelStarted', { level: 1 });
    await client.flush();
    const ids = Array.from({ length: 40 }, (_, i) => client.track('AdImpression', { i, network: 'example-ads' }));
    await client.flush();
    const [small, large] = server.posts;
    assert.equal(small.headers['content-encoding'], undefined);
    assert.equal(typeof small.bodyBytes, 'number');
    assert.equal(large.headers['content-encoding'], 'gzip');
    assert.deepEqual(server.sentIds[1], ids, 'the server reads the same events');
    const plain = JSON.stringify(large.body).length;
    assert.ok(plain >= 2048 && large.bodyBytes < plain / 3, `${plain} bytes of JSON sent as ${large.bodyBytes}`);
  });
});
