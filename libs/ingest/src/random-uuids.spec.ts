import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { randomUuids } from './random-uuids';

const VERSION_4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('randomUuids', () => {
  it('makes the number asked for, each a lower-case version 4 UUID', () => {
    assert.deepEqual(randomUuids(0), []);
    const uuids = randomUuids(200);
    assert.equal(uuids.length, 200);
    for (const uuid of uuids) assert.match(uuid, VERSION_4);
  });

  it('never repeats itself, within a call or across calls', () => {
    const seen = new Set<string>();
    for (let call = 0; call < 100; call++) for (const uuid of randomUuids(200)) seen.add(uuid);
    assert.equal(seen.size, 20_000);
  });

  it('uses every hex digit in every random position', () => {
    // 122 random bits per UUID: over 20,000 of them each of the 32 digit positions shows all 16 values, except the
    // version digit (always 4) and the variant digit (8, 9, a or b).
    const uuids = randomUuids(20_000).map((uuid) => uuid.replaceAll('-', ''));
    for (let position = 0; position < 32; position++) {
      const values = new Set(uuids.map((uuid) => uuid[position]));
      const expected = position === 12 ? 1 : position === 16 ? 4 : 16;
      assert.equal(values.size, expected, `digit ${position} takes ${expected} values`);
    }
  });
});
