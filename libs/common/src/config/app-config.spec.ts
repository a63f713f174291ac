import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigValidationError, DEVELOPMENT_JWT_SECRET, Env, loadConfig } from './app-config';

const SECRET = 'a-32-byte-secret-for-unit-tests!';
const PRODUCTION: Env = { NODE_ENV: 'production', DATABASE_URL: 'postgres://app@db:5432/playsmart', JWT_SECRET: SECRET };

/** Asserts that loading `env` fails with a ConfigValidationError whose message names every variable in `names`. */
function assertRefused(env: Env, names: string[]): ConfigValidationError {
  let caught: unknown;
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      caught = error;
      return true;
    },
  );
  assert.ok(caught instanceof ConfigValidationError, `expected a ConfigValidationError, got ${String(caught)}`);
  for (const name of names) assert.match(caught.message, new RegExp(`\\b${name}\\b`), `the message names ${name}`);
  return caught;
}

describe('loadConfig', () => {
  it('runs with no environment at all on development defaults', () => {
    const config = loadConfig({});
    assert.equal(config.env, 'development');
    assert.equal(config.port, 3000);
    assert.equal(config.bodyLimitBytes, 1048576);
    assert.deepEqual(config.jwt.key, { kind: 'secret', secret: DEVELOPMENT_JWT_SECRET, isDevelopmentSecret: true });
    assert.deepEqual(config.jwt.algorithms, ['HS256']);
    assert.deepEqual(config.database, { embedded: { dir: './data/pglite' }, migrationsRun: true, poolSize: 10 });
    assert.deepEqual(config.limits, {
      timestampMaxFutureMs: 86_400_000,
      timestampMaxAgeMs: undefined,
      customdataMaxBytes: 8192,
      customdataMaxDepth: 5,
      customdataMaxKeys: 100,
      customdataMaxItems: 100,
    });
  });

  it('reads the values it is given', () => {
    const config = loadConfig({ ...PRODUCTION, PORT: ' 8080 ', BODY_LIMIT: '2048' });
    assert.equal(config.env, 'production');
    assert.equal(config.port, 8080);
    assert.equal(config.bodyLimitBytes, 2048);
    assert.deepEqual(config.jwt.key, { kind: 'secret', secret: SECRET, isDevelopmentSecret: false });
    assert.deepEqual(config.database, { url: PRODUCTION.DATABASE_URL, migrationsRun: true, poolSize: 10 });
  });

  it('refuses production without a JWT key and a DATABASE_URL, naming both at once', () => {
    const error = assertRefused({ NODE_ENV: 'production' }, ['DATABASE_URL', 'JWT_SECRET']);
    assert.equal(error.problems.length, 2);
  });

  it('uses the embedded database in EMBEDDED_DB_DIR outside production when DATABASE_URL is not set, and only then', () => {
    assert.deepEqual(loadConfig({ EMBEDDED_DB_DIR: '/tmp/db' }).database.embedded, { dir: '/tmp/db' });
    assert.deepEqual(loadConfig({ DATABASE_URL: ' ', NODE_ENV: 'test' }).database.embedded, { dir: './data/pglite' });
    const server = loadConfig({ DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x', EMBEDDED_DB_DIR: '/tmp/db' }).database;
    assert.equal(server.embedded, undefined);
    assert.equal(server.url, 'postgres://postgres@127.0.0.1:5432/x');
  });

  it('treats blank variables as unset', () => {
    assertRefused({ NODE_ENV: 'production', DATABASE_URL: '  ', JWT_SECRET: '' }, ['DATABASE_URL', 'JWT_SECRET']);
  });

  it('refuses the public development secret in production', () => {
    assertRefused({ ...PRODUCTION, JWT_SECRET: DEVELOPMENT_JWT_SECRET }, ['JWT_SECRET']);
  });

  describe('PORT', () => {
    for (const port of ['abc', '-1', '65536', '80.5', '3e3']) {
      it(`refuses ${JSON.stringify(port)}`, () => {
        assertRefused({ PORT: port }, ['PORT']);
      });
    }
  });

  it('keeps receipts 7 days unless RECEIPT_RETENTION_SECONDS says otherwise', () => {
    assert.equal(loadConfig({}).receipts.retentionSeconds, 604_800);
    assert.equal(loadConfig({ RECEIPT_RETENTION_SECONDS: '3600' }).receipts.retentionSeconds, 3600);
    for (const value of ['0', '-1', '1.5', 'week']) assertRefused({ RECEIPT_RETENTION_SECONDS: value }, ['RECEIPT_RETENTION_SECONDS']);
  });

  it('counts an IPv6 client by its /56 unless RATE_LIMIT_IPV6_PREFIX says otherwise, from /32 to /128', () => {
    assert.equal(loadConfig({}).rateLimit.ipv6Prefix, 56);
    for (const value of ['32', '48', '64', '128'])
      assert.equal(loadConfig({ RATE_LIMIT_IPV6_PREFIX: value }).rateLimit.ipv6Prefix, Number(value));
    for (const value of ['31', '129', '0', '/56', '56.5']) assertRefused({ RATE_LIMIT_IPV6_PREFIX: value }, ['RATE_LIMIT_IPV6_PREFIX']);
  });

  it('names every bad variable at once', () => {
    const error = assertRefused({ PORT: 'abc', BODY_LIMIT: '1', NODE_ENV: 'staging' }, ['PORT', 'BODY_LIMIT', 'NODE_ENV']);
    assert.equal(error.problems.length, 3);
  });

  describe('JWT_SECRET and JWT_ALGORITHMS', () => {
    it('allows another HMAC algorithm with a secret', () => {
      assert.deepEqual(loadConfig({ JWT_SECRET: SECRET, JWT_ALGORITHMS: 'HS384' }).jwt.algorithms, ['HS384']);
      assert.deepEqual(loadConfig({ JWT_SECRET: SECRET, JWT_ALGORITHMS: ' HS256, HS512 ' }).jwt.algorithms, ['HS256', 'HS512']);
    });

    const refused: Array<[string, string]> = [
      ['RS256', 'a public-key algorithm with a secret'],
      ['HS256,RS256', 'a public-key algorithm among HMAC ones'],
      ['none', 'none'],
      ['hs256', 'a lower-case algorithm name'],
      [',', 'an empty list'],
    ];
    for (const [algorithms, why] of refused) {
      it(`refuses ${why}`, () => {
        assertRefused({ JWT_SECRET: SECRET, JWT_ALGORITHMS: algorithms }, ['JWT_ALGORITHMS']);
      });
    }

    it('refuses none without a secret too', () => {
      assertRefused({ JWT_ALGORITHMS: 'none' }, ['JWT_ALGORITHMS']);
    });

    it('refuses a secret shorter than 32 bytes and counts bytes, not characters', () => {
      assertRefused({ JWT_SECRET: SECRET.slice(0, 31) }, ['JWT_SECRET']);
      assert.equal(loadConfig({ JWT_SECRET: SECRET }).jwt.key.kind, 'secret');
      // 16 characters, 32 bytes in UTF-8.
      assert.equal(loadConfig({ JWT_SECRET: 'é'.repeat(16) }).jwt.key.kind, 'secret');
    });
  });

  describe('ADMIN_USER and ADMIN_PASSWORD', () => {
    it('leave Bull Board off when neither is set', () => {
      assert.equal(loadConfig({}).admin, undefined);
      assert.equal(loadConfig({ ADMIN_USER: ' ', ADMIN_PASSWORD: '' }).admin, undefined);
    });

    it('are read together, the password exactly as given', () => {
      assert.deepEqual(loadConfig({ ADMIN_USER: 'ops', ADMIN_PASSWORD: ' pass word ' }).admin, { user: 'ops', password: ' pass word ' });
    });

    it('refuse one without the other, naming both', () => {
      assertRefused({ ADMIN_USER: 'ops' }, ['ADMIN_USER', 'ADMIN_PASSWORD']);
      assertRefused({ ADMIN_PASSWORD: 'secret' }, ['ADMIN_USER', 'ADMIN_PASSWORD']);
    });

    it('refuse a user with a colon, which Basic auth cannot carry', () => {
      assertRefused({ ADMIN_USER: 'a:b', ADMIN_PASSWORD: 'secret' }, ['ADMIN_USER']);
    });

    it('require a password of at least 12 characters in production', () => {
      assertRefused({ ...PRODUCTION, ADMIN_USER: 'ops', ADMIN_PASSWORD: '11-chars-pw' }, ['ADMIN_PASSWORD']);
      assert.equal(loadConfig({ ...PRODUCTION, ADMIN_USER: 'ops', ADMIN_PASSWORD: '12-chars-pwd' }).admin?.password, '12-chars-pwd');
      assert.equal(loadConfig({ ADMIN_USER: 'ops', ADMIN_PASSWORD: 'short' }).admin?.password, 'short');
    });
  });
});
