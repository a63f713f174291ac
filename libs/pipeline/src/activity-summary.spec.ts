import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeActivity } from './activity-summary';

describe('describeActivity: the line a minute of what a process did', () => {
  const zero = { accepted: 0, written: 0, refused: {} };

  it('says nothing for an idle minute', () => {
    assert.equal(describeActivity(zero, zero, 60), undefined);
    assert.equal(
      describeActivity({ accepted: 5, written: 5, refused: { forbidden: 1 } }, { accepted: 5, written: 5, refused: { forbidden: 1 } }, 60),
      undefined,
    );
  });

  it("counts the minute's events and refusals, the commonest reason first", () => {
    const before = { accepted: 100, written: 90, refused: { rate_limited: 4 } };
    const after = { accepted: 12_500, written: 12_480, refused: { rate_limited: 7, invalid_payload: 5, forbidden: 0 } };
    assert.equal(
      describeActivity(before, after, 60),
      'last 60 s: 12400 events accepted, 12390 written, 8 requests refused (invalid_payload 5, rate_limited 3)',
    );
  });

  it('reports a worker that only writes, and a gateway that only refuses', () => {
    assert.equal(
      describeActivity(zero, { accepted: 0, written: 200, refused: {} }, 60),
      'last 60 s: 0 events accepted, 200 written, 0 requests refused',
    );
    assert.equal(
      describeActivity(zero, { accepted: 0, written: 0, refused: { missing_token: 2 } }, 60),
      'last 60 s: 0 events accepted, 0 written, 2 requests refused (missing_token 2)',
    );
  });
});
