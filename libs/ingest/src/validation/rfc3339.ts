// RFC 3339 section 5.6 date-time, with a mandatory offset. https://www.rfc-editor.org/rfc/rfc3339#section-5.6
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export interface Instant {
  /** Milliseconds since the epoch, UTC. */
  epochMs: number;
  /** The instant in UTC, ISO 8601 with the client's precision kept down to microseconds. */
  utcIso: string;
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Parses an RFC 3339 date-time with an offset and converts it to UTC. Undefined when the text is not one,
 * or when its UTC year falls outside 0001-9999, which PostgreSQL's timestamptz cannot round-trip.
 */
export function parseRfc3339(text: string): Instant | undefined {
  const m = DATE_TIME.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
  const fraction = m[7] ?? '';
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  // Second 60 is a leap second; it is stored as the first instant of the next minute.
  if (hour > 23 || minute > 59 || second > 60) return undefined;

  let offsetMinutes = 0;
  if (m[8] === undefined) {
    const offsetHours = Number(m[10]);
    const offsetMins = Number(m[11]);
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }

  const millis = Number(fraction.slice(0, 3).padEnd(3, '0'));
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute - offsetMinutes, second, millis);
  const utcYear = date.getUTCFullYear();
  if (utcYear < 1 || utcYear > 9999) return undefined;

  const iso = date.toISOString();
  const micros = fraction.slice(3, 6);
  return { epochMs: date.getTime(), utcIso: micros === '' ? iso : `${iso.slice(0, -1)}${micros}Z` };
}
