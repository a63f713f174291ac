import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fieldPath } from '../errors/api-error';
import { firstTooDeep } from './json-depth';

const scan = (text: string, maxDepth: number) => firstTooDeep(Buffer.from(text), maxDepth);

/** The test's oracle: the path of the first container deeper than `maxDepth`, in document order, of a parsed value. */
function inspectJsonTreeDepth(value: unknown, maxDepth: number, depth = 1, path = ''): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (depth > maxDepth) return path;
  const entries: Array<[string | number, unknown]> = Array.isArray(value)
    ? value.map((item, index) => [index, item])
    : Object.entries(value);
  for (const [key, child] of entries) {
    const found = inspectJsonTreeDepth(child, maxDepth, depth + 1, fieldPath(path, key));
    if (found !== undefined) return found;
  }
  return undefined;
}

describe('firstTooDeep: nesting depth from the bytes, before JSON.parse', () => {
  it('counts the document as depth 1 and finds nothing within the limit', () => {
    assert.equal(scan('{}', 1), undefined);
    assert.equal(scan('{"a":[1,{"b":2}]}', 3), undefined);
    assert.equal(scan('"just a string"', 0), undefined);
    assert.equal(scan('42', 0), undefined);
  });

  it('names the first container past the limit as the error field does', () => {
    assert.equal(scan('{"a":[1,{"b":2}]}', 2), 'a[1]');
    assert.equal(scan('[[[]]]', 2), '[0][0]');
    assert.equal(scan('{"user_id":"u","events":[{"type":"T"},{"customdata":{"x":{"y":{}}}}]}', 4), 'events[1].customdata.x');
    assert.equal(scan('{"a.b":{"":{"ünï":[]}}}', 3), '["a.b"][""]["ünï"]');
  });

  it('ignores brackets, quotes and backslashes inside strings, keys included', () => {
    assert.equal(scan('{"[[[{{{":"]]]}}}","v":"\\\\","w":"\\"[[[","x":[1]}', 2), undefined);
    assert.equal(scan('{"k\\"ey":{"in":[]}}', 2), '["k\\"ey"].in');
    assert.equal(scan('{"a":"\\\\\\"[","b":[[]]}', 2), 'b[0]');
  });

  it('tells keys from string values after nested containers and commas', () => {
    assert.equal(scan('{"a":{"x":1},"b":"[not a key]","c":{"d":{}}}', 2), 'c.d');
    assert.equal(scan('[{"a":1},"s",{"b":[]}]', 2), '[2].b');
  });

  it('scans half a million nested arrays in one pass', () => {
    const deep = Buffer.from('['.repeat(500_000) + ']'.repeat(500_000));
    assert.equal(firstTooDeep(deep, 8), '[0][0][0][0][0][0][0][0]');
    assert.equal(firstTooDeep(deep, 1_000_000), undefined);
  });

  it('agrees with a walk of the parsed document on generated bodies', () => {
    const bodies = [
      '{"events":[{"customdata":{"a":[[{"b":[]}]]}}],"x":{"y":{"z":{}}}}',
      '[{"a":[{"b":[{"c":[]}]}]},{"d":{}}]',
      '{"":{"":{"":{"":[]}}},"k":[[],[[[]]]]}',
    ];
    for (const body of bodies) {
      for (let maxDepth = 1; maxDepth <= 6; maxDepth++) {
        assert.equal(scan(body, maxDepth), inspectJsonTreeDepth(JSON.parse(body), maxDepth), `${body} at ${maxDepth}`);
      }
    }
  });
});
