import type { PartitionInterval } from '#platform';

/** The range of `occurred_at` one partition of `events` holds: from `start` (included) to `end` (excluded). */
export interface PartitionRange {
  start: Date;
  end: Date;
}

export const DEFAULT_PARTITION = 'events_default';

/** A UTC midnight; years below 100 are not read as 19xx (as Date.UTC would). */
function utcDay(year: number, month: number, day: number): Date {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  return date;
}

/**
 * The start of the interval holding `at`, in UTC: the first of the month, Monday (ISO 8601, as PostgreSQL's
 * date_trunc('week') counts), or midnight.
 */
export function intervalStart(at: Date, interval: PartitionInterval): Date {
  const [year, month, day] = [at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()];
  if (interval === 'month') return utcDay(year, month, 1);
  if (interval === 'day') return utcDay(year, month, day);
  return utcDay(year, month, day - ((at.getUTCDay() + 6) % 7));
}

/** The start of the interval after the one starting at `start`. */
export function intervalAfter(start: Date, interval: PartitionInterval): Date {
  const [year, month, day] = [start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate()];
  if (interval === 'month') return utcDay(year, month + 1, 1);
  return utcDay(year, month, day + (interval === 'week' ? 7 : 1));
}

/** The range of the interval holding `at`. */
export function rangeOf(at: Date, interval: PartitionInterval): PartitionRange {
  const start = intervalStart(at, interval);
  return { start, end: intervalAfter(start, interval) };
}

/** The interval holding `now` and the `ahead` intervals after it. */
export function rangesAhead(now: Date, interval: PartitionInterval, ahead: number): PartitionRange[] {
  const ranges = [rangeOf(now, interval)];
  while (ranges.length <= ahead) {
    const start = ranges[ranges.length - 1].end;
    ranges.push({ start, end: intervalAfter(start, interval) });
  }
  return ranges;
}

/**
 * A partition's name, from the day its range starts (UTC): `events_p20261101`. Ranges never overlap, so two
 * partitions never start on the same day, whatever the interval each was created with.
 */
export function partitionName(start: Date): string {
  const iso = start.toISOString();
  const date = iso.slice(0, iso.indexOf('T'));
  return `events_p${date.replaceAll('-', '')}`;
}

/**
 * The parts of `range` that none of `existing` covers, in order. Partitions created with another interval (after
 * EVENTS_PARTITION_INTERVAL changed) may cover part of a range: only the rest gets a partition.
 */
export function uncovered(range: PartitionRange, existing: readonly PartitionRange[]): PartitionRange[] {
  const overlapping = existing
    .filter(({ start, end }) => start < range.end && end > range.start)
    .sort((a, b) => a.start.getTime() - b.start.getTime());
  const parts: PartitionRange[] = [];
  let from = range.start;
  for (const { start, end } of overlapping) {
    if (start > from) parts.push({ start: from, end: start });
    if (end > from) from = end;
  }
  if (from < range.end) parts.push({ start: from, end: range.end });
  return parts;
}
