import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { EVENT_TYPE_NAMES, EVENT_TYPES, EventTypeDefinition } from '#ingest';
import { addPricedEventType, PRICED_TYPE } from '../support/test-event-type';
import { bootTestApp, postEvents, TestApp, tokenFor } from './support/test-app';

interface ClientConfig {
  enabled: boolean;
  flush_at: number;
  flush_interval_ms: number;
  max_batch_events: number;
  max_batch_bytes: number;
  event_types: Array<{ name: string; requires_custom_event_name: boolean }>;
  custom_event_name: { pattern: string; min_length: number; max_length: number };
  customdata_limits: { max_bytes: number; max_depth: number; max_keys: number; max_array_items: number; forbidden_keys: string[] };
  timestamp: { max_future_seconds: number; max_age_seconds: number | null };
}

function getClientConfig(t: TestApp, token?: string): Promise<LightMyRequestResponse> {
  return t.inject({
    method: 'GET',
    url: '/ingest/client-config',
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
}

async function clientConfig(t: TestApp): Promise<ClientConfig> {
  const response = await getClientConfig(t, tokenFor(randomUUID()));
  assert.equal(response.statusCode, 200, response.body);
  return response.json<ClientConfig>();
}

const GAME_ID = 'com.example.stackblaster';

function event(fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'LevelCompleted', timestamp: new Date().toISOString(), ...fields };
}

/** POSTs `events` as a fresh player: the status, and the error message unless 202. */
async function send(t: TestApp, events: unknown[]): Promise<number> {
  const user = randomUUID();
  const response = await postEvents(t, { user_id: user, game_id: GAME_ID, events }, tokenFor(user));
  assert.ok([202, 400].includes(response.statusCode), response.body);
  return response.statusCode;
}

/** A customdata object of exactly `bytes` bytes as compact JSON (at least 8). */
function customdataOfBytes(bytes: number): Record<string, unknown> {
  const customdata = { p: 'x'.repeat(bytes - '{"p":""}'.length) };
  assert.equal(Buffer.byteLength(JSON.stringify(customdata)), bytes);
  return customdata;
}

/** A customdata `depth` levels deep, customdata itself being the first. */
function customdataOfDepth(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let level = 1; level < depth; level++) value = { nested: value };
  return value;
}

/** Holds validation to each customdata limit the answer names: at it 202, one past it 400. */
async function assertCustomdataLimits(t: TestApp, limits: ClientConfig['customdata_limits']): Promise<void> {
  const { max_bytes, max_depth, max_keys, max_array_items, forbidden_keys } = limits;
  assert.equal(await send(t, [event({ customdata: customdataOfBytes(max_bytes) })]), 202, 'customdata of max_bytes');
  assert.equal(await send(t, [event({ customdata: customdataOfBytes(max_bytes + 1) })]), 400, 'customdata over max_bytes');
  assert.equal(await send(t, [event({ customdata: customdataOfDepth(max_depth) })]), 202, 'customdata of max_depth');
  assert.equal(await send(t, [event({ customdata: customdataOfDepth(max_depth + 1) })]), 400, 'customdata over max_depth');
  const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 0]));
  assert.equal(await send(t, [event({ customdata: keys(max_keys) })]), 202, 'max_keys keys');
  assert.equal(await send(t, [event({ customdata: keys(max_keys + 1) })]), 400, 'over max_keys keys');
  assert.equal(await send(t, [event({ customdata: { a: new Array(max_array_items).fill(0) } })]), 202, 'max_array_items items');
  assert.equal(await send(t, [event({ customdata: { a: new Array(max_array_items + 1).fill(0) } })]), 400, 'over max_array_items');
  for (const key of forbidden_keys) {
    assert.equal(await send(t, [event({ customdata: JSON.parse(`{"${key}":1}`) as unknown })]), 400, `key ${key}`);
  }
}

/** The `events` array, as compact JSON, of exactly `bytes` bytes, each customdata within `maxCustomdataBytes`. */
function eventsArrayOfBytes(bytes: number, maxCustomdataBytes: number): string {
  const base = JSON.stringify(event({ customdata: { p: '' } })).length;
  const maxPad = maxCustomdataBytes - '{"p":""}'.length;
  const count = Math.ceil((bytes - 2 + 1) / (base + maxPad + 1));
  let pads = bytes - 2 - (count - 1) - count * base;
  const events: string[] = [];
  for (let i = 0; i < count; i++) {
    const pad = Math.min(maxPad, pads);
    pads -= pad;
    events.push(JSON.stringify(event({ customdata: { p: 'x'.repeat(pad) } })));
  }
  const text = `[${events.join(',')}]`;
  assert.equal(Buffer.byteLength(text), bytes);
  return text;
}

