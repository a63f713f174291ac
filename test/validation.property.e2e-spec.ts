import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it, type TestContext } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { EVENT_TYPE_NAMES } from '#ingest';
import { firstTooDeep } from '#platform';
import { bootTestApp, exampleBatch, TestApp, tokenFor } from './support/test-app';

/*
 * Property-based tests of the whole request path (body parser, guards, validation pipe, error filter): whatever
 * arrives, the answer is never a 5xx, never hangs, and is either the 202 shape or the error envelope, with the
 * status the contract predicts where it can be predicted. Every property runs through assertProperty, which picks
 * the seed itself, so that a failure names it even when a generator threw (fast-check lets such errors through with
 * no report); a failing predicate also names fast-check's path and the shrunk counterexample. To replay one, after
 * `npx tsc -p tsconfig.json`:
 *
 *   PROPERTY_SEED=<seed> PROPERTY_PATH=<path> node --enable-source-maps --test --test-name-pattern='<name>' \
 *     dist/test/validation.property.e2e-spec.js
 *
 * The variables apply to every property that runs, hence the name pattern (a regex: escape the parentheses, e.g.
 * '\(b\) mutations'). Without PROPERTY_PATH every run of that seed is repeated; with it only the shrunk case is.
 */

const LIMIT = 128 * 1024;
/** Runs per property: enough to cover the generators, small enough for the whole file to take well under a minute. */
const RUNS = 300;
const ANSWER_TIMEOUT_MS = 10_000;
/** Tokens over 8 KiB are refused; near that size the exact threshold is not this test's business. */
const TOKEN_LIMIT = 8 * 1024;

// ---------------------------------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------------------------------

interface ErrorEnvelope {
  error: { code: string; message: string; details?: Array<{ field: string; message: string }> };
}

/** `Payload Too Large` -> `PAYLOAD_TOO_LARGE`, from Node's table rather than the code under test. */
const statusName = (status: number): string => (STATUS_CODES[status] ?? '').toUpperCase().replace(/[^A-Z0-9]+/g, '_');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What every answer satisfies, whatever the request: no 5xx, and the 202 shape or the envelope. */
function assertWellFormed(status: number, contentType: string | undefined, text: string): ErrorEnvelope | undefined {
  assert.ok(status < 500, `a ${status} answer: ${text.slice(0, 500)}`);
  assert.match(contentType ?? '', /^application\/json\b/, `the content type is JSON (${contentType})`);
  const body = JSON.parse(text) as Record<string, unknown>;
  assert.doesNotMatch(text, /\bat .+\.js:\d+/, 'no stack trace');
  if (status === 202) {
    assert.deepEqual(Object.keys(body).sort(), ['batch_id', 'message', 'success']);
    assert.equal(body.success, true);
    assert.match(body.message as string, /^accepted:\d+ buffered:\d+$/);
    assert.match(body.batch_id as string, UUID);
    return undefined;
  }
  assert.deepEqual(Object.keys(body), ['error'], `only "error" at the top: ${text.slice(0, 300)}`);
  const envelope = body as unknown as ErrorEnvelope;
  const { code, message, details } = envelope.error;
  assert.deepEqual(
    Object.keys(envelope.error).filter((key) => !['code', 'message', 'details'].includes(key)),
    [],
  );
  assert.equal(code, statusName(status), `the code names the status ${status}`);
  assert.equal(typeof message, 'string');
  assert.notEqual(message, '');
  if (status === 400) {
    assert.equal(message, 'invalid_payload');
    assert.ok(Array.isArray(details) && details.length > 0, 'a 400 lists the failing fields');
    for (const detail of details) {
      assert.deepEqual(Object.keys(detail).sort(), ['field', 'message']);
      assert.equal(typeof detail.field, 'string');
      assert.equal(typeof detail.message, 'string');
      assert.notEqual(detail.message, '');
    }
  } else {
    assert.equal(details, undefined, 'only a 400 has details');
  }
  return envelope;
}

function assertAnswer(response: LightMyRequestResponse): ErrorEnvelope | undefined {
  return assertWellFormed(response.statusCode, response.headers['content-type'] as string | undefined, response.body);
}

/** How the request authenticates: as the body's user_id, as someone else, with no header, or with junk. */
type Auth = 'match' | 'mismatch' | 'none';

