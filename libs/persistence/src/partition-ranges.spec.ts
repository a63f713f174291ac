import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { intervalStart, partitionName, PartitionRange, rangeOf, rangesAhead, uncovered } from './partition-ranges';

const at = (iso: string) => new Date(iso);
const range = (start: string, end: string): PartitionRange => ({ start: at(start), end: at(end) });
const iso = (ranges: PartitionRange[]) =>
  ranges.map(({ start, end }) => [start.toISOString().slice(0, 10), end.toISOString().slice(0, 10)]);

describe('partition ranges of events (UTC)', () => {
  it('start on the first of the month, on Monday, or at midnight, in UTC', () => {
    const sunday = at('2026-11-29T23:30:00-02:00'); // Monday 30 November, 01:30 UTC
    assert.equal(intervalStart(sunday, 'month').toISOString(), '2026-11-01T00:00:00.000Z');
    assert.equal(intervalStart(sunday, 'week').toISOString(), '2026-11-30T00:00:00.000Z');
    assert.equal(intervalStart(sunday, 'day').toISOString(), '2026-11-30T00:00:00.000Z');
    assert.equal(intervalStart(at('2026-11-29T12:00:00Z'), 'week').toISOString(), '2026-11-23T00:00:00.000Z');
    assert.equal(intervalStart(at('0042-03-04T05:06:07Z'), 'month').toISOString(), '0042-03-01T00:00:00.000Z');
  });

  it('end where the next starts, across years and leap days', () => {
    assert.deepEqual(iso([rangeOf(at('2026-12-31T23:59:59.999Z'), 'month')]), [['2026-12-01', '2027-01-01']]);
    assert.deepEqual(iso([rangeOf(at('2028-02-29T10:00:00Z'), 'day')]), [['2028-02-29', '2028-03-01']]);
    assert.deepEqual(iso([rangeOf(at('2026-12-31T10:00:00Z'), 'week')]), [['2026-12-28', '2027-01-04']]);
  });

  it('are the current interval and as many after it as asked', () => {
    assert.deepEqual(iso(rangesAhead(at('2026-11-30T10:00:00Z'), 'month', 3)), [
      ['2026-11-01', '2026-12-01'],
      ['2026-12-01', '2027-01-01'],
      ['2027-01-01', '2027-02-01'],
      ['2027-02-01', '2027-03-01'],
    ]);
  });

  it('are named by the day they start', () => {
    assert.equal(partitionName(at('2026-11-01T00:00:00Z')), 'events_p20261101');
    assert.equal(partitionName(at('0042-03-01T00:00:00Z')), 'events_p00420301');
  });

  it('leave out what existing partitions cover (an interval changed since they were created)', () => {
    const november = range('2026-11-01', '2026-12-01');
    assert.deepEqual(iso(uncovered(november, [])), [['2026-11-01', '2026-12-01']]);
    assert.deepEqual(iso(uncovered(november, [november])), []);
    assert.deepEqual(iso(uncovered(range('2026-11-02', '2026-11-09'), [november])), []);
    // Weekly partitions, then monthly: the month gets what the weeks leave.
    assert.deepEqual(iso(uncovered(november, [range('2026-10-26', '2026-11-02'), range('2026-11-09', '2026-11-16')])), [
      ['2026-11-02', '2026-11-09'],
      ['2026-11-16', '2026-12-01'],
    ]);
    assert.deepEqual(iso(uncovered(november, [range('2026-12-01', '2027-01-01'), range('2026-10-01', '2026-11-01')])), [
      ['2026-11-01', '2026-12-01'],
    ]);
  });
});
