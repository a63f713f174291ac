import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasUnstorableCharacter, randomUuid, utf8Length } from './encoding.js';

describe('encoding', () => {
  it('counts UTF-8 bytes as Node writes them, unpaired surrogates included', () => {
    for (const text of ['', 'abc', 'é', '€', '😀', 'a😀é€\u007f\u0080\u07ff\u0800\uffff', '\ud800', 'x\udc00y', '\ud83d\ude00\ud83d']) {
      assert.equal(utf8Length(text), Buffer.byteLength(text, 'utf8'), JSON.stringify(text));
    }
  });

  it('finds U+0000 and unpaired surrogates, which the server refuses', () => {
    assert.deepEqual(['ok', '😀', 'a\u0000b', '\ud800', 'a\udc00', '\ud83d\ude00\ud83d'].map(hasUnstorableCharacter), [
      false,
      false,
      true,
      true,
      true,
      true,
    ]);
  });

  it('makes version 4 UUIDs', () => {
    const ids = new Set(Array.from({ length: 100 }, () => randomUuid(Math.random)));
    assert.equal(ids.size, 100);
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