const DEFAULT_SUB = 'device-abc-123';

/** The body's user_id when it is a string, which is what the guard compares with the token's sub. */
function userIdOf(parsed: unknown): string | undefined {
  const userId = typeof parsed === 'object' && parsed !== null ? (parsed as { user_id?: unknown }).user_id : undefined;
  return typeof userId === 'string' ? userId : undefined;
}

function tryParse(bytes: Buffer): { ok: true; value: unknown } | { ok: false } {
  if (bytes.length === 0 || !isUtf8(bytes)) return { ok: false };
  try {
    return { ok: true, value: JSON.parse(bytes.toString('utf8')) as unknown };
  } catch {
    return { ok: false };
  }
}

/** The Authorization header for `auth`, given the body as the server will see it. */
function authorizationFor(auth: Auth, parsed: { ok: true; value: unknown } | { ok: false }): string | undefined {
  if (auth === 'none') return undefined;
  const userId = parsed.ok ? userIdOf(parsed.value) : undefined;
  const sub = userId ?? DEFAULT_SUB;
  return `Bearer ${tokenFor(auth === 'match' ? sub : `${sub}-someone-else`)}`;
}

// The body, the events array and an event above customdata, which may nest CUSTOMDATA_MAX_DEPTH (5) levels.
const MAX_BODY_DEPTH = 3 + 5;

/**
 * The statuses the contract allows for `bytes` (as decoded by the server) sent with `auth`, and checks on the
 * answer beyond the envelope. The token first (it is checked before the body is read), then size, then JSON and
 * nesting; for well-formed JSON 403, then 400.
 */
