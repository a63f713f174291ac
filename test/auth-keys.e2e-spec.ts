import assert from 'node:assert/strict';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sign, SignOptions } from 'jsonwebtoken';
import { bootTestApp, postOutcome, TestApp } from './support/test-app';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

const claims = { sub: 'device-abc-123' };
const rs256 = (options: SignOptions = {}, key: KeyObject = rsa.privateKey) =>
  sign(claims, key, { algorithm: 'RS256', expiresIn: 300, ...options });

describe('JWT_PUBLIC_KEY (PEM) with issuer and audience', () => {
  let t: TestApp;
  before(async () => {
    t = await bootTestApp({
      env: { JWT_SECRET: '', JWT_PUBLIC_KEY: pem(rsa.publicKey), JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'playsmart' },
    });
  });
  after(async () => {
    await t.close();
  });
  const good = { issuer: 'https://id.example.com', audience: 'playsmart' };

  it('accepts an RS256 token with the configured issuer and audience', async () => {
    assert.deepEqual(await postOutcome(t, rs256(good)), [202, undefined]);
  });

  it('refuses a wrong or missing issuer or audience', async () => {
    assert.deepEqual(await postOutcome(t, rs256({ ...good, issuer: 'https://evil.example.com' })), [401, 'invalid_token']);
    assert.deepEqual(await postOutcome(t, rs256({ ...good, audience: 'other' })), [401, 'invalid_token']);
    assert.deepEqual(await postOutcome(t, rs256({ audience: 'playsmart' })), [401, 'invalid_token']);
  });

  it('refuses an HS256 token signed with the public key (key confusion)', async () => {
    const confused = sign(claims, pem(rsa.publicKey), { algorithm: 'HS256', expiresIn: 300, ...good, allowInsecureKeySizes: true });
    assert.deepEqual(await postOutcome(t, confused), [401, 'invalid_token']);
  });

  it('refuses a token signed by another key', async () => {
    assert.deepEqual(await postOutcome(t, rs256(good, stranger.privateKey)), [401, 'invalid_token']);
  });
});

describe('JWT_JWKS_URI', () => {
  let t: TestApp;
  let server: Server;
  let jwksRequests = 0;
  before(async () => {
    const jwk = (key: KeyObject, kid: string, alg: string) => ({ ...key.export({ format: 'jwk' }), kid, alg, use: 'sig' });
    server = createServer((_request, response) => {
      jwksRequests++;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [jwk(rsa.publicKey, 'rsa-1', 'RS256'), jwk(ec.publicKey, 'ec-1', 'ES256')] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    t = await bootTestApp({ env: { JWT_SECRET: '', JWT_JWKS_URI: `http://127.0.0.1:${port}/.well-known/jwks.json` } });
  });
  after(async () => {
    await t.close();
    server.close();
  });

  it('accepts RS256 and ES256 tokens whose kid is in the key set, and caches the key set', async () => {
    assert.deepEqual(await postOutcome(t, rs256({ keyid: 'rsa-1' })), [202, undefined]);
    assert.deepEqual(await postOutcome(t, sign(claims, ec.privateKey, { algorithm: 'ES256', expiresIn: 300, keyid: 'ec-1' })), [
      202,
      undefined,
    ]);
    const before = jwksRequests;
    assert.deepEqual(await postOutcome(t, rs256({ keyid: 'rsa-1' })), [202, undefined]);
    assert.equal(jwksRequests, before, 'the key set is cached');
  });

  it('refuses a forged kid, a missing kid and a token signed by another key under a known kid', async () => {
    assert.deepEqual(await postOutcome(t, rs256({ keyid: 'forged' }, stranger.privateKey)), [401, 'invalid_token']);
    assert.deepEqual(await postOutcome(t, rs256()), [401, 'invalid_token']);
    assert.deepEqual(await postOutcome(t, rs256({ keyid: 'rsa-1' }, stranger.privateKey)), [401, 'invalid_token']);
  });

  it('refuses HS256 even when signed with a published key', async () => {
    const hs = sign(claims, pem(rsa.publicKey), { algorithm: 'HS256', expiresIn: 300, keyid: 'rsa-1' });
    assert.deepEqual(await postOutcome(t, hs), [401, 'invalid_token']);
  });
});
