import assert from 'node:assert/strict';
import { generateKeyPairSync, KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fetchJwksDocument, JwksKeySet, KeyLookup, signingKeys } from './jwks-key-set';

const INTERVAL_MS = 60_000;
const jwk = (kid: string, extra: Record<string, unknown> = {}) => ({
  ...generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' }),
  kid,
  ...extra,
});
const settled = () => new Promise((resolve) => setImmediate(resolve));

/** A key set over a fake provider and a fake clock: the provider's keys, its fetch count and failures are the test's to set. */
function harness(keys: object[]) {
  const provider = { keys, fetches: 0, failing: false, gate: undefined as Promise<void> | undefined };
  const log: string[] = [];
  let now = 1_000_000;
  const keySet = new JwksKeySet({
    fetchDocument: async () => {
      provider.fetches += 1;
      await provider.gate;
      if (provider.failing) throw new Error('connect ECONNREFUSED');
      return { keys: provider.keys };
    },
    refreshIntervalMs: INTERVAL_MS,
    now: () => now,
    fetchLog: { failed: (cause) => log.push(`failed: ${(cause as Error).message}`), recovered: () => log.push('recovered') },
  });
  return { keySet, provider, log, advance: (ms: number) => (now += ms) };
}

const found = (lookup: KeyLookup): KeyObject => {
  assert.ok('key' in lookup, `expected a key, got ${JSON.stringify(lookup)}`);
  return lookup.key;
};
const refused = (lookup: KeyLookup): string => {
  assert.ok('refused' in lookup, 'expected a refusal, got a key');
  return lookup.refused;
};

describe('JwksKeySet', () => {
  it('refuses a missing or malformed kid without fetching', async () => {
    const { keySet, provider } = harness([jwk('k1')]);
    for (const kid of [undefined, 42, null, ['k1'], '', 'x'.repeat(129), 'k 1', 'k1\n', 'k1\\', 'k1"', 'kид', 'k1%00']) {
      refused(await keySet.lookup(kid));
    }
    assert.equal(provider.fetches, 0);
    refused(await keySet.lookup('x'.repeat(128)));
    assert.equal(provider.fetches, 1, 'a 128-character kid is well-formed, and looked up');
  });

  it('accepts the kid shapes providers use', async () => {
    const kids = [
      'k1',
      'c5a7d9e1f3b2',
      'a1b2c3d4-e5f6-4711-8899-aabbccddeeff',
      'NjVBRjY5MDlCMUIwNzU4RTA2QzZFMDQ4QzQ2MDAyQjVDNjk1RTM2Qg',
      'kX+/a=',
      'key.2026-04_v1~x',
    ];
    const { keySet } = harness(kids.map((kid) => jwk(kid)));
    for (const kid of kids) found(await keySet.lookup(kid));
  });

  it('shares one fetch among concurrent lookups and caches the key set', async () => {
    const { keySet, provider } = harness([jwk('k1'), jwk('k2')]);
    let open!: () => void;
    provider.gate = new Promise((resolve) => (open = resolve));
    const lookups = Promise.all(
      [...['k1', 'k2', 'k1'], ...Array.from({ length: 20 }, (_, i) => `forged-${i}`)].map((kid) => keySet.lookup(kid)),
    );
    await settled();
    open();
    const results = await lookups;
    assert.equal(provider.fetches, 1);
    assert.equal(found(results[0]), found(results[2]));
    found(results[1]);
    for (const result of results.slice(3)) assert.equal(refused(result), 'unknown kid (not in the key set)');
    found(await keySet.lookup('k2'));
    assert.equal(provider.fetches, 1);
  });

  it('fetches at most once per refresh interval whatever kids a flood names, and finds a newly published key within one', async () => {
    const { keySet, provider, advance } = harness([jwk('k1')]);
    found(await keySet.lookup('k1'));
    provider.keys = [...provider.keys, jwk('k2')];
    for (let second = 0; second < 59; second++) {
      advance(1000);
      for (let i = 0; i < 10; i++) refused(await keySet.lookup(`forged-${second}-${i}`));
    }
    assert.equal(refused(await keySet.lookup('k2')), 'unknown kid (key set fetched within JWT_JWKS_REFRESH_SECONDS)');
    assert.equal(provider.fetches, 1);
    advance(1000);
    found(await keySet.lookup('k2'));
    assert.equal(provider.fetches, 2);
    for (let i = 0; i < 100; i++) refused(await keySet.lookup(`forged-${i}`));
    assert.equal(provider.fetches, 2);
  });

  it('keeps the keys it has while the provider fails, and logs the failure and the recovery', async () => {
    const { keySet, provider, log, advance } = harness([jwk('k1')]);
    const k1 = found(await keySet.lookup('k1'));
    provider.failing = true;
    advance(INTERVAL_MS);
    assert.equal(refused(await keySet.lookup('k2')), 'unknown kid (not in the key set)');
    assert.equal(found(await keySet.lookup('k1')), k1);
    advance(INTERVAL_MS);
    refused(await keySet.lookup('k3'));
    assert.equal(provider.fetches, 3);
    provider.failing = false;
    provider.keys = [...provider.keys, jwk('k2')];
    advance(INTERVAL_MS);
    found(await keySet.lookup('k2'));
    assert.deepEqual(log, ['recovered', 'failed: connect ECONNREFUSED', 'failed: connect ECONNREFUSED', 'recovered']);
  });

  it('refreshes a key set older than 10 minutes in the background, dropping withdrawn keys', async () => {
    const { keySet, provider, advance } = harness([jwk('old'), jwk('k1')]);
    found(await keySet.lookup('old'));
    provider.keys = provider.keys.slice(1);
    advance(9 * 60_000);
    found(await keySet.lookup('old'));
    assert.equal(provider.fetches, 1, 'not refreshed before 10 minutes');
    advance(60_000);
    found(await keySet.lookup('old'));
    await settled();
    assert.equal(provider.fetches, 2);
    refused(await keySet.lookup('old'));
    found(await keySet.lookup('k1'));
  });
});

