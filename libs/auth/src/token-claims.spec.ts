import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '#platform';
import { checkClaims, normalizedMediaType, VerifiedToken } from './token-claims';

const NOW = 1_800_000_000;
const DAY = 86400;
const jwtConfig = (env: Record<string, string> = {}) =>
  loadConfig({ NODE_ENV: 'development', JWT_CLOCK_TOLERANCE_SECONDS: '30', ...env }).jwt;
const token = (payload: unknown, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): VerifiedToken => ({ header, payload });

describe('checkClaims', () => {
  it('names the player of a token that passes', () => {
    assert.deepEqual(checkClaims(token({ sub: 'device-abc-123', exp: NOW + 3600 }), jwtConfig(), NOW), {
      player: { sub: 'device-abc-123' },
    });
  });

  it('refuses a token without exp, sub, or a JSON object as payload', () => {
    for (const payload of [
      { sub: 'p' },
      { sub: 'p', exp: '1900000000' },
      { exp: NOW + 60 },
      { sub: '', exp: NOW + 60 },
      { sub: 7, exp: NOW + 60 },
      'text',
    ]) {
      assert.ok('refused' in checkClaims(token(payload), jwtConfig(), NOW), JSON.stringify(payload));
    }
  });

  describe('JWT_MAX_LIFETIME_SECONDS (7 days by default)', () => {
    it('accepts exp up to the maximum lifetime plus the clock tolerance ahead', () => {
      assert.ok('player' in checkClaims(token({ sub: 'p', exp: NOW + 7 * DAY + 30 }), jwtConfig(), NOW));
      assert.ok('player' in checkClaims(token({ sub: 'p', exp: NOW + 3630 }), jwtConfig({ JWT_MAX_LIFETIME_SECONDS: '3600' }), NOW));
    });

    it('refuses exp further ahead', () => {
      const refusal = checkClaims(token({ sub: 'p', exp: NOW + 7 * DAY + 31 }), jwtConfig(), NOW);
      assert.deepEqual(refusal, { refused: 'exp lies more than JWT_MAX_LIFETIME_SECONDS (604800 s) ahead' });
      assert.ok('refused' in checkClaims(token({ sub: 'p', exp: NOW + 100 * 365 * DAY }), jwtConfig(), NOW));
      assert.ok('refused' in checkClaims(token({ sub: 'p', exp: NOW + 3631 }), jwtConfig({ JWT_MAX_LIFETIME_SECONDS: '3600' }), NOW));
    });
  });

  describe('JWT_TYPE', () => {
    const valid = { sub: 'p', exp: NOW + 60 };

    it('is not checked when unset', () => {
      assert.ok('player' in checkClaims(token(valid, { alg: 'HS256' }), jwtConfig(), NOW));
    });

    it('accepts the configured typ in any case, with or without "application/"', () => {
      for (const configured of ['at+jwt', 'application/at+jwt', 'AT+JWT']) {
        for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/At+Jwt']) {
          assert.ok('player' in checkClaims(token(valid, { typ }), jwtConfig({ JWT_TYPE: configured }), NOW), `${typ} for ${configured}`);
        }
      }
    });

    it('refuses another typ, or none', () => {
      const jwt = jwtConfig({ JWT_TYPE: 'at+jwt' });
      for (const header of [
        { typ: 'JWT' },
        { typ: 'application/jwt' },
        { typ: 'text/at+jwt' },
        { typ: 'at+jwt ' },
        { typ: ['at+jwt'] },
        {},
      ]) {
        assert.deepEqual(checkClaims(token(valid, header), jwt, NOW), { refused: 'typ is not at+jwt (JWT_TYPE)' }, JSON.stringify(header));
      }
    });
  });

  describe('JWT_GAME_CLAIM', () => {
    const claims = { sub: 'p', exp: NOW + 60 };

    it('is not read when unset', () => {
      assert.deepEqual(checkClaims(token({ ...claims, game_id: 'com.example.x' }), jwtConfig(), NOW), { player: { sub: 'p' } });
    });

    it('names the game of a token that carries the claim, and none for a token without it', () => {
      const jwt = jwtConfig({ JWT_GAME_CLAIM: 'game_id' });
      assert.deepEqual(checkClaims(token({ ...claims, game_id: 'com.example.x' }), jwt, NOW), {
        player: { sub: 'p', game: 'com.example.x' },
      });
      assert.deepEqual(checkClaims(token(claims), jwt, NOW), { player: { sub: 'p' } });
    });

    it('refuses a claim that is not a non-empty string', () => {
      const jwt = jwtConfig({ JWT_GAME_CLAIM: 'game_id' });
      for (const game of ['', 42, null, ['com.example.x'], { id: 'com.example.x' }]) {
        assert.deepEqual(checkClaims(token({ ...claims, game_id: game }), jwt, NOW), {
          refused: 'the game_id claim is not a non-empty string',
        });
      }
    });

    it('with JWT_REQUIRE_GAME_CLAIM, refuses a token without the claim, an inherited name too', () => {
      const jwt = jwtConfig({ JWT_GAME_CLAIM: 'game_id', JWT_REQUIRE_GAME_CLAIM: 'true' });
      assert.deepEqual(checkClaims(token(claims), jwt, NOW), { refused: 'no game_id claim (JWT_REQUIRE_GAME_CLAIM)' });
      assert.ok('player' in checkClaims(token({ ...claims, game_id: 'com.example.x' }), jwt, NOW));
      const inherited = jwtConfig({ JWT_GAME_CLAIM: 'constructor', JWT_REQUIRE_GAME_CLAIM: 'true' });
      assert.ok('refused' in checkClaims(token(claims), inherited, NOW));
    });
  });

  it('normalizedMediaType', () => {
    assert.equal(normalizedMediaType('Application/AT+JWT'), 'at+jwt');
    assert.equal(normalizedMediaType('jwt'), 'jwt');
  });
});
