import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '#platform';
import { authStartupWarnings } from './startup-warnings';

const PRODUCTION = { NODE_ENV: 'production', DATABASE_URL: 'postgres://app@db:5432/playsmart' };
const JWKS = { JWT_JWKS_URI: 'https://id.example.com/.well-known/jwks.json', JWT_AUDIENCE: 'playsmart' };

describe('authStartupWarnings', () => {
  it('warns about the development secret', () => {
    assert.match(authStartupWarnings(loadConfig({ NODE_ENV: 'development' })).join('\n'), /JWT_SECRET is not set/);
  });

  it('recommends JWT_ISSUER in production with a public key or a JWKS', () => {
    assert.match(authStartupWarnings(loadConfig({ ...PRODUCTION, ...JWKS })).join('\n'), /JWT_ISSUER is not set/);
  });

  it('says nothing with an issuer, with a dedicated secret, or outside production', () => {
    assert.deepEqual(authStartupWarnings(loadConfig({ ...PRODUCTION, ...JWKS, JWT_ISSUER: 'https://id.example.com/' })), []);
    assert.deepEqual(authStartupWarnings(loadConfig({ ...PRODUCTION, JWT_SECRET: 'a-32-byte-secret-for-unit-tests!' })), []);
    assert.deepEqual(authStartupWarnings(loadConfig(JWKS)), []);
  });
});