function assertPredicted(response: LightMyRequestResponse, bytes: Buffer, auth: Auth, token: string | undefined): void {
  const envelope = assertAnswer(response);
  const status = response.statusCode;
  const fields = envelope?.error.details?.map((d) => d.field) ?? [];
  if (auth === 'none') {
    assert.equal(status, 401);
    assert.equal(envelope?.error.message, 'missing_token');
    return;
  }
  const parsed = tryParse(bytes);
  const userId = parsed.ok ? userIdOf(parsed.value) : undefined;
  // A token over 8 KiB (a long user_id makes a long sub) is refused before anything else is looked at.
  if (userId !== undefined && token!.length > TOKEN_LIMIT - 64) {
    if (token!.length > TOKEN_LIMIT + 64) {
      assert.equal(status, 401);
      assert.equal(envelope?.error.message, 'invalid_token');
      return;
    }
    assert.ok([202, 400, 401, 403, 413].includes(status), `status ${status}`);
    return;
  }
  if (userId === '' && auth === 'match') {
    // A token with an empty sub is refused before the body is looked at.
    assert.equal(status, 401);
    assert.equal(envelope?.error.message, 'invalid_token');
    return;
  }
  if (bytes.length > LIMIT) {
    assert.equal(status, 413);
    return;
  }
  // Nesting is counted on the bytes before they are parsed (duplicate keys and malformed text included), once they
  // are known to be UTF-8.
  const tooDeep = bytes.length > 0 && isUtf8(bytes) ? firstTooDeep(bytes, MAX_BODY_DEPTH) : undefined;
  if (tooDeep !== undefined) {
    assert.equal(status, 400, 'a body nested too deeply is a 400');
    // Inside customdata, customdata as a whole is the field at fault.
    const field = /^events\[\d+\]\.customdata/.exec(tooDeep)?.[0] ?? tooDeep;
    assert.deepEqual(fields, [field], 'about the first container too deep, whoever sent it');
    return;
  }
  if (!parsed.ok) {
    assert.equal(status, 400, 'malformed JSON or UTF-8 is a 400');
    assert.deepEqual([...new Set(fields)], [''], 'about the body as a whole');
    return;
  }
  if (userId !== undefined && auth === 'mismatch') {
    assert.equal(status, 403);
    assert.equal(envelope?.error.message, 'user_id_mismatch');
    return;
  }
  const isObject = typeof parsed.value === 'object' && parsed.value !== null && !Array.isArray(parsed.value);
  if (!isObject) {
    assert.equal(status, 400);
    assert.deepEqual(fields, [''], 'a body that is not an object is refused as a whole');
    return;
  }
  if (userId === undefined) {
    // Without a string user_id the body cannot be valid, and the guard leaves it to validation. The prechecks
    // (too many events, events that are not objects, nesting too deep, a prototype key) answer with their
    // structural problems alone, by design.
    assert.equal(status, 400);
    const structural = fields.every((field) => /^events\[\d+\]$/.test(field));
    if (fields.length > 1 && !structural) assert.ok(fields.includes('user_id'), `user_id is named among ${JSON.stringify(fields)}`);
  }
  assert.ok([202, 400].includes(status), `status ${status}: ${response.body.slice(0, 300)}`);
  if (status === 400) {
    assert.ok(!fields.includes(''), `an object body is refused field by field, not as a whole: ${JSON.stringify(fields)}`);
  } else {
    const { events } = parsed.value as { events?: unknown };
    assert.ok(Array.isArray(events) && events.length >= 1 && events.length <= 200, 'only 1 to 200 events are accepted');
    assert.ok(
      events.every((item) => typeof item === 'object' && item !== null && !Array.isArray(item)),
      'every accepted event is an object',
    );
    assert.equal(
      response.json<{ message: string }>().message.split(' ')[0],
      `accepted:${events.length}`,
      'accepted counts the events sent',
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------------------------------

/** A token of JSON text inserted as is: numbers JSON.stringify cannot write, and nesting built as text. */
class RawJson {
  constructor(readonly text: string) {}
}

/**
 * JSON text for a value that may hold RawJson tokens. Keys are written from own properties, __proto__ included.
 * Arrays are read by index rather than with their own methods, which an own "constructor" key would break.
 */
function toJsonText(value: unknown): string {
  if (value instanceof RawJson) return value.text;
  if (Array.isArray(value)) return `[${Array.from({ length: value.length }, (_, i) => toJsonText(value[i])).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{${Object.entries(value)
      .map(([key, item]) => `${JSON.stringify(key)}:${toJsonText(item)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Sets an own property, so that "__proto__" is a key and not the prototype. */
function setOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const oddChar = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 4 },
  {
    arbitrary: fc.constantFrom(
      '\u0000',
      '\ud800',
      '\udbff',
      '\udc00',
      '\udfff',
      '\u2028',
      '\ufeff',
      '\uffff',
      '😀',
      'é',
      '"',
      '\\',
      '\n',
      '\u007f',
    ),
    weight: 2,
  },
);
const oddString = fc.string({ unit: oddChar, maxLength: 40 });

const hugeString = fc
  .tuple(fc.integer({ min: 1_000, max: 150_000 }), fc.constantFrom('x', 'é', '😀', '\u0000', '\ud800'))
  .map(([length, char]) => char.repeat(length));

const oddNumber = fc
  .constantFrom('1e400', '-1e400', '1E+400', '-0', '0e0', '1e-400', '123456789012345678901234567890', '9007199254740993', '0.1e-999')
  .map((text) => new RawJson(text));

const deepNesting = fc
  .tuple(fc.integer({ min: 2, max: 20_000 }), fc.boolean())
  .map(
    ([depth, arrays]) => new RawJson(arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth)),
  );

const FIELD_NAMES = ['user_id', 'game_id', 'sent_at', 'events', 'type', 'timestamp', 'customEventName', 'customdata', 'event_id'];
const fieldKey = fc.oneof(
  { arbitrary: fc.constantFrom(...FIELD_NAMES), weight: 4 },
  { arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', 'level'), weight: 2 },
  { arbitrary: oddString, weight: 1 },
);

const validTimestamp = fc
  .tuple(
    fc.date({ min: new Date('0001-01-02T00:00:00Z'), max: new Date(Date.now() + 20 * 3600_000), noInvalidDate: true }),
    fc.constantFrom('Z', 'z', '+00:00', '-05:30', '+14:00'),
  )
  .map(([date, offset]) => date.toISOString().replace('Z', offset));

/** Values that the contract cares about: right or wrong for some field. */
const plausible = fc.oneof(
  fc.constantFrom(...EVENT_TYPE_NAMES, 'LevelWon', 'toString', '__proto__', 'custom'),
  validTimestamp,
  fc.constantFrom('2026-04-22T14:30:00', '2026-13-01T00:00:00Z', '9999-12-31T23:30:00-01:00', 'yesterday', '0000-01-01T00:00:00Z'),
  fc.uuid(),
  fc.constantFrom('com.example.game', 'mygame', 'com..x', 'PowerUpUsed', '1abc', DEFAULT_SUB),
);

/** Wrong or odd values of modest size, cheap enough to repeat in up to 250 events. */
const oddSmallValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: fc.jsonValue({ maxDepth: 3 }), weight: 4 },
  { arbitrary: oddString, weight: 4 },
  { arbitrary: plausible, weight: 4 },
  { arbitrary: oddNumber, weight: 1 },
  { arbitrary: fc.integer({ min: 2, max: 50 }).map((depth) => new RawJson('['.repeat(depth) + ']'.repeat(depth))), weight: 1 },
  { arbitrary: fc.array(fc.oneof(oddString, fc.jsonValue({ maxDepth: 1 })), { maxLength: 5 }), weight: 1 },
);

/** Any wrong or odd value, huge strings, 20,000 levels of nesting and objects of 100+ keys included. */
const oddValue: fc.Arbitrary<unknown> = fc.oneof(
  { arbitrary: oddSmallValue, weight: 12 },
  { arbitrary: hugeString, weight: 1 },
  { arbitrary: deepNesting, weight: 1 },
  { arbitrary: fc.dictionary(oddString, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 120, size: 'medium' }), weight: 1 },
);

