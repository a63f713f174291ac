import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { VerifiedTokens } from './verified-tokens';

/** An Authorization header whose token's payload is `payload` (the signature does not matter here: it was verified). */
function bearer(payload: Record<string, unknown>, signature = 'sig'): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `Bearer ${part({ alg: 'HS256' })}.${part(payload)}.${signature}`;
}

describe('VerifiedTokens', () => {
  const now = 1_800_000_000_000;
  const exp = now / 1000 + 3600;

  it('gives back the player of a token verified lately, for the same header only', () => {
    const tokens = new VerifiedTokens(30);
    const header = bearer({ sub: 'p1', exp });
    tokens.remember(header, { sub: 'p1', game: 'com.a.b' }, now);
    assert.deepEqual(tokens.find(header, now + 1000), { sub: 'p1', game: 'com.a.b' });
    assert.equal(tokens.find(bearer({ sub: 'p1', exp }, 'other'), now + 1000), undefined, 'another signature is another token');
    assert.equal(tokens.find(header.replace('Bearer', 'bearer'), now + 1000), undefined);
  });

  it('trusts a token for at most a minute, then it is verified again', () => {
    const tokens = new VerifiedTokens(30, { trustedForMs: 60_000, maxTokens: 10 });
    const header = bearer({ sub: 'p1', exp });
    tokens.remember(header, { sub: 'p1' }, now);
    assert.deepEqual(tokens.find(header, now + 59_999), { sub: 'p1' });
    assert.equal(tokens.find(header, now + 60_000), undefined);
  });

  it('never past the expiry jsonwebtoken allows: exp plus the clock tolerance', () => {
    const tokens = new VerifiedTokens(30);
    const soon = now / 1000 + 10;
    const header = bearer({ sub: 'p1', exp: soon });
    tokens.remember(header, { sub: 'p1' }, now);
    assert.deepEqual(tokens.find(header, (soon + 30) * 1000 - 1), { sub: 'p1' });
    assert.equal(tokens.find(header, (soon + 30) * 1000), undefined);
  });

  it('remembers nothing whose exp it cannot read, or that has expired', () => {
    const tokens = new VerifiedTokens(0);
    for (const header of ['Bearer not-a-jwt', 'Bearer a.!!!.c', bearer({ sub: 'p1' }), bearer({ sub: 'p1', exp: now / 1000 - 1 })]) {
      tokens.remember(header, { sub: 'p1' }, now);
      assert.equal(tokens.find(header, now), undefined, header);
    }
  });

  it('holds at most maxTokens, dropping the oldest', () => {
    const tokens = new VerifiedTokens(30, { trustedForMs: 60_000, maxTokens: 2 });
    const headers = ['a', 'b', 'c'].map((sub) => bearer({ sub, exp }));
    for (const [i, header] of headers.entries()) tokens.remember(header, { sub: String(i) }, now);
    assert.equal(tokens.find(headers[0], now), undefined);
    assert.deepEqual(tokens.find(headers[1], now), { sub: '1' });
    assert.deepEqual(tokens.find(headers[2], now), { sub: '2' });
  });

  it('hands out a frozen copy, so that no request changes another one’s player', () => {
    const tokens = new VerifiedTokens(30);
    const header = bearer({ sub: 'p1', exp });
    const player = { sub: 'p1' };
    tokens.remember(header, player, now);
    player.sub = 'changed';
    const found = tokens.find(header, now)!;
    assert.equal(found.sub, 'p1');
    assert.ok(Object.isFrozen(found));
  });
});