describe('signingKeys', () => {
  it('reads the signing keys by kid and leaves out what cannot verify a token here', () => {
    const keys = signingKeys({
      keys: [
        jwk('sig'),
        jwk('any-use', { use: undefined }),
        jwk('enc', { use: 'enc' }),
        { kty: 'oct', k: 'c2VjcmV0', kid: 'symmetric' },
        { ...jwk('x'), kid: undefined },
        jwk('bad kid'),
        { kty: 'RSA', kid: 'broken', n: 'AQAB' },
        null,
        'text',
      ],
    });
    assert.deepEqual([...keys.keys()], ['sig', 'any-use']);
    assert.equal(keys.get('sig')?.type, 'public');
  });

  it('refuses a document without a keys array', () => {
    for (const document of [{}, { keys: {} }, null, 'text', []]) assert.throws(() => signingKeys(document), /no "keys" array/);
  });
});

describe('fetchJwksDocument', () => {
  const answers: Record<string, (response: import('node:http').ServerResponse) => void> = {
    '/jwks': (response) => response.setHeader('content-type', 'application/json').end('{"keys":[]}'),
    '/error': (response) => response.writeHead(503).end(),
    '/html': (response) => response.setHeader('content-type', 'text/html').end('<html>'),
    '/redirect': (response) => response.writeHead(302, { location: '/jwks' }).end(),
  };
  const server = createServer((request, response) => answers[request.url ?? '']?.(response));
  let base: string;
  before(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    // Keep-alive connections the client left open would keep this file's process running.
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('returns the parsed document', async () => {
    assert.deepEqual(await fetchJwksDocument(`${base}/jwks`), { keys: [] });
  });

  it('rejects, naming the URI, on an error status, a body that is not JSON, a redirect, or no server', async () => {
    await assert.rejects(fetchJwksDocument(`${base}/error`), { message: `GET ${base}/error answered 503` });
    await assert.rejects(fetchJwksDocument(`${base}/html`), { message: `GET ${base}/html answered with something other than JSON` });
    await assert.rejects(fetchJwksDocument(`${base}/redirect`), new RegExp(`GET ${base}/redirect failed`));
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const nobody = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks`;
    await new Promise((resolve) => closed.close(resolve));
    await assert.rejects(fetchJwksDocument(nobody), { message: `GET ${nobody} failed: connect ECONNREFUSED ${nobody.slice(7, -5)}` });
  });
});