const customdata = fc.oneof(
  { arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }), weight: 4 },
  { arbitrary: oddSmallValue, weight: 1 },
);

const event = fc.record(
  {
    type: fc.oneof({ arbitrary: fc.constantFrom(...EVENT_TYPE_NAMES), weight: 6 }, { arbitrary: oddSmallValue, weight: 1 }),
    timestamp: fc.oneof({ arbitrary: validTimestamp, weight: 6 }, { arbitrary: oddSmallValue, weight: 1 }),
    customEventName: fc.oneof({ arbitrary: fc.constant('PowerUpUsed'), weight: 3 }, { arbitrary: oddString, weight: 1 }),
    customdata,
    event_id: fc.oneof({ arbitrary: fc.uuid(), weight: 3 }, { arbitrary: oddSmallValue, weight: 1 }),
  },
  { requiredKeys: ['type', 'timestamp'] },
);

/** Mostly events; now and then an event wrapped in an array, or some other value where an event belongs. */
const eventItem = fc.oneof(
  { arbitrary: event, weight: 12 },
  { arbitrary: event.map((e) => [e]), weight: 1 },
  { arbitrary: oddSmallValue, weight: 1 },
);

/** 0 to 250 events, built from a few generated ones so that long arrays stay cheap to generate. */
const events = fc
  .tuple(fc.integer({ min: 0, max: 250 }), fc.array(eventItem, { minLength: 1, maxLength: 4 }))
  .map(([count, pool]) => Array.from({ length: count }, (_, i) => pool[i % pool.length]));

type Batch = Record<string, unknown>;

/** A change to the API example; each describes itself for fast-check's report. */
type Mutation = { describe: string; apply: (body: Batch) => Batch | unknown[] };

/** A shallow copy that keeps every own property, "__proto__" included. */
function copyOf(value: object): Record<string, unknown> {
  return Object.defineProperties({}, Object.getOwnPropertyDescriptors(value));
}

/** Whether `value` is a JSON object, the only thing a mutation adds keys to or deletes them from. */
function isJsonObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof RawJson);
}

/**
 * The object a mutation works on: the body, one of its events, or that event's customdata; none when that is not
 * a JSON object. On an array a key is no JSON member, and keys such as "constructor" or "length" break or throw in
 * the array's own methods. Events are copied on the way, as generated event lists repeat the same few objects and
 * a change is meant for one event only.
 */
function containerOf(body: Batch, where: 'body' | 'event' | 'customdata', index: number): object | undefined {
  if (where === 'body') return body;
  const list = body.events;
  if (!Array.isArray(list) || list.length === 0) return undefined;
  const at = index % list.length;
  const item: unknown = list[at];
  if (!isJsonObject(item)) return undefined;
  const events = [...(list as unknown[])];
  const event = copyOf(item);
  events[at] = event;
  body.events = events;
  if (where === 'event') return event;
  const data = event.customdata;
  if (!isJsonObject(data)) return undefined;
  const copy = copyOf(data);
  setOwn(event, 'customdata', copy);
  return copy;
}

