import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { useContainer } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { validate as classValidate } from 'class-validator';
import { acceptedInstance, ApiError, DtoValidationPipe, ErrorBody, loadConfig, VALIDATOR_OPTIONS } from '#platform';
import { EXAMPLE_BATCH } from '../api-examples';
import { CustomdataConstraint, MAX_APPLIED_CLOCK_SKEW_MS, TimestampConstraint } from '../validation/constraints';
import { IngestBatchDto } from './ingest-batch.dto';
import { addPricedEventType, PRICED_TYPE } from '../../../../support/test-event-type';

type Json = Record<string, unknown>;
type Event = Record<string, unknown>;
interface Batch extends Json {
  events: Event[];
}

const config = loadConfig({ NODE_ENV: 'test' });
const pipe = new DtoValidationPipe(config);
const HOUR_MS = 3600 * 1000;

/** The API page's example body, deep-copied so that each test can break it. */
const example = (): Batch => structuredClone<Batch>(EXAMPLE_BATCH);

/** The example with one change applied to it. */
function exampleWith(change: (batch: Batch) => void): Batch {
  const batch = example();
  change(batch);
  return batch;
}

function nestedObject(levels: number): Json {
  let value: Json = {};
  for (let level = 1; level < levels; level++) value = { a: value };
  return value;
}

const validate = (body: unknown): Promise<unknown> => pipe.transform(body, { type: 'body', metatype: IngestBatchDto });

/** Asserts a 400 invalid_payload envelope whose details name exactly `fields` (each field once, in any order). */
async function assertRefused(body: unknown, fields: string[]): Promise<ErrorBody> {
  let response: ErrorBody | undefined;
  await assert.rejects(validate(body), (error: unknown) => {
    assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
    assert.equal(error.getStatus(), 400);
    response = error.getResponse() as ErrorBody;
    return true;
  });
  assert.ok(response !== undefined);
  const { details, ...rest } = response.error;
  assert.deepEqual(rest, { code: 'BAD_REQUEST', message: 'invalid_payload' });
  assert.ok(Array.isArray(details) && details.length > 0, 'details lists the failing fields');
  for (const detail of details) {
    assert.deepEqual(Object.keys(detail).sort(), ['field', 'message']);
    assert.equal(typeof detail.message, 'string');
    assert.notEqual(detail.message, '');
  }
  assert.deepEqual([...new Set(details.map((d) => d.field))].sort(), [...fields].sort());
  return response;
}

