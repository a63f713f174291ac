import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { describeJsonObjectProblem, inspectJsonTree, JsonShapeLimits } from './json-shape';

const LIMITS: JsonShapeLimits = { maxBytes: 8192, maxDepth: 5, maxKeys: 100, maxItems: 100 };

/** An object `levels` levels deep, itself counting as level 1: nestedObject(2) is `{ a: {} }`. */
function nestedObject(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 1; level < levels; level++) value = { a: value };
  return value;
}

function objectWithKeys(count: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i}`, i]));
}

const problemOf = (value: unknown): string | undefined => describeJsonObjectProblem(value, LIMITS);

describe('describeJsonObjectProblem', () => {
  it('accepts an ordinary customdata object', () => {
    assert.equal(problemOf({ level: 5, score: 4800, tags: ['a', 'b'], nested: { ok: true, none: null }, name: 'Zoë 😀' }), undefined);
  });

  describe('refuses values that are not JSON objects', () => {
    const notObjects: Array<[string, unknown]> = [
      ['an array', []],
      ['null', null],
      ['a string', '{}'],
      ['a number', 42],
      ['a boolean', true],
    ];
    for (const [name, value] of notObjects) {
      it(name, () => {
        assert.match(problemOf(value) ?? '', /must be a JSON object/);
      });
    }
  });

  describe('depth: customdata itself is level 1', () => {
    it('accepts 5 levels of objects, refuses 6', () => {
      assert.equal(problemOf(nestedObject(5)), undefined);
      assert.match(problemOf(nestedObject(6)) ?? '', /at most 5 levels deep/);
    });

    it('counts arrays as levels too', () => {
      assert.equal(problemOf({ a: [[[[]]]] }), undefined);
      assert.match(problemOf({ a: [[[[[]]]]] }) ?? '', /at most 5 levels deep/);
    });

    it('does not count scalars at the deepest level as a level', () => {
      assert.equal(problemOf({ a: { b: { c: { d: { score: 1, name: 'x', list: null } } } } }), undefined);
    });

    it('refuses 100000 levels without overflowing the stack', () => {
      const deep: unknown = JSON.parse(`{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
      assert.match(problemOf(deep) ?? '', /levels deep/);
    });
  });

  it('accepts objects of 100 keys and refuses 101, at any depth', () => {
    assert.equal(problemOf(objectWithKeys(100)), undefined);
    assert.match(problemOf(objectWithKeys(101)) ?? '', /at most 100 keys/);
    assert.match(problemOf({ inner: objectWithKeys(101) }) ?? '', /at most 100 keys/);
  });

  it('accepts arrays of 100 items and refuses 101, at any depth', () => {
    assert.equal(problemOf({ list: new Array<number>(100).fill(0) }), undefined);
    assert.match(problemOf({ list: new Array<number>(101).fill(0) }) ?? '', /at most 100 items/);
    assert.match(problemOf({ a: { list: [new Array<number>(101).fill(0)] } }) ?? '', /at most 100 items/);
  });

  describe('refuses prototype-polluting keys at any depth', () => {
    const polluting: Array<[string, unknown]> = [
      ['__proto__ at level 1', JSON.parse('{"__proto__":{"isAdmin":true}}')],
      ['__proto__ in a nested object', JSON.parse('{"a":{"b":{"__proto__":1}}}')],
      ['constructor inside an array', JSON.parse('{"a":[{"constructor":{"prototype":{}}}]}')],
      ['prototype at level 1', { prototype: 1 }],
    ];
    for (const [name, value] of polluting) {
      it(name, () => {
        assert.match(problemOf(value) ?? '', /key "(__proto__|constructor|prototype)" is not allowed/);
      });
    }

    it('allows look-alike keys and those words as values', () => {
      assert.equal(problemOf({ proto: 1, _proto_: 2, Constructor: 3, prototypes: 4, kind: 'constructor', list: ['__proto__'] }), undefined);
    });
  });

  describe('refuses text PostgreSQL cannot store', () => {
    const unstorable: Array<[string, unknown]> = [
      ['U+0000 in a key', { 'a\u0000b': 1 }],
      ['a lone surrogate in a key', { '\ud800': 1 }],
      ['U+0000 in a string value', { name: 'x\u0000' }],
      ['a lone surrogate in a nested string value', { a: { list: ['ok', '\udfff'] } }],
      ['a lone surrogate in a key of a nested object', { a: [{ 'x\udbff': 1 }] }],
    ];
    for (const [name, value] of unstorable) {
      it(name, () => {
        assert.match(problemOf(value) ?? '', /U\+0000 or unpaired surrogates/);
      });
    }
  });

  describe('byte limit: UTF-8 bytes of the compact JSON', () => {
    // {"s":""} is 8 bytes.
    it('counts a 2-byte character as 2 bytes: 8192 bytes accepted, 8194 refused', () => {
      assert.equal(problemOf({ s: 'é'.repeat(4092) }), undefined);
      // 4093 characters, 4101 UTF-16 code units: far below 8192 "characters", but 8194 bytes.
      assert.match(problemOf({ s: 'é'.repeat(4093) }) ?? '', /at most 8192 bytes as compact JSON, got 8194/);
    });

    it('counts an emoji as 4 bytes', () => {
      assert.equal(problemOf({ s: '😀'.repeat(2046) }), undefined);
      assert.match(problemOf({ s: '😀'.repeat(2047) }) ?? '', /8192 bytes/);
    });

    it('counts JSON escapes as sent compactly', () => {
      // Each newline is written as the two characters \n.
      assert.equal(problemOf({ s: '\n'.repeat(4092) }), undefined);
      assert.match(problemOf({ s: '\n'.repeat(4093) }) ?? '', /8192 bytes/);
    });

    it('counts six-character escapes (control characters) as six bytes', () => {
      // U+0001 is written \u0001: 1364 of them and {"s":""} are 8192 bytes.
      assert.equal(problemOf({ s: '\u0001'.repeat(1364) }), undefined);
      assert.match(problemOf({ s: '\u0001'.repeat(1365) }) ?? '', /got 8198/);
    });

    // Small objects are not serialized at all: the walk bounds their size from above. Objects whose bound passes the
    // limit are serialized and measured exactly.
    it('accepts an object whose bound passes the limit but whose JSON fits', () => {
      assert.equal(problemOf({ a: 'x'.repeat(3000), b: 1, c: [true, null, 'y'.repeat(2000)] }), undefined);
    });

    it('gives the exact size of an object of many small values', () => {
      const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key${String(i).padStart(3, '0')}`, 'v'.repeat(70)]));
      // 100 × "keyNNN":"v…" (81 bytes), 99 commas and the braces.
      assert.match(problemOf(many) ?? '', /got 8201/);
    });
  });
});

describe('inspectJsonTree', () => {
  const body = (customdata: unknown): unknown => ({ user_id: 'u', events: [{ type: 'Custom', customdata }] });

  it('returns the bracket path of the first container past the limit, the body counting as depth 1', () => {
    // body 1, events 2, events[0] 3, customdata 4, customdata.a 5.
    assert.equal(inspectJsonTree(body({ a: { b: 1 } }), 4)?.path, 'events[0].customdata.a');
    assert.equal(inspectJsonTree(body({ a: [[1]] }), 5)?.path, 'events[0].customdata.a[0]');
    assert.equal(inspectJsonTree([[1], 2], 1)?.path, '[0]');
  });

  it('returns undefined when nothing is deeper than the limit', () => {
    assert.equal(inspectJsonTree(body({ a: { b: 1 } }), 5)?.path, undefined);
    assert.equal(inspectJsonTree({ a: 1, b: 'x', c: null }, 1)?.path, undefined);
    assert.equal(inspectJsonTree('scalar', 1)?.path, undefined);
    assert.equal(inspectJsonTree(null, 1)?.path, undefined);
  });

  it('copes with 100000 nested arrays without throwing', () => {
    const depth = 100_000;
    const deep: unknown = JSON.parse('['.repeat(depth) + ']'.repeat(depth));
    assert.equal(inspectJsonTree(deep, 5)?.path, '[0][0][0][0][0]');
    // Walking the whole structure must not recurse either.
    assert.equal(inspectJsonTree(deep, depth)?.path, undefined);
    assert.equal(inspectJsonTree(deep, depth - 1)?.path, '[0]'.repeat(depth - 1));
  });

  it('copes with 100000 nested objects built in a loop', () => {
    const depth = 100_000;
    let deep: Record<string, unknown> = {};
    for (let i = 1; i < depth; i++) deep = { a: deep };
    assert.equal(inspectJsonTree(deep, 3)?.path, 'a.a.a');
    assert.equal(inspectJsonTree(deep, depth)?.path, undefined);
  });

  it('names the first too-deep container in document order when several are', () => {
    const twoDeep = { events: [{ customdata: { a: { b: {} } } }, { customdata: { a: { b: {} } } }] };
    assert.equal(inspectJsonTree(twoDeep, 5)?.path, 'events[0].customdata.a.b');
  });
});
