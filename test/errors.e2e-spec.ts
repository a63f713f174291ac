import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sign } from 'jsonwebtoken';
import { bootTestApp, exampleBatch, postEvents, TestApp, tokenFor } from './support/test-app';

function assertEnvelope(
  response: { statusCode: number; json: () => unknown; body: string },
  status: number,
  code: string,
  message?: string,
) {
  assert.equal(response.statusCode, status, response.body);
  const body = response.json() as { error: { code: string; message: string } };
  assert.equal(body.error.code, code);
  if (message !== undefined) assert.equal(body.error.message, message);
  assert.doesNotMatch(response.body, /\bat .+\.js:\d+/, 'no stack trace');
}

function detailsOf(response: { json: () => unknown }): Array<{ field: string; message: string }> {
  return (response.json() as { error: { details: Array<{ field: string; message: string }> } }).error.details;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('errors: every failure answers in the envelope', () => {
  let t: TestApp;
  const token = tokenFor('device-abc-123');
  before(async () => {
    t = await bootTestApp({ env: { BODY_LIMIT: String(64 * 1024) } });
  });
  after(async () => {
    await t.close();
  });

  describe('401 UNAUTHORIZED', () => {
    const cases: Array<[string, Record<string, string>, string]> = [
      ['no Authorization header', {}, 'missing_token'],
      ['another scheme', { authorization: `Basic ${token}` }, 'missing_token'],
      ['an empty bearer token', { authorization: 'Bearer ' }, 'missing_token'],
      ['an expired token', { authorization: `Bearer ${tokenFor('device-abc-123', { expiresIn: -120 })}` }, 'token_expired'],
      ['a malformed token', { authorization: 'Bearer not.a.jwt' }, 'invalid_token'],
      ['a bad signature', { authorization: `Bearer ${token.slice(0, -4)}AAAA` }, 'invalid_token'],
      [
        'alg none',
        { authorization: `Bearer ${base64url({ alg: 'none', typ: 'JWT' })}.${base64url({ sub: 'device-abc-123', exp: 4102444800 })}.` },
        'invalid_token',
      ],
      ['nbf in the future', { authorization: `Bearer ${tokenFor('device-abc-123', { notBefore: 3600 })}` }, 'invalid_token'],
      [
        'no exp',
        { authorization: `Bearer ${sign({ sub: 'device-abc-123' }, 'e2e-test-secret-that-is-at-least-32-bytes-long')}` },
        'invalid_token',
      ],
      ['no sub', { authorization: `Bearer ${tokenFor(undefined)}` }, 'invalid_token'],
      ['an empty sub', { authorization: `Bearer ${tokenFor('')}` }, 'invalid_token'],
      ['a non-string sub', { authorization: `Bearer ${tokenFor(42)}` }, 'invalid_token'],
      [
        'an HS384 token when only HS256 is allowed',
        { authorization: `Bearer ${tokenFor('device-abc-123', { algorithm: 'HS384' })}` },
        'invalid_token',
      ],
      ['another scheme with over 8 KiB of credentials', { authorization: `Basic ${'x'.repeat(9000)}` }, 'missing_token'],
      ['a token over 8 KiB', { authorization: `Bearer ${tokenFor('device-abc-123', {}, { pad: 'x'.repeat(9000) })}` }, 'invalid_token'],
    ];
    for (const [name, headers, reason] of cases) {
      it(`${reason} for ${name}`, async () => {
        const response = await t.inject({
          method: 'POST',
          url: '/ingest/events',
          headers: { 'content-type': 'application/json', ...headers },
          payload: JSON.stringify(exampleBatch()),
        });
        assertEnvelope(response, 401, 'UNAUTHORIZED', reason);
        assert.deepEqual(Object.keys(response.json<Record<string, unknown>>()), ['error']);
      });
    }

    it('refuses an RS256 token signed by an unknown key', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const forged = sign({ sub: 'device-abc-123' }, privateKey, { algorithm: 'RS256', expiresIn: 60 });
      assertEnvelope(await postEvents(t, exampleBatch(), forged), 401, 'UNAUTHORIZED', 'invalid_token');
    });
  });

  describe('the order is 401, then 403, then 400', () => {
    const invalidForOther = { user_id: 'someone-else', game_id: 'bad', events: [] };
    it('401 before 403 and 400', async () => {
      assertEnvelope(await postEvents(t, invalidForOther), 401, 'UNAUTHORIZED', 'missing_token');
    });
    it('403 before 400, exactly as the API page shows', async () => {
      const response = await postEvents(t, invalidForOther, token);
      assert.equal(response.statusCode, 403);
      assert.deepEqual(response.json(), { error: { code: 'FORBIDDEN', message: 'user_id_mismatch' } });
    });
    it('400 when authenticated as the same player', async () => {
      assertEnvelope(await postEvents(t, { ...invalidForOther, user_id: 'device-abc-123' }, token), 400, 'BAD_REQUEST', 'invalid_payload');
    });
    it('a missing or non-string user_id is a validation error, not a 403', async () => {
      const missing = await postEvents(t, { game_id: 'com.example.game', events: exampleBatch().events }, token);
      assertEnvelope(missing, 400, 'BAD_REQUEST', 'invalid_payload');
      assert.deepEqual(
        detailsOf(missing).map((d) => d.field),
        ['user_id'],
      );
      const numeric = await postEvents(t, { ...exampleBatch(), user_id: 42 }, token);
      assert.deepEqual(
        detailsOf(numeric).map((d) => d.field),
        ['user_id'],
      );
    });
  });

  describe('400 BAD_REQUEST lists every failing field with its path', () => {
    const valid = exampleBatch();
    const event = (overrides: Record<string, unknown>) => ({ type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z', ...overrides });
    const cases: Array<[string, Record<string, unknown>, string[]]> = [
      ['an unsupported event type', { ...valid, events: [event({}), event({ type: 'Teleported' })] }, ['events[1].type']],
      ['a missing timestamp', { ...valid, events: [event({ timestamp: undefined })] }, ['events[0].timestamp']],
      ['a timestamp without offset', { ...valid, events: [event({ timestamp: '2026-04-22T14:30:00' })] }, ['events[0].timestamp']],
      [
        'a timestamp over 24 h ahead',
        { ...valid, events: [event({ timestamp: new Date(Date.now() + 25 * 3600_000).toISOString() })] },
        ['events[0].timestamp'],
      ],
      ['a UTC year past 9999', { ...valid, events: [event({ timestamp: '9999-12-31T23:30:00-01:00' })] }, ['events[0].timestamp']],
      ['Custom without customEventName', { ...valid, events: [event({ type: 'Custom' })] }, ['events[0].customEventName']],
      ['customEventName on another type', { ...valid, events: [event({ customEventName: 'Nope' })] }, ['events[0].customEventName']],
      ['customdata that is an array', { ...valid, events: [event({ customdata: [1, 2] })] }, ['events[0].customdata']],
      ['customdata that is null', { ...valid, events: [event({ customdata: null })] }, ['events[0].customdata']],
      [
        'customdata with __proto__',
        { ...valid, events: [event({ customdata: JSON.parse('{"a":{"__proto__":{"x":1}}}') as unknown })] },
        ['events[0].customdata'],
      ],
      ['customdata with U+0000', { ...valid, events: [event({ customdata: { note: 'a\u0000b' } })] }, ['events[0].customdata']],
      ['customdata over 8 KiB', { ...valid, events: [event({ customdata: { blob: 'x'.repeat(8200) } })] }, ['events[0].customdata']],
      ['an event_id that is not a UUID', { ...valid, events: [event({ event_id: '123' })] }, ['events[0].event_id']],
      ['an unknown property in an event', { ...valid, events: [event({ level: 3 })] }, ['events[0].level']],
      ['an unknown top-level property', { ...valid, session: 'x' }, ['session']],
      ['a bad game_id', { ...valid, game_id: 'stackblaster' }, ['game_id']],
      ['an empty events array', { ...valid, events: [] }, ['events']],
      ['events that is not an array', { ...valid, events: { type: 'LevelStarted' } }, ['events']],
      ['an event wrapped in an array', { ...valid, events: [event({}), [event({})]] }, ['events[1]']],
      ['an empty array where an event belongs', { ...valid, events: [[]] }, ['events[0]']],
      ['a user_id with an unpaired surrogate', { ...valid, user_id: 'device-\ud800' }, ['user_id']],
      [
        'several fields at once',
        { user_id: 'device-abc-123', game_id: 'x', events: [event({ type: 'Nope', timestamp: 'yesterday' })] },
        ['game_id', 'events[0].type', 'events[0].timestamp'],
      ],
    ];
    for (const [name, body, fields] of cases) {
      it(`for ${name}`, async () => {
        const userToken = typeof body.user_id === 'string' ? tokenFor(body.user_id) : token;
        const response = await postEvents(t, body, userToken);
        assertEnvelope(response, 400, 'BAD_REQUEST', 'invalid_payload');
        assert.deepEqual([...new Set(detailsOf(response).map((d) => d.field))], fields);
      });
    }

    it('refuses 201 events with a detail on events', async () => {
      const events = Array.from({ length: 201 }, () => event({}));
      const response = await postEvents(t, { ...valid, events }, token);
      assertEnvelope(response, 400, 'BAD_REQUEST', 'invalid_payload');
      assert.deepEqual(
        detailsOf(response).map((d) => d.field),
        ['events'],
      );
    });

    it('refuses 5,000 events and 5,000 levels of nesting without a 500', async () => {
      const many = await postEvents(t, { ...valid, events: Array.from({ length: 5000 }, () => ({})) }, token);
      assertEnvelope(many, 400, 'BAD_REQUEST', 'invalid_payload');
      const deep = `{"user_id":"device-abc-123","game_id":"com.a.b","events":[{"type":"Custom","customEventName":"X","timestamp":"2026-04-22T14:30:00Z","customdata":{"a":${'['.repeat(5000)}${']'.repeat(5000)}}}]}`;
      const response = await postEvents(t, deep, token);
      assertEnvelope(response, 400, 'BAD_REQUEST', 'invalid_payload');
      assert.deepEqual(
        detailsOf(response).map((d) => d.field),
        ['events[0].customdata'],
      );
      const deepUnknown = `{"user_id":"device-abc-123","game_id":"com.a.b","events":[],"x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
      assertEnvelope(await postEvents(t, deepUnknown, token), 400, 'BAD_REQUEST', 'invalid_payload');
    });

    it('answers malformed JSON and non-object bodies with field ""', async () => {
      for (const body of ['{"user_id":', '[1,2]', '"text"', '42', 'null']) {
        const response = await postEvents(t, body, token);
        assertEnvelope(response, 400, 'BAD_REQUEST', 'invalid_payload');
        assert.deepEqual(
          detailsOf(response).map((d) => d.field),
          [''],
        );
      }
    });

    it('refuses a body that is not valid UTF-8', async () => {
      const bytes = Buffer.concat([
        Buffer.from('{"user_id":"device-abc-123","game_id":"com.a.b","events":[{"type":"Custom","customEventName":"X'),
        Buffer.from([0xc3, 0x28]),
        Buffer.from('","timestamp":"2026-04-22T14:30:00Z"}]}'),
      ]);
      const response = await postEvents(t, bytes, token);
      assertEnvelope(response, 400, 'BAD_REQUEST', 'invalid_payload');
      assert.deepEqual(
        detailsOf(response).map((d) => d.field),
        [''],
      );
    });
  });

  describe('body and route errors', () => {
    it('413 PAYLOAD_TOO_LARGE states the limit', async () => {
      const response = await postEvents(t, { ...exampleBatch(), pad: 'x'.repeat(70 * 1024) }, token);
      assertEnvelope(response, 413, 'PAYLOAD_TOO_LARGE');
      assert.match(response.json<{ error: { message: string } }>().error.message, /65536 bytes/);
    });

    it('415 UNSUPPORTED_MEDIA_TYPE for another content type or none', async () => {
      const text = await t.inject({
        method: 'POST',
        url: '/ingest/events',
        headers: { 'content-type': 'text/plain', authorization: `Bearer ${token}` },
        payload: '{}',
      });
      assertEnvelope(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const none = await t.inject({
        method: 'POST',
        url: '/ingest/events',
        headers: { authorization: `Bearer ${token}` },
        payload: JSON.stringify(exampleBatch()),
      });
      assertEnvelope(none, 415, 'UNSUPPORTED_MEDIA_TYPE');
      const charset = await postEvents(t, exampleBatch(), token, { 'content-type': 'application/json; charset=utf-8' });
      assert.equal(charset.statusCode, 202);
    });

    it('404 NOT_FOUND for an unknown route', async () => {
      assertEnvelope(await t.inject({ method: 'GET', url: '/nowhere' }), 404, 'NOT_FOUND');
    });

    // The router refuses these before any hook runs, and Fastify would answer them in its own shape, echoing the path.
    const routerRefusals: Array<[string, string, number, string, string]> = [
      ['a malformed URL', '/ingest/batches/%ZZ', 400, 'BAD_REQUEST', 'malformed_url'],
      ['an over-long path parameter', `/ingest/batches/${'a'.repeat(150)}`, 414, 'URI_TOO_LONG', 'path_parameter_too_long'],
    ];
    for (const [name, url, status, code, message] of routerRefusals) {
      it(`${status} ${code} for ${name}, with X-Request-Id and without echoing the path`, async () => {
        const echoed = await t.inject({ method: 'GET', url, headers: { 'x-request-id': 'router-refusal-1' } });
        assertEnvelope(echoed, status, code, message);
        assert.deepEqual(echoed.json(), { error: { code, message } });
        assert.equal(echoed.headers['x-request-id'], 'router-refusal-1');
        const generated = await t.inject({ method: 'GET', url });
        assertEnvelope(generated, status, code, message);
        assert.match(String(generated.headers['x-request-id']), UUID);
      });
    }

    it('answers the same over a real socket', async () => {
      await t.app.listen(0, '127.0.0.1');
      const { port } = t.app.getHttpServer().address() as AddressInfo;
      for (const [, url, status, code, message] of routerRefusals) {
        const response = await fetch(`http://127.0.0.1:${port}${url}`);
        const body = await response.text();
        assert.equal(response.status, status, body);
        assert.deepEqual(JSON.parse(body), { error: { code, message } });
        assert.equal(response.headers.get('content-type'), 'application/json; charset=utf-8');
        assert.match(response.headers.get('x-request-id') ?? '', UUID);
      }
    });
  });
});