const where = fc.constantFrom('body' as const, 'event' as const, 'customdata' as const);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ where, index: fc.nat(300), key: fieldKey, value: oddValue }).map(({ where, index, key, value }) => ({
    describe: `set ${where}[${index}].${key}`,
    apply: (body: Batch) => {
      const target = containerOf(body, where, index);
      if (target !== undefined) setOwn(target, key, value);
      return body;
    },
  })),
  fc.record({ where, index: fc.nat(300), key: fieldKey }).map(({ where, index, key }) => ({
    describe: `delete ${where}[${index}].${key}`,
    apply: (body: Batch) => {
      const target = containerOf(body, where, index) as Record<string, unknown> | undefined;
      if (target !== undefined) delete target[key];
      return body;
    },
  })),
  events.map((list) => ({
    describe: `events = ${list.length} generated events`,
    apply: (body: Batch) => ({ ...body, events: list }),
  })),
  fc.constantFrom<Mutation>(
    { describe: 'wrap the body in an array', apply: (body) => [body] },
    { describe: 'events as an object', apply: (body) => ({ ...body, events: { ...(body.events as object) } }) },
    { describe: 'events of nulls', apply: (body) => ({ ...body, events: [null, 1, 'x'] }) },
  ),
);

/** Edits of the JSON text itself: a duplicate key in front (JSON.parse keeps the last), and bytes spliced in. */
/** `arbitrary` one time in `oneIn`, null otherwise. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, oneIn: number): fc.Arbitrary<T | null> =>
  fc.oneof({ arbitrary: fc.constant(null), weight: oneIn - 1 }, { arbitrary, weight: 1 });

const textEdit = fc.record({
  duplicate: sometimes(fc.record({ key: fieldKey, value: oddSmallValue }), 6),
  splice: sometimes(fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }), replace: fc.boolean() }), 5),
});

const mutatedExample = fc
  .record({
    userId: fc.constantFrom(DEFAULT_SUB, 'player-2', '😀 player'),
    mutations: fc.array(mutation, { maxLength: 4 }),
    edit: textEdit,
  })
  .map(({ userId, mutations, edit }) => {
    let body: unknown = exampleBatch(userId);
    for (const { apply } of mutations) body = Array.isArray(body) ? body : apply(body as Batch);
    let text = toJsonText(body);
    if (edit.duplicate !== null && text.startsWith('{')) {
      text = `{${JSON.stringify(edit.duplicate.key)}:${toJsonText(edit.duplicate.value)},${text.slice(1)}`;
    }
    let bytes = Buffer.from(text);
    if (edit.splice !== null) {
      const at = edit.splice.at % (bytes.length + 1);
      const insert = Buffer.from(edit.splice.bytes);
      bytes = Buffer.concat([bytes.subarray(0, at), insert, bytes.subarray(edit.splice.replace ? at + insert.length : at)]);
    }
    return { bytes, describe: mutations.map((m) => m.describe) };
  });

const auth = fc.constantFrom<Auth>('match', 'match', 'match', 'match', 'mismatch', 'none');

// ---------------------------------------------------------------------------------------------------------------
// The properties
// ---------------------------------------------------------------------------------------------------------------

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ANSWER_TIMEOUT_MS} ms: ${what}`)), ANSWER_TIMEOUT_MS);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** fc.assert, replayable from PROPERTY_SEED and PROPERTY_PATH, with a report naming both whatever failed. */
async function assertProperty<Ts>(property: fc.IAsyncProperty<Ts>, params: fc.Parameters<Ts>): Promise<void> {
  const seed = process.env.PROPERTY_SEED ? Number(process.env.PROPERTY_SEED) : Date.now() ^ (Math.random() * 0x100000000);
  assert.ok(Number.isSafeInteger(seed), `PROPERTY_SEED is an integer: ${process.env.PROPERTY_SEED}`);
  const path = process.env.PROPERTY_PATH || undefined;
  let details: fc.RunDetails<Ts>;
  try {
    details = await fc.check(property, { ...params, seed, path });
  } catch (error) {
    // fast-check reports failures of the predicate only; an error thrown while generating or shrinking escapes.
    throw new Error(
      `the property threw outside its predicate (in a generator?) with { seed: ${seed}, path: ${JSON.stringify(path ?? null)} }; ` +
        `replay with PROPERTY_SEED=${seed}${path === undefined ? '' : ` PROPERTY_PATH=${path}`}: ${error instanceof Error ? error.stack : String(error)}`,
      { cause: error },
    );
  }
  if (details.failed) {
    const replay = `PROPERTY_SEED=${details.seed} PROPERTY_PATH=${details.counterexamplePath}`;
    throw new Error(`${fc.defaultReportMessage(details)}\nReplay with ${replay}`, { cause: details.errorInstance });
  }
}

