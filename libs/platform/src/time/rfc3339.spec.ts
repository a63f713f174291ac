import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DATE_TIME, Instant, parseRfc3339 } from './rfc3339';

/**
 * The straightforward implementation parseRfc3339 replaced (DATE_TIME and Date setters): the hand-written scanner and
 * date arithmetic must give the same answer for every input.
 */
function reference(text: string): Instant | undefined {
  const m = DATE_TIME.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const fraction = m[7] ?? '';
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31;
  if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 60) return undefined;
  let offsetMinutes = 0;
  if (m[8] === undefined) {
    if (Number(m[10]) > 23 || Number(m[11]) > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  }
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, Number(fraction.slice(0, 3).padEnd(3, '0')));
  if (date.getUTCFullYear() < 1 || date.getUTCFullYear() > 9999) return undefined;
  const iso = date.toISOString();
  const micros = fraction.slice(3, 6);
  return { epochMs: date.getTime(), utcIso: micros === '' ? iso : `${iso.slice(0, -1)}${micros}Z` };
}

const two = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'));
/** Date-times near the grammar: valid ones, out-of-range fields, odd fractions and offsets, and random edits of them. */
const nearlyRfc3339 = fc
  .tuple(
    fc
      .oneof(fc.integer({ min: 0, max: 9999 }), fc.constantFrom(0, 1, 99, 100, 1900, 2000, 2024, 9999))
      .map((y) => String(y).padStart(4, '0')),
    two(13),
    two(32),
    fc.constantFrom('T', 't', ' '),
    two(24),
    two(61),
    two(61),
    fc.oneof(fc.constant(''), fc.stringMatching(/^\.\d{0,10}$/)),
    fc.oneof(
      fc.constantFrom('Z', 'z', '', 'ZZ', '+0100'),
      fc.tuple(fc.constantFrom('+', '-'), two(25), two(61)).map(([s, h, m]) => `${s}${h}:${m}`),
    ),
  )
  .map(([y, mo, d, t, h, mi, s, f, z]) => `${y}-${mo}-${d}${t}${h}:${mi}:${s}${f}${z}`)
  .chain((text) =>
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(text) },
      {
        weight: 1,
        arbitrary: fc
          .tuple(fc.nat(text.length), fc.nat(text.length), fc.constantFrom('', '0', '9', '-', ':', 'T', '.', '\n', '٣'))
          .map(([from, to, insert]) => text.slice(0, Math.min(from, to)) + insert + text.slice(Math.max(from, to))),
      },
    ),
  );

