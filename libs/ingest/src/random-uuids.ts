import { randomFillSync } from 'node:crypto';

const HEX_DIGITS = Buffer.from('0123456789abcdef', 'latin1');
const DASH = 45;
/** The byte offsets before which a UUID's text has a dash: 8-4-4-4-12 hex digits. */
const DASH_BEFORE = new Set([4, 6, 8, 10]);

/**
 * `count` random (version 4) UUIDs, lower case, as `crypto.randomUUID()` makes them, from one call for random bytes.
 * randomUUID builds each string from some 20 joined parts, a tree of string objects that a batch's job keeps alive until
 * Redis has it; these strings are made flat, in one piece each.
 */
export function randomUuids(count: number): string[] {
  const bytes = randomFillSync(Buffer.allocUnsafe(16 * count));
  const text = Buffer.allocUnsafe(36 * count);
  const uuids = new Array<string>(count);
  let at = 0;
  for (let n = 0; n < count; n++) {
    const first = 16 * n;
    // RFC 9562, section 5.4: version 4 in the high nibble of byte 6, variant 10 in the high bits of byte 8.
    bytes[first + 6] = (bytes[first + 6] & 0x0f) | 0x40;
    bytes[first + 8] = (bytes[first + 8] & 0x3f) | 0x80;
    const start = at;
    for (let i = 0; i < 16; i++) {
      if (DASH_BEFORE.has(i)) text[at++] = DASH;
      const byte = bytes[first + i];
      text[at++] = HEX_DIGITS[byte >> 4];
      text[at++] = HEX_DIGITS[byte & 0x0f];
    }
    uuids[n] = text.toString('latin1', start, at);
  }
  return uuids;
}
