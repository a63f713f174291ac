import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { codePointLength, isStorableText } from './text';

describe('codePointLength', () => {
  const lengths: Array<[name: string, value: string, expected: number]> = [
    ['the empty string', '', 0],
    ['ASCII', 'device-abc-123', 14],
    ['Latin-1 and BMP characters', 'Zoë 日本', 6],
    ['an emoji (a surrogate pair) as 1', '😀', 1],
    ['emoji between letters', 'a😀b😀', 4],
    ['the last code point U+10FFFF as 1', '\u{10FFFF}', 1],
    ['a combining sequence as its code points, not graphemes', 'e\u0301', 2],
    ['a lone high surrogate as 1', '\ud800', 1],
    ['a lone high surrogate at the end as 1', 'ab\ud83d', 3],
    ['a lone low surrogate as 1', '\ude00x', 2],
    ['a reversed pair as 2', '\ude00\ud83d', 2],
    ['a lone high surrogate followed by a full pair as 2', '\ud83d\ud83d\ude00', 2],
  ];
  for (const [name, value, expected] of lengths) {
    it(`counts ${name}`, () => {
      assert.equal(codePointLength(value), expected);
    });
  }

  it('counts 128 emoji as 128, not their 256 UTF-16 units', () => {
    const value = '😀'.repeat(128);
    assert.equal(value.length, 256);
    assert.equal(codePointLength(value), 128);
  });
});

describe('isStorableText', () => {
  const storable: Array<[string, string]> = [
    ['the empty string', ''],
    ['ASCII', 'hello'],
    ['accents, CJK and RTL scripts', 'Zoë 日本語 مرحبا'],
    ['emoji and flags', '😀🇫🇷👩‍👩‍👧'],
    ['other control characters', '\t\n\u0001\u007f'],
    ['U+FFFF and U+10FFFF', '\uffff\u{10FFFF}'],
  ];
  for (const [name, value] of storable) {
    it(`accepts ${name}`, () => {
      assert.equal(isStorableText(value), true);
    });
  }

  const unstorable: Array<[string, string]> = [
    ['U+0000 alone', '\u0000'],
    ['U+0000 inside text', 'abc\u0000def'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone high surrogate at the end', 'abc\ud83d'],
    ['a lone low surrogate', '\udc00abc'],
    ['a reversed surrogate pair', '\ude00\ud83d'],
  ];
  for (const [name, value] of unstorable) {
    it(`refuses ${name}`, () => {
      assert.equal(isStorableText(value), false);
    });
  }
});