describe('parseRfc3339', () => {
  describe('accepts RFC 3339 date-times with an offset and converts them to UTC', () => {
    const accepted: Array<[input: string, utcIso: string]> = [
      ['2026-04-22T14:30:00+00:00', '2026-04-22T14:30:00.000Z'],
      ['2026-04-22T14:30:00Z', '2026-04-22T14:30:00.000Z'],
      ['2026-04-22t14:30:00z', '2026-04-22T14:30:00.000Z'],
      ['2026-04-22T14:30:00-00:00', '2026-04-22T14:30:00.000Z'],
      ['2026-04-22T16:30:00+02:00', '2026-04-22T14:30:00.000Z'],
      ['2026-04-22T09:00:00-05:30', '2026-04-22T14:30:00.000Z'],
      // The offset moves the instant across a day, month and year boundary.
      ['2027-01-01T01:00:00+02:00', '2026-12-31T23:00:00.000Z'],
      ['2026-12-31T23:30:00-23:59', '2027-01-01T23:29:00.000Z'],
      ['2024-02-29T12:00:00Z', '2024-02-29T12:00:00.000Z'],
      ['0001-01-01T00:00:00Z', '0001-01-01T00:00:00.000Z'],
      ['9999-12-31T23:59:59Z', '9999-12-31T23:59:59.000Z'],
      // A local year 0 that is year 1 in UTC is fine: only the UTC year is bounded.
      ['0000-12-31T23:30:00-01:00', '0001-01-01T00:30:00.000Z'],
    ];
    for (const [input, utcIso] of accepted) {
      it(`${input} -> ${utcIso}`, () => {
        const instant = parseRfc3339(input);
        assert.ok(instant !== undefined, `${input} should be accepted`);
        assert.equal(instant.utcIso, utcIso);
        assert.equal(instant.epochMs, Date.parse(utcIso));
      });
    }
  });

  describe('keeps fractional seconds down to microseconds', () => {
    const fractions: Array<[input: string, utcIso: string, epochMs: number]> = [
      ['2026-01-01T00:00:00.1Z', '2026-01-01T00:00:00.100Z', Date.UTC(2026, 0, 1, 0, 0, 0, 100)],
      ['2026-01-01T00:00:00.12Z', '2026-01-01T00:00:00.120Z', Date.UTC(2026, 0, 1, 0, 0, 0, 120)],
      ['2026-01-01T00:00:00.123Z', '2026-01-01T00:00:00.123Z', Date.UTC(2026, 0, 1, 0, 0, 0, 123)],
      ['2026-01-01T00:00:00.123456Z', '2026-01-01T00:00:00.123456Z', Date.UTC(2026, 0, 1, 0, 0, 0, 123)],
      ['2026-01-01T00:00:00.000001Z', '2026-01-01T00:00:00.000001Z', Date.UTC(2026, 0, 1)],
      // Nanoseconds are accepted but cut to microseconds, the precision PostgreSQL stores.
      ['2026-01-01T00:00:00.123456789Z', '2026-01-01T00:00:00.123456Z', Date.UTC(2026, 0, 1, 0, 0, 0, 123)],
      ['2026-01-01T02:00:00.123456+02:00', '2026-01-01T00:00:00.123456Z', Date.UTC(2026, 0, 1, 0, 0, 0, 123)],
      ['9999-12-31T23:59:59.999999Z', '9999-12-31T23:59:59.999999Z', Date.UTC(9999, 11, 31, 23, 59, 59, 999)],
    ];
    for (const [input, utcIso, epochMs] of fractions) {
      it(`${input} -> ${utcIso}`, () => {
        assert.deepEqual(parseRfc3339(input), { epochMs, utcIso });
      });
    }
  });

  it('stores a leap second as the first instant of the next minute', () => {
    assert.equal(parseRfc3339('2026-06-30T23:59:60Z')?.utcIso, '2026-07-01T00:00:00.000Z');
    assert.equal(parseRfc3339('2026-06-30T23:59:61Z'), undefined);
  });

  describe('refuses anything else', () => {
    const refused: Array<[input: string, why: string]> = [
      ['2026-02-29T00:00:00Z', 'February 29 in a non-leap year'],
      ['1900-02-29T00:00:00Z', 'February 29 in a century that is not a leap year'],
      ['2026-04-31T00:00:00Z', 'April 31'],
      ['2026-13-01T00:00:00Z', 'month 13'],
      ['2026-00-01T00:00:00Z', 'month 0'],
      ['2026-01-32T00:00:00Z', 'day 32'],
      ['2026-01-00T00:00:00Z', 'day 0'],
      ['2026-01-01T24:00:00Z', 'hour 24'],
      ['2026-01-01T00:60:00Z', 'minute 60'],
      ['2026-01-01T00:00:00+24:00', 'offset hour 24'],
      ['2026-01-01T00:00:00+01:60', 'offset minute 60'],
      ['2026-01-01T00:00:00', 'no offset'],
      ['2026-01-01 00:00:00Z', 'a space instead of T'],
      ['2026-01-01T00:00:00+0100', 'an offset without a colon'],
      ['2026-01-01', 'a date only'],
      ['2026-01-01T00:00:00.Z', 'an empty fraction'],
      ['2026-01-01T00:00:00.1234567890Z', 'more than 9 fraction digits'],
      ['+2026-01-01T00:00:00Z', 'a signed year'],
      ['2026-01-01T00:00:00Z\n', 'a trailing newline'],
      ['', 'an empty string'],
      ['0001-01-01T00:30:00+01:00', 'UTC year 0'],
      ['0000-01-01T00:00:00Z', 'year 0'],
      ['9999-12-31T23:30:00-01:00', 'UTC year 10000'],
      ['9999-12-31T23:59:60Z', 'a leap second rolling into UTC year 10000'],
    ];
    for (const [input, why] of refused) {
      it(`${JSON.stringify(input)}: ${why}`, () => {
        assert.equal(parseRfc3339(input), undefined);
      });
    }
  });

  it('answers exactly as the regular-expression implementation it replaced, for any input', () => {
    fc.assert(
      fc.property(fc.oneof({ weight: 9, arbitrary: nearlyRfc3339 }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) }), (text) => {
        assert.deepEqual(parseRfc3339(text), reference(text), JSON.stringify(text));
      }),
      { numRuns: 20_000 },
    );
  });

  it('converts every instant of years 0001-9999 as Date does', () => {
    fc.assert(
      fc.property(
        fc.date({ min: new Date('0001-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59.999Z'), noInvalidDate: true }),
        (date) => {
          const text = date.toISOString();
          assert.deepEqual(parseRfc3339(text), { epochMs: date.getTime(), utcIso: text });
        },
      ),
      { numRuns: 20_000 },
    );
  });
});