describe('IngestBatchDto through the global DtoValidationPipe', () => {
  before(() => {
    // The same wiring as IngestModule.onModuleInit: class-validator gets the configured constraint instances.
    const instances = new Map<unknown, object>([
      [TimestampConstraint, new TimestampConstraint(config)],
      [CustomdataConstraint, new CustomdataConstraint(config)],
    ]);
    useContainer({ get: (type: unknown) => instances.get(type) }, { fallback: true });
  });

  it('accepts the API page example and returns the typed DTO with customdata untouched', async () => {
    const result = await validate(example());
    assert.ok(result instanceof IngestBatchDto);
    assert.equal(result.user_id, 'device-abc-123');
    assert.equal(result.game_id, 'com.example.stackblaster');
    assert.deepEqual(
      result.events.map((e) => [e.type, e.customEventName, e.timestamp, e.customdata]),
      EXAMPLE_BATCH.events.map((e) => [e.type, 'customEventName' in e ? e.customEventName : undefined, e.timestamp, e.customdata]),
    );
  });

  it('accepts the limits themselves', async () => {
    const event = { type: 'LevelStarted', timestamp: '2026-04-22T14:30:00Z', event_id: '6f1c2b7e-9a4d-4c3b-8e2f-1a2b3c4d5e6f' };
    const result = await validate({
      user_id: '😀'.repeat(128), // 128 code points, 256 UTF-16 units
      game_id: `com.${'a'.repeat(251)}`, // 255 characters
      events: Array.from({ length: 200 }, () => ({ ...event, customdata: nestedObject(5) })),
    });
    assert.ok(result instanceof IngestBatchDto);
    assert.equal(result.events.length, 200);
  });

  it('accepts a custom event name of 64 letters, digits, "_", "." and "-", in any script', async () => {
    for (const name of ['a'.repeat(64), 'Ébène_2.x-y', 'Уровень']) {
      await validate(exampleWith((b) => (b.events[2].customEventName = name)));
    }
  });

  it('accepts a timestamp 23 hours in the future', async () => {
    // Without the example's sent_at, which would judge it by the example device's clock (see sent_at below).
    await validate(
      exampleWith((b) => {
        delete b.sent_at;
        b.events[0].timestamp = new Date(Date.now() + 23 * HOUR_MS).toISOString();
      }),
    );
  });

  describe('user_id', () => {
    const cases: Array<[string, (b: Batch) => void]> = [
      ['missing', (b) => delete b.user_id],
      ['not a string', (b) => (b.user_id = 42)],
      ['an array', (b) => (b.user_id = ['device-abc-123'])],
      ['empty', (b) => (b.user_id = '')],
      ['129 code points', (b) => (b.user_id = '😀'.repeat(129))],
      ['containing U+0000', (b) => (b.user_id = 'device\u0000abc')],
      ['containing a lone surrogate', (b) => (b.user_id = 'device\ud800')],
    ];
    for (const [name, change] of cases) {
      it(`refuses user_id ${name}`, async () => {
        await assertRefused(exampleWith(change), ['user_id']);
      });
    }
  });

  describe('game_id', () => {
    for (const gameId of ['mygame', '1com.x', 'com..x', 'com.x.', '.com.x', 'com.x y', `com.${'a'.repeat(252)}`, 42]) {
      it(`refuses ${JSON.stringify(gameId).slice(0, 30)}`, async () => {
        await assertRefused(
          exampleWith((b) => (b.game_id = gameId)),
          ['game_id'],
        );
      });
    }
  });

  describe('events', () => {
    const cases: Array<[string, (b: Batch) => void, string[]]> = [
      ['missing', (b) => delete (b as Json).events, ['events']],
      ['empty', (b) => (b.events = []), ['events']],
      ['a string', (b) => ((b as Json).events = 'events'), ['events']],
      ['null', (b) => ((b as Json).events = null), ['events']],
      ['an object', (b) => ((b as Json).events = { 0: b.events[0] }), ['events']],
      ['containing null', (b) => ((b as Json).events = [b.events[0], null]), ['events[1]']],
      ['containing an empty array', (b) => ((b as Json).events = [[]]), ['events[0]']],
      ['containing an event wrapped in an array', (b) => ((b as Json).events = [b.events[0], [b.events[1]]]), ['events[1]']],
      ['containing a number and a string', (b) => ((b as Json).events = [1, b.events[0], 'LevelStarted']), ['events[0]', 'events[2]']],
    ];
    for (const [name, change, fields] of cases) {
      it(`refuses events ${name}`, async () => {
        await assertRefused(exampleWith(change), fields);
      });
    }

    /** `count` events whose `type` counts how often it is read. */
    function watchedEvents(count: number, event: Record<string, unknown>, type: string): { events: object[]; reads: () => number } {
      let reads = 0;
      const events = Array.from({ length: count }, () =>
        Object.defineProperty({ ...event }, 'type', {
          enumerable: true,
          get: () => {
            reads++;
            return type;
          },
        }),
      );
      return { events, reads: () => reads };
    }

    it('refuses 201 events with one detail, before looking at any event', async () => {
      const { events, reads } = watchedEvents(201, { timestamp: '2026-04-22T14:30:00Z' }, 'LevelStarted');
      const { error } = await assertRefused({ user_id: 'u', game_id: 'com.x', events }, ['events']);
      assert.equal(error.details?.length, 1);
      assert.match(error.details[0].message, /at most 200/);
      assert.equal(reads(), 0, 'no event was transformed or walked');
    });

    it('refuses 100000 invalid events with one detail, without reading any of them', async () => {
      const { events, reads } = watchedEvents(100_000, { timestamp: 'never', extra: { a: [] } }, 'Nope');
      const { error } = await assertRefused({ user_id: 'u', game_id: 'com.x', events }, ['events']);
      assert.equal(error.details?.length, 1);
      assert.equal(reads(), 0, 'the batch size is checked before the events are');
    });
  });

  describe('an event', () => {
    const inTheFuture = (ms: number): string => new Date(Date.now() + ms).toISOString();
    const cases: Array<[string, (b: Batch) => void, string[]]> = [
      ['with an unknown type', (b) => (b.events[1].type = 'LevelWon'), ['events[1].type']],
      ['with a type named like an Object.prototype key', (b) => (b.events[1].type = 'toString'), ['events[1].type']],
      ['without a timestamp', (b) => delete b.events[0].timestamp, ['events[0].timestamp']],
      ['with a timestamp without offset', (b) => (b.events[0].timestamp = '2026-04-22T14:30:00'), ['events[0].timestamp']],
      ['with a numeric timestamp', (b) => (b.events[0].timestamp = Date.now()), ['events[0].timestamp']],
      [
        'with a timestamp 25 hours in the future',
        (b) => {
          delete b.sent_at;
          b.events[0].timestamp = inTheFuture(25 * HOUR_MS);
        },
        ['events[0].timestamp'],
      ],
      ['of type Custom without customEventName', (b) => delete b.events[2].customEventName, ['events[2].customEventName']],
      ['with customEventName when type is not Custom', (b) => (b.events[0].customEventName = 'Extra'), ['events[0].customEventName']],
      ['with customEventName null when type is not Custom', (b) => (b.events[0].customEventName = null), ['events[0].customEventName']],
      ['with customEventName starting with a digit', (b) => (b.events[2].customEventName = '1abc'), ['events[2].customEventName']],
      ['with a 65-character customEventName', (b) => (b.events[2].customEventName = 'a'.repeat(65)), ['events[2].customEventName']],
      ['with an empty customEventName', (b) => (b.events[2].customEventName = ''), ['events[2].customEventName']],
      ['with customEventName containing a space', (b) => (b.events[2].customEventName = 'Power Up'), ['events[2].customEventName']],
      ['with customdata null', (b) => (b.events[0].customdata = null), ['events[0].customdata']],
      ['with customdata an array', (b) => (b.events[0].customdata = [1, 2]), ['events[0].customdata']],
      ['with customdata a string', (b) => (b.events[0].customdata = '{"level":5}'), ['events[0].customdata']],
      ['with customdata 6 levels deep', (b) => (b.events[0].customdata = nestedObject(6)), ['events[0].customdata']],
      [
        'with customdata holding __proto__',
        (b) => (b.events[0].customdata = JSON.parse('{"__proto__":{"admin":true}}') as unknown),
        ['events[0].customdata'],
      ],
      ['with an event_id that is not a UUID', (b) => (b.events[0].event_id = 'not-a-uuid'), ['events[0].event_id']],
      ['with event_id null', (b) => (b.events[0].event_id = null), ['events[0].event_id']],
      ['with an unknown property', (b) => (b.events[0].foo = 1), ['events[0].foo']],
    ];
    for (const [name, change, fields] of cases) {
      it(`refuses an event ${name}`, async () => {
        await assertRefused(exampleWith(change), fields);
      });
    }
  });

  it('refuses an unknown top-level property', async () => {
    await assertRefused(
      exampleWith((b) => (b.extra = true)),
      ['extra'],
    );
  });

  it('quotes unknown keys that are not plain names, so that none reads as "" (the whole body) or as a nested path', async () => {
    await assertRefused(
      exampleWith((b) => {
        b[''] = 1;
        b['a.b'] = 2;
        b['0'] = 3;
        b.events[0]['x y'] = 4;
        b.events[1]['7'] = 5;
      }),
      ['[""]', '["a.b"]', '["0"]', 'events[0]["x y"]', 'events[1]["7"]'],
    );
  });

  it('quotes a key that is not a plain name in a path found before validation', async () => {
    await assertRefused(
      exampleWith((b) => (b['a.b'] = JSON.parse('{"__proto__":1}') as unknown)),
      ['["a.b"].__proto__'],
    );
    await assertRefused(
      exampleWith((b) => (b[''] = [[[[[[[[1]]]]]]]])),
      ['[""]' + '[0]'.repeat(7)],
    );
  });

  it('refuses unknown top-level properties named like Object.prototype members', async () => {
    await assertRefused(JSON.parse(`{"constructor":{"a":1},${JSON.stringify(example()).slice(1)}`), ['constructor']);
    await assertRefused(JSON.parse(`{"__proto__":{"a":1},${JSON.stringify(example()).slice(1)}`), ['__proto__']);
  });

  it('lists every failing field in one answer', async () => {
    const body = exampleWith((b) => {
      delete b.user_id;
      b.game_id = 'mygame';
      b.events[0].timestamp = 'yesterday';
      b.events[1].type = 'LevelWon';
      delete b.events[2].customEventName;
      b.events[2].customdata = [];
      b.extra = 1;
    });
    await assertRefused(body, [
      'user_id',
      'game_id',
      'events[0].timestamp',
      'events[1].type',
      'events[2].customEventName',
      'events[2].customdata',
      'extra',
    ]);
  });

  describe('an event of a type with a customdata DTO (a test-only type: the catalogue has none yet)', () => {
    before(addPricedEventType);

    const priced = (customdata: unknown) =>
      exampleWith((b) => (b.events[2] = { type: PRICED_TYPE, timestamp: '2026-04-22T14:30:00Z', customdata }));

    it('is accepted when its DTO accepts its customdata, which stays as parsed', async () => {
      const result = (await validate(priced({ price: 250, currency: 'EUR' }))) as IngestBatchDto;
      assert.deepEqual(result.events[2].customdata, { price: 250, currency: 'EUR' });
    });

    it('is refused with the failing customdata field named by its path', async () => {
      const { error } = await assertRefused(priced({ price: -1 }), ['events[2].customdata.price']);
      assert.deepEqual(error.details, [{ field: 'events[2].customdata.price', message: 'price must not be less than 0' }]);
    });

    it('is refused when its customdata has a key the DTO does not declare, as anywhere in the body', async () => {
      const { error } = await assertRefused(priced({ price: 1, discount: 5 }), ['events[2].customdata.discount']);
      assert.deepEqual(error.details, [{ field: 'events[2].customdata.discount', message: 'property discount should not exist' }]);
    });

    it('is listed with the other failing fields in one answer', async () => {
      const body = priced({ price: 'free', currency: 'GBP' });
      body.events[0].timestamp = 'yesterday';
      delete body.user_id;
      await assertRefused(body, ['user_id', 'events[0].timestamp', 'events[2].customdata.price', 'events[2].customdata.currency']);
    });

    it('has customdata that breaks the limits reported as customdata, as for any type', async () => {
      await assertRefused(priced({ price: 1, note: 'x'.repeat(9000) }), ['events[2].customdata']);
      await assertRefused(priced('{"price":1}'), ['events[2].customdata']);
    });
  });

  describe('sent_at: the device clock the timestamps are judged by', () => {
    const DAY_MS = 24 * HOUR_MS;
    const at = (offsetMs: number): string => new Date(Date.now() + offsetMs).toISOString();
    /**
     * The example sent by a device whose clock is `skewMs` off, with every timestamp `ahead` of the device's clock;
     * its sent_at is the device's clock, or `sentAt` ('none': no sent_at).
     */
    const sentWithClock = (skewMs: number, ahead = -HOUR_MS, sentAt: string = at(skewMs)): Batch =>
      exampleWith((b) => {
        if (sentAt === 'none') delete b.sent_at;
        else b.sent_at = sentAt;
        for (const event of b.events) event.timestamp = at(skewMs + ahead);
      });
    /** Both paths, each on its own: the fast path's instance, and class-transformer + class-validator's errors. */
    async function bothPaths(body: Batch): Promise<{ fast: boolean; full: boolean }> {
      const fast = acceptedInstance(IngestBatchDto, structuredClone(body), VALIDATOR_OPTIONS) !== undefined;
      const errors = await classValidate(plainToInstance(IngestBatchDto, structuredClone(body)), VALIDATOR_OPTIONS);
      return { fast, full: errors.length === 0 };
    }

    it('is optional, and kept on the DTO as sent', async () => {
      for (const sentAt of ['2026-04-22T14:31:00+00:00', '2026-04-22t16:31:00.123456789+02:00', '2026-04-22T14:31:00z']) {
        const result = (await validate(exampleWith((b) => (b.sent_at = sentAt)))) as IngestBatchDto;
        assert.equal(result.sent_at, sentAt);
      }
      assert.equal(((await validate(exampleWith((b) => delete b.sent_at))) as IngestBatchDto).sent_at, undefined);
    });

    for (const sentAt of ['yesterday', '2026-04-22T14:31:00', '2026-02-30T00:00:00Z', '2026-04-22 14:31:00Z', 1776868260000, null, '']) {
      it(`is refused with the field sent_at when it is ${JSON.stringify(sentAt)}`, async () => {
        const { error } = await assertRefused(
          exampleWith((b) => (b.sent_at = sentAt)),
          ['sent_at'],
        );
        assert.match(error.details?.[0].message ?? '', /^sent_at must be an RFC 3339 date-time/);
      });
    }

    it('lets a device whose clock is two days fast send events two days ahead of ours, on both paths', async () => {
      const body = sentWithClock(2 * DAY_MS);
      assert.deepEqual(await bothPaths(body), { fast: true, full: true });
      await validate(body);
      // The same timestamps without sent_at are judged by our clock.
      const { error } = await assertRefused(sentWithClock(2 * DAY_MS, -HOUR_MS, 'none'), [
        'events[0].timestamp',
        'events[1].timestamp',
        'events[2].timestamp',
      ]);
      assert.match(error.details?.[0].message ?? '', /^timestamp must not be more than 86400 seconds in the future$/);
    });

    it('applies the future window to the corrected timestamp: at most 24 hours after sent_at, ahead or behind', async () => {
      await validate(sentWithClock(2 * DAY_MS, 23 * HOUR_MS));
      const { error } = await assertRefused(
        exampleWith((b) => {
          b.sent_at = at(2 * DAY_MS);
          b.events[1].timestamp = at(2 * DAY_MS + 25 * HOUR_MS);
        }),
        ['events[1].timestamp'],
      );
      assert.equal(error.details?.[0].message, 'timestamp must not be more than 86400 seconds in the future by the device clock (sent_at)');
      // A device two days behind: a timestamp 23 hours ahead of our clock is 71 hours ahead of its own.
      await validate(sentWithClock(-2 * DAY_MS, 23 * HOUR_MS));
      await assertRefused(
        exampleWith((b) => {
          b.sent_at = at(-2 * DAY_MS);
          b.events[0].timestamp = at(23 * HOUR_MS);
        }),
        ['events[0].timestamp'],
      );
      assert.deepEqual(await bothPaths(sentWithClock(2 * DAY_MS, 25 * HOUR_MS)), { fast: false, full: false });
    });

    it('is not applied beyond a year from our clock: the timestamps are then judged by ours, and the batch is not refused for it', async () => {
      const farAhead = MAX_APPLIED_CLOCK_SKEW_MS + DAY_MS;
      await assertRefused(sentWithClock(farAhead), ['events[0].timestamp', 'events[1].timestamp', 'events[2].timestamp']);
      await validate(sentWithClock(0, -HOUR_MS, at(farAhead)));
      // A clock reset to 1970 sending 1970 timestamps: accepted as without sent_at (there is no maximum age by default).
      await validate(sentWithClock(0, -HOUR_MS, '1970-01-01T00:00:00Z'));
      assert.deepEqual(await bothPaths(sentWithClock(farAhead)), { fast: false, full: false });
      // Within the bound it applies.
      await validate(sentWithClock(MAX_APPLIED_CLOCK_SKEW_MS - DAY_MS));
    });

    it('with a malformed sent_at, judges the timestamps by our clock and names sent_at too', async () => {
      await assertRefused(sentWithClock(2 * DAY_MS, -HOUR_MS, '2026-13-01T00:00:00Z'), [
        'sent_at',
        'events[0].timestamp',
        'events[1].timestamp',
        'events[2].timestamp',
      ]);
    });

    it('applies the maximum age to the corrected timestamp too, when TIMESTAMP_MAX_AGE_SECONDS is set', () => {
      const constraint = new TimestampConstraint(loadConfig({ NODE_ENV: 'test', TIMESTAMP_MAX_AGE_SECONDS: String(7 * 24 * 3600) }));
      const now = Date.parse('2026-04-22T14:31:00Z');
      const tooOld = 'must not be more than 604800 seconds in the past';
      // By our clock: six days old passes, eight days old does not.
      assert.equal(constraint.problem('2026-04-16T14:31:00Z', undefined, now), undefined);
      assert.equal(constraint.problem('2026-04-14T14:31:00Z', undefined, now), tooOld);
      // A device two days behind: eight days old by our clock is six by its own.
      assert.equal(constraint.problem('2026-04-14T14:31:00Z', -2 * DAY_MS, now), undefined);
      // A device two days fast: six days old by our clock is eight by its own.
      assert.equal(constraint.problem('2026-04-16T14:31:00Z', 2 * DAY_MS, now), `${tooOld} by the device clock (sent_at)`);
      assert.equal(constraint.problem('2026-04-18T14:31:00Z', 2 * DAY_MS, now), undefined);
    });

    it('with EVENTS_RETENTION_DAYS, refuses what the retention would drop, as stored (uncorrected), naming the limit', () => {
      const constraint = new TimestampConstraint(loadConfig({ NODE_ENV: 'test', EVENTS_RETENTION_DAYS: '7' }));
      const now = Date.parse('2026-04-22T14:31:00Z');
      const expired = 'must not be more than 604800 seconds in the past (EVENTS_RETENTION_DAYS: events older than 7 days are not kept)';
      assert.equal(constraint.problem('2026-04-16T14:31:00Z', undefined, now), undefined);
      assert.equal(constraint.problem('2026-04-14T14:31:00Z', undefined, now), expired);
      // A device two days behind: six days old by its clock, but stored as eight days old, which the retention drops.
      assert.equal(constraint.problem('2026-04-14T14:31:00Z', -2 * DAY_MS, now), expired);
      // A device two days fast: eight days old by its own clock, refused by the maximum age only when that is set.
      assert.equal(constraint.problem('2026-04-16T14:31:00Z', 2 * DAY_MS, now), undefined);
    });
  });

  describe('a body that is not a JSON object', () => {
    for (const [name, body] of [
      ['an array', [EXAMPLE_BATCH]],
      ['a string', JSON.stringify(EXAMPLE_BATCH)],
      ['null', null],
      ['a number', 1],
    ] as const) {
      it(`refuses ${name} with the field ""`, async () => {
        await assertRefused(body, ['']);
      });
    }
  });

  describe('deep nesting is refused with a 400, not a RangeError', () => {
    it('5000 levels inside customdata', async () => {
      const { error } = await assertRefused(
        exampleWith((b) => (b.events[0].customdata = nestedObject(5000))),
        ['events[0].customdata'],
      );
      assert.match(error.details?.[0].message ?? '', /at most 5 levels deep/);
    });

    it('5000 levels of arrays inside customdata', async () => {
      const deep: unknown = JSON.parse(`{"a":${'['.repeat(5000)}${']'.repeat(5000)}}`);
      await assertRefused(
        exampleWith((b) => (b.events[1].customdata = deep)),
        ['events[1].customdata'],
      );
    });

    it('5000 levels in an unknown property', async () => {
      let error: unknown;
      await assert.rejects(validate(exampleWith((b) => (b.extra = nestedObject(5000)))), (e: unknown) => {
        error = e;
        return true;
      });
      assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
      assert.equal(error.getStatus(), 400);
      const fields = (error.getResponse() as ErrorBody).error.details?.map((d) => d.field) ?? [];
      assert.equal(fields.length, 1);
      assert.match(fields[0], /^extra(\.a)*$/);
    });
  });
});