/** Counts answers by status, reported at the end of each property so that a run shows what it covered. */
class Tally {
  private readonly counts = new Map<number, number>();
  add(status: number): void {
    this.counts.set(status, (this.counts.get(status) ?? 0) + 1);
  }
  has(status: number): boolean {
    return this.counts.has(status);
  }
  report(t: TestContext): void {
    t.diagnostic(`statuses: ${JSON.stringify(Object.fromEntries([...this.counts].sort(([a], [b]) => a - b)))}`);
  }
}

describe('validation properties: whatever arrives, no 5xx and always the envelope', () => {
  let app: TestApp;
  before(async () => {
    app = await bootTestApp({ env: { BODY_LIMIT: String(LIMIT) } });
    // For the properties that need a real connection; the others inject.
    await app.app.listen(0, '127.0.0.1');
  });
  after(async () => {
    await app.close();
  });

  async function post(bytes: Buffer | string, headers: Record<string, string | undefined>): Promise<LightMyRequestResponse> {
    const defined = Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined)) as Record<string, string>;
    return within(app.inject({ method: 'POST', url: '/ingest/events', headers: defined, payload: bytes }), JSON.stringify(defined));
  }

  /** Sends `bytes` as application/json with `auth`, and checks the answer against the prediction. */
  async function check(bytes: Buffer, how: Auth, tally: Tally): Promise<void> {
    const authorization = authorizationFor(how, tryParse(bytes));
    const response = await post(bytes, { 'content-type': 'application/json', authorization });
    tally.add(response.statusCode);
    assertPredicted(response, bytes, how, authorization?.slice('Bearer '.length));
  }

  it('(a) any JSON value as the body', async (t) => {
    const tally = new Tally();
    const anyJson = fc.oneof(
      fc.jsonValue().map((value) => JSON.stringify(value)),
      fc.anything({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? ''),
      fc.dictionary(fieldKey, oddValue, { maxKeys: 6 }).map(toJsonText),
      fc.record({ user_id: fc.oneof(oddString, fc.constant(DEFAULT_SUB)), game_id: oddValue, events: oddValue }).map(toJsonText),
    );
    await assertProperty(
      fc.asyncProperty(anyJson, auth, async (text, how) => check(Buffer.from(text), how, tally)),
      { numRuns: RUNS, includeErrorInReport: true },
    );
    tally.report(t);
  });

  it('(b) mutations of the API example: fields dropped, replaced, added, retyped, huge, deep, odd text, 0 to 250 events', async (t) => {
    const tally = new Tally();
    await assertProperty(
      fc.asyncProperty(mutatedExample, auth, async ({ bytes }, how) => check(bytes, how, tally)),
      { numRuns: RUNS + 100, includeErrorInReport: true },
    );
    tally.report(t);
    // A replayed path is a single case, which cannot reach every outcome.
    if (process.env.PROPERTY_PATH === undefined) {
      assert.ok(tally.has(202) && tally.has(400) && tally.has(403) && tally.has(401), 'the mutations reach every outcome');
    }
  });

  it('(c) random bytes as the body', async (t) => {
    const tally = new Tally();
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      // Starting like an object takes the parser further in.
      fc.uint8Array({ maxLength: 200 }).map((tail) => Buffer.concat([Buffer.from('{"user_id":"'), tail])),
      // Around the size limit: pseudo-random bytes from a seed, as generating 128 KiB byte by byte is slow.
      fc.tuple(fc.integer({ min: LIMIT - 16, max: LIMIT + 16 }), fc.integer()).map(([length, seed]) => pseudoRandomBytes(length, seed)),
    );
    await assertProperty(
      fc.asyncProperty(bytes, auth, async (body, how) => check(Buffer.from(body), how, tally)),
      { numRuns: RUNS, includeErrorInReport: true },
    );
    tally.report(t);
  });

  describe('(d) random headers', () => {
    const GOOD_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=UTF-8'];
    const BAD_TYPES = [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/jsonx',
      'application/json-patch+json',
      'text/json',
      '',
      '*/*',
    ];
    const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });

    const contentType = fc.oneof(
      { arbitrary: fc.constantFrom(...GOOD_TYPES).map((value) => ({ value, kind: 'good' as const })), weight: 6 },
      { arbitrary: fc.constantFrom(...BAD_TYPES).map((value) => ({ value, kind: 'bad' as const })), weight: 1 },
      { arbitrary: fc.constant({ value: undefined, kind: 'bad' as const }), weight: 1 },
      { arbitrary: printable.map((value) => ({ value, kind: 'random' as const })), weight: 1 },
    );
    type Authorization = { value: string | undefined; kind: 'valid' | 'mismatch' | 'missing' | 'invalid' | 'expired' | 'random' };
    const authorization = fc.oneof(
      { arbitrary: fc.constant<Authorization>({ value: 'valid', kind: 'valid' }), weight: 3 },
      fc.constant<Authorization>({ value: 'mismatch', kind: 'mismatch' }),
      fc.constantFrom<Authorization>(
        { value: undefined, kind: 'missing' },
        { value: 'Bearer ', kind: 'missing' },
        { value: 'Bearer', kind: 'missing' },
        { value: 'Basic dXNlcjpwYXNz', kind: 'missing' },
        { value: 'Bearer not.a.jwt', kind: 'invalid' },
        { value: 'Bearer a.b.c.d', kind: 'invalid' },
        { value: 'expired', kind: 'expired' },
      ),
      printable.map<Authorization>((value) => ({ value, kind: 'random' })),
      printable.map<Authorization>((value) => ({ value: `Bearer ${value}`, kind: 'random' })),
    );
    type Coding = { value: string | undefined; encode: (body: Buffer) => Buffer; ok: boolean };
    const encoding = fc.oneof(
      {
        arbitrary: fc.constantFrom<Coding>(
          { value: undefined, encode: (b) => b, ok: true },
          { value: 'identity', encode: (b) => b, ok: true },
          { value: 'gzip', encode: (b) => gzipSync(b), ok: true },
          { value: 'deflate', encode: (b) => deflateSync(b), ok: true },
        ),
        weight: 4,
      },
      {
        arbitrary: fc.constantFrom<Coding>(
          { value: 'gzip', encode: (b) => b, ok: false },
          { value: 'br', encode: (b) => b, ok: false },
          { value: 'gzip, br', encode: (b) => gzipSync(b), ok: false },
        ),
        weight: 1,
      },
    );
    const extraHeaders = fc.dictionary(
      fc.constantFrom('x-forwarded-for', 'accept', 'accept-encoding', 'x-request-id', 'origin', 'user-agent', 'cookie'),
      printable,
      { maxKeys: 3 },
    );

    it('never a 5xx, always the envelope, and 415 / 401 / 403 exactly when the headers say so', async (t) => {
      const tally = new Tally();
      const userId = fc.constantFrom(DEFAULT_SUB, 'player-9', 'é-player');
      await assertProperty(
        fc.asyncProperty(userId, contentType, authorization, encoding, extraHeaders, async (user, type, auth, coding, extra) => {
          const json = Buffer.from(JSON.stringify(exampleBatch(user)));
          const value =
            auth.kind === 'valid'
              ? `Bearer ${tokenFor(user)}`
              : auth.kind === 'mismatch'
                ? `Bearer ${tokenFor(`${user}-other`)}`
                : auth.kind === 'expired'
                  ? `Bearer ${tokenFor(user, { expiresIn: -120 })}`
                  : auth.value;
          const response = await post(coding.encode(json), {
            ...extra,
            'content-type': type.value,
            'content-encoding': coding.value,
            authorization: value,
          });
          tally.add(response.statusCode);
          const envelope = assertAnswer(response);
          if (type.kind === 'random') return;
          if (type.kind === 'bad') {
            assert.equal(response.statusCode, 415);
            assert.equal(envelope?.error.message, 'content_type_must_be_application_json');
            return;
          }
          if (coding.value !== undefined && !['identity', 'gzip', 'deflate'].includes(coding.value)) {
            assert.equal(response.statusCode, 415);
            assert.equal(envelope?.error.message, 'unsupported_content_encoding');
            return;
          }
          // The token is checked before the body is read, so a body that does not decode is a 400 only for a valid one.
          const refusedToken = !['valid', 'mismatch'].includes(auth.kind);
          if (!coding.ok && !refusedToken) {
            assert.equal(response.statusCode, 400);
            return;
          }
          const expected = { valid: 202, mismatch: 403, missing: 401, invalid: 401, expired: 401, random: 401 }[auth.kind];
          assert.equal(response.statusCode, expected, response.body);
          if (auth.kind === 'missing') assert.equal(envelope?.error.message, 'missing_token');
          if (auth.kind === 'expired') assert.equal(envelope?.error.message, 'token_expired');
        }),
        { numRuns: RUNS, includeErrorInReport: true },
      );
      tally.report(t);
    });

    it('over a real connection, header bytes Node refuses are answered in the envelope too', async (t) => {
      const { port } = app.app.getHttpServer().address() as AddressInfo;
      const tally = new Tally();
      const body = JSON.stringify(exampleBatch());
      const headerName = fc.string({ unit: fc.constantFrom(...'abcxyz-_.!#0123456789'.split('')), minLength: 1, maxLength: 12 });
      // Any byte but CR and LF, so that the request stays framed while its header values may be refused.
      const headerValue = fc
        .uint8Array({ maxLength: 40 })
        .map((bytes) => Buffer.from(bytes.filter((b) => b !== 0x0d && b !== 0x0a)).toString('latin1'));
      const headers = fc.array(fc.tuple(headerName, headerValue), { maxLength: 3 });
      await assertProperty(
        fc.asyncProperty(headers, async (lines) => {
          const head = [
            'POST /ingest/events HTTP/1.1',
            'Host: 127.0.0.1',
            'Content-Type: application/json',
            `Authorization: Bearer ${tokenFor(DEFAULT_SUB)}`,
            ...lines.map(([name, value]) => `x-${name}: ${value}`),
            `Content-Length: ${Buffer.byteLength(body)}`,
            'Connection: close',
          ].join('\r\n');
          const raw = await within(exchange(port, Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), Buffer.from(body)])), head);
          const { status, contentType, text } = parseResponse(raw);
          tally.add(status);
          assertWellFormed(status, contentType, text);
          assert.ok([202, 400].includes(status), `status ${status}`);
        }),
        { numRuns: 100, includeErrorInReport: true },
      );
      tally.report(t);
    });

    it('over a real connection, malformed requests are answered in the envelope', async () => {
      const { port } = app.app.getHttpServer().address() as AddressInfo;
      const cases: Array<[string, string, number]> = [
        ['a garbage request line', 'GARBAGE\r\n\r\n', 400],
        [
          'conflicting Content-Length headers',
          'POST /ingest/events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
          400,
        ],
        ['a NUL in a header value', 'POST /ingest/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u0000\r\n\r\n', 400],
        [
          'a bad chunk size',
          'POST /ingest/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
          400,
        ],
        ['a header block over the size limit', `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`, 431],
      ];
      for (const [name, request, expected] of cases) {
        const { status, contentType, text } = parseResponse(await within(exchange(port, Buffer.from(request, 'latin1')), name));
        assert.equal(status, expected, name);
        assertWellFormed(status, contentType, text);
      }
    });
  });
});

/** `length` bytes from a xorshift generator seeded with `seed`. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed | 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

/** Writes `request` on a fresh connection and returns everything the server sends until it closes. */
function exchange(port: number, request: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? resolve(Buffer.concat(chunks)) : reject(error)));
  });
}

function parseResponse(raw: Buffer): { status: number; contentType: string | undefined; text: string } {
  const text = raw.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  assert.ok(end > 0, `an HTTP answer came back: ${JSON.stringify(text.slice(0, 200))}`);
  const [statusLine, ...headerLines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(statusLine)?.[1]);
  const header = (name: string) =>
    headerLines
      .find((line) => line.toLowerCase().startsWith(`${name}:`))
      ?.slice(name.length + 1)
      .trim();
  assert.equal(header('transfer-encoding'), undefined, 'answers carry a Content-Length');
  return { status, contentType: header('content-type'), text: text.slice(end + 4) };
}
