import assert from 'node:assert/strict';
import { generateKeyPairSync, KeyObject, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sign, SignOptions } from 'jsonwebtoken';
import { bootTestApp, eventually, postOutcome, TestApp } from './support/test-app';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = (key: KeyObject) => key.export({ type: 'spki', format: 'pem' }).toString();

const claims = { sub: 'device-abc-123' };
const rs256 = (options: SignOptions = {}, key: KeyObject = rsa.privateKey) =>
  sign(claims, key, { algorithm: 'RS256', expiresIn: 300, ...options });

const jwk = (key: KeyObject, kid: string, alg: string) => ({ ...key.export({ format: 'jwk' }), kid, alg, use: 'sig' });

interface JwksServer {
  uri: string;
  /** What the provider publishes; the test may change it. */
  keys: object[];
  /** GETs of the key set so far. */
  fetches: number;
  close(): Promise<void>;
}

/** An identity provider's JWKS endpoint on a local port. */
async function startJwksServer(keys: object[]): Promise<JwksServer> {
  const server = createServer((_request, response) => {
    provider.fetches++;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys: provider.keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const provider: JwksServer = {
    uri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`,
    keys,
    fetches: 0,
    close: () => {
      // The service's keep-alive connections to it would otherwise hold the close (and this file's process) open.
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  return provider;
}

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
  let provider: JwksServer;
  before(async () => {
    provider = await startJwksServer([jwk(rsa.publicKey, 'rsa-1', 'RS256'), jwk(ec.publicKey, 'ec-1', 'ES256')]);
    t = await bootTestApp({ env: { JWT_SECRET: '', JWT_JWKS_URI: provider.uri } });
  });
  after(async () => {
    await t.close();
    await provider.close();
  });

  it('accepts RS256 and ES256 tokens whose kid is in the key set, and caches the key set', async () => {
    assert.deepEqual(await postOutcome(t, rs256({ keyid: 'rsa-1' })), [202, undefined]);
    assert.deepEqual(await postOutcome(t, sign(claims, ec.privateKey, { algorithm: 'ES256', expiresIn: 300, keyid: 'ec-1' })), [
      202,
      undefined,
    ]);
    const before = provider.fetches;
    assert.deepEqual(await postOutcome(t, rs256({ keyid: 'rsa-1' })), [202, undefined]);
    assert.equal(provider.fetches, before, 'the key set is cached');
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

describe('JWT_JWKS_URI: forged kids do not lock out key rotation', () => {
  const REFRESH_SECONDS = 2;
  let t: TestApp;
  let provider: JwksServer;
  before(async () => {
    provider = await startJwksServer([jwk(rsa.publicKey, 'rsa-1', 'RS256')]);
    t = await bootTestApp({ env: { JWT_SECRET: '', JWT_JWKS_URI: provider.uri, JWT_JWKS_REFRESH_SECONDS: String(REFRESH_SECONDS) } });
  });
  after(async () => {
    await t.close();
    await provider.close();
  });
  const forged = () => rs256({ keyid: randomUUID() }, stranger.privateKey);

  it('refuses a malformed kid without fetching the key set', async () => {
    for (const kid of ['x'.repeat(129), 'rsa 1', 'rsa-1"', 'rsa-1\\', 'ключ']) {
      assert.deepEqual(await postOutcome(t, rs256({ header: { alg: 'RS256', kid } })), [401, 'invalid_token'], kid);
    }
    const numericKid = rs256({ header: { alg: 'RS256', kid: 1 as unknown as string } });
    assert.deepEqual(await postOutcome(t, numericKid), [401, 'invalid_token']);
    assert.equal(provider.fetches, 0);
  });

  it('answers a flood of 20 random kids with 401 at the cost of one fetch, and accepts a newly published key within the refresh interval', async () => {
    const started = Date.now();
    const flood = await Promise.all(Array.from({ length: 20 }, () => postOutcome(t, forged())));
    assert.deepEqual(new Set(flood.map(String)), new Set(['401,invalid_token']));
    assert.ok(provider.fetches >= 1 && provider.fetches <= 2, `${provider.fetches} fetches`);
    assert.deepEqual(await postOutcome(t, rs256({ keyid: 'rsa-1' })), [202, undefined], 'the published key still works');

    const rotated = generateKeyPairSync('rsa', { modulusLength: 2048 });
    provider.keys = [...provider.keys, jwk(rotated.publicKey, 'rsa-2', 'RS256')];
    const fresh = rs256({ keyid: 'rsa-2' }, rotated.privateKey);
    // The flood goes on while the new key waits for the next refresh.
    await eventually(
      async () => {
        await Promise.all(Array.from({ length: 5 }, () => postOutcome(t, forged())));
        const [status] = await postOutcome(t, fresh);
        return status === 202 ? true : undefined;
      },
      REFRESH_SECONDS * 1000 + 1500,
    );
    const allowed = Math.floor((Date.now() - started) / (REFRESH_SECONDS * 1000)) + 1;
    assert.ok(provider.fetches <= allowed, `${provider.fetches} fetches in ${Date.now() - started} ms, at most ${allowed} allowed`);
  });
});
