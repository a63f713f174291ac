// RFC 3339 section 5.6 date-time, with a mandatory offset. https://www.rfc-editor.org/rfc/rfc3339#section-5.6
// parseRfc3339 reads exactly this grammar without running it; the unit tests compare the two.
export const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export interface Instant {
  /** Milliseconds since the epoch, UTC. */
  epochMs: number;
  /** The instant in UTC, ISO 8601 with the client's precision kept down to microseconds. */
  utcIso: string;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

// Date.UTC reads years 0-99 as 1900-1999. The Gregorian calendar repeats every 400 years (146,097 days), so the
// instant is computed 400 years later and moved back: exact for every year.
const FOUR_CENTURIES_MS = 146_097 * 86_400_000;
// 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z: the UTC years PostgreSQL's timestamptz round-trips.
const MIN_EPOCH_MS = -62_135_596_800_000;
const END_EPOCH_MS = 253_402_300_800_000;

/**
 * Parses an RFC 3339 date-time with an offset and converts it to UTC. Undefined when the text is not one,
 * or when its UTC year falls outside 0001-9999, which PostgreSQL's timestamptz cannot round-trip.
 */
export function parseRfc3339(text: string): Instant | undefined {
  const epochMs = rfc3339EpochMs(text);
  if (epochMs === undefined) return undefined;
  const iso = isoString(epochMs);
  let fractionEnd = 19;
  if (text.charCodeAt(19) === DOT) for (fractionEnd = 20; isDigit(text.charCodeAt(fractionEnd));) fractionEnd++;
  // Digits past the milliseconds (kept down to microseconds) are rare; only they pay for a concatenation.
  return { epochMs, utcIso: fractionEnd > 23 ? `${iso.slice(0, -1)}${text.slice(23, Math.min(fractionEnd, 26))}Z` : iso };
}

/**
 * The instant of an RFC 3339 date-time with an offset, in milliseconds since the epoch; undefined as for parseRfc3339.
 * Validation needs no more than this.
 *
 * It runs for every event, so it reads character codes where a regular expression would build capture strings, and
 * does its arithmetic on numbers rather than through Date. The grammar it accepts is exactly DATE_TIME's (the unit
 * tests check the two against each other).
 */
export function rfc3339EpochMs(text: string): number | undefined {
  // yyyy-mm-ddThh:mm:ss is 19 characters; the shortest offset is one ("Z").
  if (text.length < 20) return undefined;
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hour = digits(text, 11, 2);
  const minute = digits(text, 14, 2);
  const second = digits(text, 17, 2);
  const t = text.charCodeAt(10);
  if (
    year < 0 ||
    month < 0 ||
    day < 0 ||
    hour < 0 ||
    minute < 0 ||
    second < 0 ||
    text.charCodeAt(4) !== DASH ||
    text.charCodeAt(7) !== DASH ||
    (t !== UPPER_T && t !== LOWER_T) ||
    text.charCodeAt(13) !== COLON ||
    text.charCodeAt(16) !== COLON
  ) {
    return undefined;
  }

  // Fractional seconds: a dot and 1 to 9 digits.
  let at = 19;
  let fractionEnd = at;
  if (text.charCodeAt(at) === DOT) {
    at++;
    while (at < text.length && isDigit(text.charCodeAt(at))) at++;
    fractionEnd = at;
    if (fractionEnd - 20 < 1 || fractionEnd - 20 > 9) return undefined;
  }

  let offsetMinutes = 0;
  const zone = text.charCodeAt(at);
  if (zone === UPPER_Z || zone === LOWER_Z) {
    if (at + 1 !== text.length) return undefined;
  } else if (zone === PLUS || zone === MINUS) {
    const offsetHours = digits(text, at + 1, 2);
    const offsetMins = digits(text, at + 4, 2);
    if (offsetHours < 0 || offsetMins < 0 || text.charCodeAt(at + 3) !== COLON || at + 6 !== text.length) return undefined;
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (zone === MINUS ? -1 : 1) * (offsetHours * 60 + offsetMins);
  } else {
    return undefined;
  }

  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // Second 60 is a leap second; it is stored as the first instant of the next minute.
  if (hour > 23 || minute > 59 || second > 60) return undefined;

  // The first three fraction digits are milliseconds (missing ones count as 0); the next three are kept as text.
  let millis = 0;
  for (let i = 0; i < 3; i++) millis = millis * 10 + (20 + i < fractionEnd ? text.charCodeAt(20 + i) - ZERO : 0);
  const epochMs = Date.UTC(year + 400, month - 1, day, hour, minute - offsetMinutes, second, millis) - FOUR_CENTURIES_MS;
  if (epochMs < MIN_EPOCH_MS || epochMs >= END_EPOCH_MS) return undefined;

  return epochMs;
}

const ZERO = 48;
const DASH = 45;
const COLON = 58;
const DOT = 46;
const PLUS = 43;
const MINUS = 45;
const UPPER_T = 84;
const LOWER_T = 116;
const UPPER_Z = 90;
const LOWER_Z = 122;

const isDigit = (code: number): boolean => code >= ZERO && code <= ZERO + 9;

/** The decimal number in `text` at [start, start + count), or -1 when one of those characters is not a digit 0-9. */
function digits(text: string, start: number, count: number): number {
  let value = 0;
  for (let i = start; i < start + count; i++) {
    const code = text.charCodeAt(i);
    if (!isDigit(code)) return -1;
    value = value * 10 + (code - ZERO);
  }
  return value;
}

const DAY_MS = 86_400_000;

/** The character code of the decimal digit of `value` at `unit` (1, 10, 100, 1000). */
const digitCode = (value: number, unit: number): number => ZERO + (Math.floor(value / unit) % 10);

/**
 * `new Date(epochMs).toISOString()` for the years 0001-9999, by arithmetic: toISOString was the most expensive step
 * of the parse. The civil date comes from the day count as in Howard Hinnant's `civil_from_days`
 * (https://howardhinnant.github.io/date_algorithms.html#civil_from_days). The string is built in one piece: joined
 * parts would make a tree of some 20 string objects per timestamp, each kept until the job is sent.
 */
function isoString(epochMs: number): string {
  const days = Math.floor(epochMs / DAY_MS);
  let rest = epochMs - days * DAY_MS;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(rest / 3_600_000);
  rest -= hour * 3_600_000;
  const minute = Math.floor(rest / 60_000);
  rest -= minute * 60_000;
  const second = Math.floor(rest / 1000);
  const millis = rest - second * 1000;
  // prettier-ignore
  return String.fromCharCode(
    digitCode(year, 1000), digitCode(year, 100), digitCode(year, 10), digitCode(year, 1), DASH,
    digitCode(month, 10), digitCode(month, 1), DASH, digitCode(day, 10), digitCode(day, 1), UPPER_T,
    digitCode(hour, 10), digitCode(hour, 1), COLON, digitCode(minute, 10), digitCode(minute, 1), COLON,
    digitCode(second, 10), digitCode(second, 1), DOT,
    digitCode(millis, 100), digitCode(millis, 10), digitCode(millis, 1), UPPER_Z,
  );
}