describe('GET /ingest/client-config', () => {
  describe('with the defaults', () => {
    let t: TestApp;
    before(async () => {
      t = await bootTestApp();
    });
    after(() => t.close());

    it('401 missing_token in the envelope without a token, uncached', async () => {
      const response = await getClientConfig(t);
      assert.equal(response.statusCode, 401);
      assert.deepEqual(response.json(), { error: { code: 'UNAUTHORIZED', message: 'missing_token' } });
      assert.notEqual(response.headers['cache-control'], 'private, max-age=300');
      assert.equal((await getClientConfig(t, 'not-a-token')).json<{ error: { message: string } }>().error.message, 'invalid_token');
    });

    it('answers the default policy, privately cacheable for 5 minutes', async () => {
      const response = await getClientConfig(t, tokenFor('player-1'));
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(response.headers['cache-control'], 'private, max-age=300');
      assert.match(String(response.headers['content-type']), /^application\/json/);
      const answer = response.json<ClientConfig>();
      assert.deepEqual(
        { ...answer, event_types: undefined },
        {
          enabled: true,
          flush_at: 50,
          flush_interval_ms: 10_000,
          max_batch_events: 200,
          max_batch_bytes: 1024 * 1024 - 2048,
          event_types: undefined,
          custom_event_name: { pattern: '^\\p{L}[\\p{L}\\p{Nd}_.-]{0,63}$', min_length: 1, max_length: 64 },
          customdata_limits: {
            max_bytes: 8192,
            max_depth: 5,
            max_keys: 100,
            max_array_items: 100,
            forbidden_keys: ['__proto__', 'constructor', 'prototype'],
          },
          timestamp: { max_future_seconds: 86400, max_age_seconds: null },
        },
      );
    });

    it('lists the catalogue, each type with whether it requires customEventName', async () => {
      const definitions = EVENT_TYPES as Record<string, EventTypeDefinition>;
      const expected = () =>
        EVENT_TYPE_NAMES.map((name) => ({ name, requires_custom_event_name: definitions[name].requiresCustomEventName === true }));
      const { event_types } = await clientConfig(t);
      assert.deepEqual(event_types, expected());
      assert.ok(event_types.some((type) => type.name === 'Custom' && type.requires_custom_event_name));
      assert.ok(event_types.some((type) => type.name === 'LevelCompleted' && !type.requires_custom_event_name));
    });

    it('names types, and customEventName rules, that validation holds to', async () => {
      const { event_types, custom_event_name } = await clientConfig(t);
      const pattern = new RegExp(custom_event_name.pattern, 'u');
      const name = (length: number) => 'N'.repeat(length);
      assert.ok(pattern.test(name(custom_event_name.max_length)) && !pattern.test(name(custom_event_name.max_length + 1)));
      const valid = event_types.map(({ name: type, requires_custom_event_name }) =>
        event({ type, ...(requires_custom_event_name ? { customEventName: name(custom_event_name.max_length) } : {}) }),
      );
      assert.equal(await send(t, valid), 202);
      for (const { name: type, requires_custom_event_name } of event_types) {
        // Required: refused without it, or too long. Not required: refused with it.
        const wrong = requires_custom_event_name
          ? [event({ type }), event({ type, customEventName: name(custom_event_name.max_length + 1) })]
          : [event({ type, customEventName: 'PowerUpUsed' })];
        for (const bad of wrong) assert.equal(await send(t, [bad]), 400, JSON.stringify(bad));
      }
    });

    it('names the customdata limits validation applies', async () => {
      await assertCustomdataLimits(t, (await clientConfig(t)).customdata_limits);
    });

    it('names the timestamp bounds and the batch size validation applies', async () => {
      const { timestamp, max_batch_events } = await clientConfig(t);
      const at = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000).toISOString();
      assert.equal(await send(t, [event({ timestamp: at(timestamp.max_future_seconds - 60) })]), 202);
      assert.equal(await send(t, [event({ timestamp: at(timestamp.max_future_seconds + 60) })]), 400);
      assert.equal(timestamp.max_age_seconds, null);
      assert.equal(await send(t, [event({ timestamp: '2001-01-01T00:00:00Z' })]), 202, 'no maximum age');
      assert.equal(await send(t, new Array(max_batch_events).fill(event())), 202);
      assert.equal(await send(t, new Array(max_batch_events + 1).fill(event())), 400);
    });

    it('names a type added to the catalogue since the service started', async () => {
      addPricedEventType();
      const { event_types } = await clientConfig(t);
      assert.deepEqual(event_types.at(-1), { name: PRICED_TYPE, requires_custom_event_name: false });
      assert.deepEqual(
        event_types.map((type) => type.name),
        EVENT_TYPE_NAMES,
      );
    });
  });

  describe('set by the environment', () => {
    let t: TestApp;
    before(async () => {
      t = await bootTestApp({
        env: {
          CLIENT_ENABLED: 'false',
          CLIENT_FLUSH_AT: '20',
          CLIENT_FLUSH_INTERVAL_MS: '30000',
          BODY_LIMIT: '65536',
          CUSTOMDATA_MAX_BYTES: '300',
          CUSTOMDATA_MAX_DEPTH: '3',
          CUSTOMDATA_MAX_KEYS: '10',
          CUSTOMDATA_MAX_ITEMS: '12',
          TIMESTAMP_MAX_FUTURE_SECONDS: '600',
          TIMESTAMP_MAX_AGE_SECONDS: '3600',
          // On for this suite: every request but the rate limit's own comes from a fresh player.
          RATE_LIMIT_PER_SUB_PER_SECOND: '1',
          RATE_LIMIT_PER_SUB_BURST: '2',
        },
      });
    });
    after(() => t.close());

    it('reflects CLIENT_*, BODY_LIMIT and the validation limits', async () => {
      assert.deepEqual(
        { ...(await clientConfig(t)), event_types: undefined, custom_event_name: undefined },
        {
          enabled: false,
          flush_at: 20,
          flush_interval_ms: 30_000,
          max_batch_events: 200,
          max_batch_bytes: 65536 - 2048,
          event_types: undefined,
          custom_event_name: undefined,
          customdata_limits: {
            max_bytes: 300,
            max_depth: 3,
            max_keys: 10,
            max_array_items: 12,
            forbidden_keys: ['__proto__', 'constructor', 'prototype'],
          },
          timestamp: { max_future_seconds: 600, max_age_seconds: 3600 },
        },
      );
    });

    it('names the customdata limits and timestamp bounds validation applies', async () => {
      const { customdata_limits, timestamp } = await clientConfig(t);
      await assertCustomdataLimits(t, customdata_limits);
      const at = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000).toISOString();
      assert.equal(await send(t, [event({ timestamp: at(timestamp.max_future_seconds - 60) })]), 202);
      assert.equal(await send(t, [event({ timestamp: at(timestamp.max_future_seconds + 60) })]), 400);
      assert.equal(await send(t, [event({ timestamp: at(-timestamp.max_age_seconds! + 60) })]), 202);
      assert.equal(await send(t, [event({ timestamp: at(-timestamp.max_age_seconds! - 60) })]), 400);
    });

    it('max_batch_bytes of events fit in BODY_LIMIT with the longest user_id and game_id, escaped as long as JSON allows', async () => {
      const { max_batch_bytes, customdata_limits } = await clientConfig(t);
      assert.ok(max_batch_bytes < t.config.bodyLimitBytes);
      const user = '😀'.repeat(128);
      // Each code point as two \u escapes (12 bytes): the longest spelling of the longest user_id.
      const escapedUser = '\\ud83d\\ude00'.repeat(128);
      const gameId = `com.${'x'.repeat(251)}`;
      const body = `{"user_id":"${escapedUser}","game_id":"${gameId}","events":${eventsArrayOfBytes(max_batch_bytes, customdata_limits.max_bytes)}}`;
      assert.ok(Buffer.byteLength(body) <= t.config.bodyLimitBytes, `${Buffer.byteLength(body)} bytes`);
      const response = await postEvents(t, body, tokenFor(user));
      assert.equal(response.statusCode, 202, response.body);
    });

    it('counts against the per-player rate limit', async () => {
      const token = tokenFor(randomUUID());
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await getClientConfig(t, token)).statusCode);
      assert.deepEqual(statuses, [200, 200, 429]);
      const refused = await getClientConfig(t, token);
      assert.deepEqual(refused.json(), { error: { code: 'TOO_MANY_REQUESTS', message: 'rate_limited' } });
      assert.ok(Number(refused.headers['retry-after']) >= 1);
    });
  });
});
