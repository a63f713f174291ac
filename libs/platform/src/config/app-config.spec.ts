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
  it('QUEUE_SHARDS: 1 by default, 1 to 64, and QUEUE_DRAIN_UNSHARDED a boolean', () => {
    assert.equal(loadConfig({ NODE_ENV: 'test' }).queue.shards, 1);
    assert.equal(loadConfig({ NODE_ENV: 'test', QUEUE_SHARDS: '64' }).queue.shards, 64);
    for (const value of ['0', '65', 'two']) assertRefused({ NODE_ENV: 'test', QUEUE_SHARDS: value }, ['QUEUE_SHARDS']);
    assert.equal(loadConfig({ NODE_ENV: 'test' }).queue.drainUnsharded, true);
    assertRefused({ NODE_ENV: 'test', QUEUE_DRAIN_UNSHARDED: 'maybe' }, ['QUEUE_DRAIN_UNSHARDED']);
  });

  it('WRITER_THREAD: the all-in-one writes on a thread of its own on a PostgreSQL server, on the main thread with the embedded database', () => {
    assert.equal(loadConfig(PRODUCTION).queue.writerThread, true);
    assert.equal(loadConfig({ ...PRODUCTION, WRITER_THREAD: 'false' }).queue.writerThread, false);
    assert.equal(loadConfig({ NODE_ENV: 'test' }).queue.writerThread, false);
    assertRefused({ NODE_ENV: 'test', WRITER_THREAD: 'true' }, ['WRITER_THREAD', 'DATABASE_URL']);
    // WORKER_CONCURRENCY unset: 16 jobs at a time on the thread, 4 on the event loop HTTP shares.
    assert.equal(loadConfig(PRODUCTION).queue.workerConcurrency, 16);
    assert.equal(loadConfig({ ...PRODUCTION, WRITER_THREAD: 'false' }).queue.workerConcurrency, 4);
    assert.equal(loadConfig({ NODE_ENV: 'test' }).queue.workerConcurrency, 4);
    assert.equal(loadConfig({ ...PRODUCTION, WORKER_CONCURRENCY: '8' }).queue.workerConcurrency, 8);
  });

  it('on a Redis Cluster, every queue in one slot: QUEUE_SHARDS ≥ 2 or a tagged QUEUE_PREFIX; the unsharded queue not drained', () => {
    const cluster = { NODE_ENV: 'test', REDIS_CLUSTER_NODES: '10.0.0.1:6379,10.0.0.2:6379' };
    assertRefused(cluster, ['REDIS_CLUSTER_NODES', 'QUEUE_SHARDS', 'QUEUE_PREFIX']);
    const sharded = loadConfig({ ...cluster, QUEUE_SHARDS: '6' }).queue;
    assert.deepEqual([sharded.shards, sharded.drainUnsharded], [6, false]);
    assertRefused({ ...cluster, QUEUE_SHARDS: '6', QUEUE_DRAIN_UNSHARDED: 'true' }, ['QUEUE_DRAIN_UNSHARDED', 'REDIS_CLUSTER_NODES']);
    const tagged = loadConfig({ ...cluster, QUEUE_PREFIX: '{playsmart}' }).queue;
    assert.deepEqual([tagged.shards, tagged.drainUnsharded], [1, true]);
    assertRefused({ NODE_ENV: 'test', QUEUE_SHARDS: '2', QUEUE_PREFIX: '{playsmart}' }, ['QUEUE_PREFIX', 'QUEUE_SHARDS']);
  });

  it('runs on development defaults with NODE_ENV=development alone, as npm start sets it', () => {
    const config = loadConfig({ NODE_ENV: 'development' });
    assert.equal(config.env, 'development');
    assert.equal(config.port, 3000);
    assert.equal(config.bodyLimitBytes, 1048576);
    assert.deepEqual(config.jwt.key, { kind: 'secret', secret: DEVELOPMENT_JWT_SECRET, isDevelopmentSecret: true });
    assert.deepEqual(config.jwt.algorithms, ['HS256']);
    assert.deepEqual(config.database, { embedded: { dir: './data/pglite', port: 54329 }, migrationsRun: true, poolSize: 10 });
    assert.deepEqual(config.limits, {
      timestampMaxFutureMs: 86_400_000,
      timestampMaxAgeMs: undefined,
      retentionMs: undefined,
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

  it('fails closed without NODE_ENV: the published development secret needs an environment that asks for it', () => {
    const error = assertRefused({}, ['JWT_SECRET', 'NODE_ENV']);
    assert.equal(error.problems.length, 1);
    assert.equal(loadConfig({ JWT_SECRET: SECRET }).jwt.key.kind, 'secret');
  });

  it('refuses production without a JWT key and a DATABASE_URL, naming both at once', () => {
    const error = assertRefused({ NODE_ENV: 'production' }, ['DATABASE_URL', 'JWT_SECRET']);
    assert.equal(error.problems.length, 2);
  });

  it('uses the embedded database in EMBEDDED_DB_DIR outside production when DATABASE_URL is not set, and only then', () => {
    assert.deepEqual(loadConfig({ NODE_ENV: 'development', EMBEDDED_DB_DIR: '/tmp/db', EMBEDDED_DB_PORT: '0' }).database.embedded, {
      dir: '/tmp/db',
      port: 0,
    });
    assert.deepEqual(loadConfig({ DATABASE_URL: ' ', NODE_ENV: 'test' }).database.embedded, { dir: './data/pglite', port: 54329 });
    assert.throws(() => loadConfig({ NODE_ENV: 'development', EMBEDDED_DB_PORT: '70000' }), /EMBEDDED_DB_PORT/);
    const server = loadConfig({
      NODE_ENV: 'development',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/x',
      EMBEDDED_DB_DIR: '/tmp/db',
    }).database;
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
    assert.equal(loadConfig({ NODE_ENV: 'development' }).receipts.retentionSeconds, 604_800);
    assert.equal(loadConfig({ NODE_ENV: 'development', RECEIPT_RETENTION_SECONDS: '3600' }).receipts.retentionSeconds, 3600);
    for (const value of ['0', '-1', '1.5', 'week']) assertRefused({ RECEIPT_RETENTION_SECONDS: value }, ['RECEIPT_RETENTION_SECONDS']);
  });

  it('partitions events by month, 3 ahead, kept forever unless EVENTS_PARTITION_* and EVENTS_RETENTION_DAYS say otherwise', () => {
    assert.deepEqual(loadConfig({ NODE_ENV: 'development' }).events, {
      partitionInterval: 'month',
      partitionsAhead: 3,
      retentionDays: undefined,
    });
    assert.deepEqual(
      loadConfig({ NODE_ENV: 'development', EVENTS_PARTITION_INTERVAL: 'week', EVENTS_PARTITIONS_AHEAD: '8', EVENTS_RETENTION_DAYS: '400' })
        .events,
      { partitionInterval: 'week', partitionsAhead: 8, retentionDays: 400 },
    );
    for (const value of ['year', 'Month', '30d']) assertRefused({ EVENTS_PARTITION_INTERVAL: value }, ['EVENTS_PARTITION_INTERVAL']);
    for (const value of ['0', '121', '-1', 'three']) assertRefused({ EVENTS_PARTITIONS_AHEAD: value }, ['EVENTS_PARTITIONS_AHEAD']);
    for (const value of ['0', '-1', '1.5', 'year']) assertRefused({ EVENTS_RETENTION_DAYS: value }, ['EVENTS_RETENTION_DAYS']);
  });

  it('refuses timestamps older than EVENTS_RETENTION_DAYS, besides TIMESTAMP_MAX_AGE_SECONDS', () => {
    const { timestampMaxAgeMs, retentionMs } = loadConfig({
      NODE_ENV: 'development',
      EVENTS_RETENTION_DAYS: '30',
      TIMESTAMP_MAX_AGE_SECONDS: '60',
    }).limits;
    assert.deepEqual([timestampMaxAgeMs, retentionMs], [60_000, 30 * 86_400_000]);
  });

  it('counts an IPv6 client by its /56 unless RATE_LIMIT_IPV6_PREFIX says otherwise, from /32 to /128', () => {
    assert.equal(loadConfig({ NODE_ENV: 'development' }).rateLimit.ipv6Prefix, 56);
    for (const value of ['32', '48', '64', '128'])
      assert.equal(loadConfig({ NODE_ENV: 'development', RATE_LIMIT_IPV6_PREFIX: value }).rateLimit.ipv6Prefix, Number(value));
    for (const value of ['31', '129', '0', '/56', '56.5']) assertRefused({ RATE_LIMIT_IPV6_PREFIX: value }, ['RATE_LIMIT_IPV6_PREFIX']);
  });

  describe('CLIENT_ENABLED, CLIENT_FLUSH_AT and CLIENT_FLUSH_INTERVAL_MS', () => {
    const DEV: Env = { NODE_ENV: 'development' };

    it('default to sending, 50 events or 10 seconds', () => {
      assert.deepEqual(loadConfig(DEV).client, { enabled: true, flushAt: 50, flushIntervalMs: 10_000 });
    });

    it('read the values they are given, up to a full batch and an hour', () => {
      const env = { ...DEV, CLIENT_ENABLED: 'false', CLIENT_FLUSH_AT: '200', CLIENT_FLUSH_INTERVAL_MS: '3600000' };
      assert.deepEqual(loadConfig(env).client, { enabled: false, flushAt: 200, flushIntervalMs: 3_600_000 });
      assert.equal(loadConfig({ ...DEV, CLIENT_ENABLED: '0' }).client.enabled, false);
      assert.equal(loadConfig({ ...DEV, CLIENT_ENABLED: 'yes' }).client.enabled, true);
      assert.equal(loadConfig({ ...DEV, CLIENT_FLUSH_AT: '1', CLIENT_FLUSH_INTERVAL_MS: '1000' }).client.flushAt, 1);
      assert.equal(loadConfig({ ...DEV, CLIENT_FLUSH_INTERVAL_MS: '1000' }).client.flushIntervalMs, 1000);
    });

    it('refuse anything else, naming the variable', () => {
      for (const value of ['maybe', 'on', '2']) assertRefused({ ...DEV, CLIENT_ENABLED: value }, ['CLIENT_ENABLED']);
      for (const value of ['0', '201', '-1', '1.5', 'many']) assertRefused({ ...DEV, CLIENT_FLUSH_AT: value }, ['CLIENT_FLUSH_AT']);
      for (const value of ['999', '3600001', '0', '10s']) {
        assertRefused({ ...DEV, CLIENT_FLUSH_INTERVAL_MS: value }, ['CLIENT_FLUSH_INTERVAL_MS']);
      }
      const error = assertRefused({ ...DEV, CLIENT_ENABLED: 'x', CLIENT_FLUSH_AT: '0', CLIENT_FLUSH_INTERVAL_MS: '0' }, [
        'CLIENT_ENABLED',
        'CLIENT_FLUSH_AT',
        'CLIENT_FLUSH_INTERVAL_MS',
      ]);
      assert.equal(error.problems.length, 3);
    });
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

  describe('RFC 8725 token settings', () => {
    const PEM = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----';
    const JWKS = 'https://id.example.com/.well-known/jwks.json';
    const { JWT_SECRET: _secret, ...withoutSecret } = PRODUCTION;

    it('requires JWT_AUDIENCE in production with a public key or a JWKS, which a provider shares with other apps', () => {
      assertRefused({ ...withoutSecret, JWT_PUBLIC_KEY: PEM }, ['JWT_AUDIENCE']);
      assertRefused({ ...withoutSecret, JWT_JWKS_URI: JWKS }, ['JWT_AUDIENCE']);
      assert.equal(loadConfig({ ...withoutSecret, JWT_JWKS_URI: JWKS, JWT_AUDIENCE: 'playsmart' }).jwt.audience, 'playsmart');
      assert.equal(loadConfig({ JWT_JWKS_URI: JWKS }).jwt.audience, undefined, 'outside production it stays optional');
    });

    it('leaves JWT_AUDIENCE and JWT_ISSUER optional with a dedicated secret, in production too', () => {
      const { jwt } = loadConfig(PRODUCTION);
      assert.equal(jwt.audience, undefined);
      assert.equal(jwt.issuer, undefined);
    });

    it('requires an https JWKS URI in production and allows http outside it', () => {
      const error = assertRefused({ ...withoutSecret, JWT_JWKS_URI: 'http://id.example.com/jwks', JWT_AUDIENCE: 'playsmart' }, [
        'JWT_JWKS_URI',
      ]);
      assert.equal(error.problems.length, 1);
      assert.equal(loadConfig({ JWT_JWKS_URI: 'http://127.0.0.1:8080/jwks' }).jwt.key.kind, 'jwks');
    });

    it('refreshes a JWKS at most once a minute unless JWT_JWKS_REFRESH_SECONDS says otherwise', () => {
      assert.deepEqual(loadConfig({ JWT_JWKS_URI: JWKS }).jwt.key, { kind: 'jwks', uri: JWKS, refreshSeconds: 60 });
      assert.deepEqual(loadConfig({ JWT_JWKS_URI: JWKS, JWT_JWKS_REFRESH_SECONDS: '1' }).jwt.key, {
        kind: 'jwks',
        uri: JWKS,
        refreshSeconds: 1,
      });
      for (const value of ['0', '3601', 'often'])
        assertRefused({ JWT_JWKS_URI: JWKS, JWT_JWKS_REFRESH_SECONDS: value }, ['JWT_JWKS_REFRESH_SECONDS']);
    });

    it('caps token lifetimes at 7 days unless JWT_MAX_LIFETIME_SECONDS says otherwise', () => {
      assert.equal(loadConfig({ NODE_ENV: 'development' }).jwt.maxLifetimeSeconds, 604_800);
      assert.equal(loadConfig({ NODE_ENV: 'development', JWT_MAX_LIFETIME_SECONDS: '3600' }).jwt.maxLifetimeSeconds, 3600);
      for (const value of ['0', '-1', '1.5', 'week', String(367 * 86400)]) {
        assertRefused({ JWT_MAX_LIFETIME_SECONDS: value }, ['JWT_MAX_LIFETIME_SECONDS']);
      }
    });

    it('reads JWT_TYPE as a media type', () => {
      assert.equal(loadConfig({ NODE_ENV: 'development' }).jwt.type, undefined);
      assert.equal(loadConfig({ NODE_ENV: 'development', JWT_TYPE: ' at+jwt ' }).jwt.type, 'at+jwt');
      assert.equal(loadConfig({ NODE_ENV: 'development', JWT_TYPE: 'application/at+jwt' }).jwt.type, 'application/at+jwt');
      for (const value of ['at jwt', 'a/b/c', '"at+jwt"', '/jwt']) assertRefused({ JWT_TYPE: value }, ['JWT_TYPE']);
    });
  });

  describe('JWT_GAME_CLAIM and JWT_REQUIRE_GAME_CLAIM', () => {
    it('bind no game by default', () => {
      const { jwt } = loadConfig({ NODE_ENV: 'development' });
      assert.equal(jwt.gameClaim, undefined);
      assert.equal(jwt.requireGameClaim, false);
    });

    it('read the claim name, a namespaced one too', () => {
      assert.equal(loadConfig({ NODE_ENV: 'development', JWT_GAME_CLAIM: 'game_id' }).jwt.gameClaim, 'game_id');
      const namespaced = loadConfig({
        NODE_ENV: 'development',
        JWT_GAME_CLAIM: 'https://playsmart.example/game_id',
        JWT_REQUIRE_GAME_CLAIM: 'true',
      }).jwt;
      assert.equal(namespaced.gameClaim, 'https://playsmart.example/game_id');
      assert.equal(namespaced.requireGameClaim, true);
    });

    it('refuse a claim name with spaces, and requiring a claim without naming it', () => {
      assertRefused({ JWT_GAME_CLAIM: 'game id' }, ['JWT_GAME_CLAIM']);
      assertRefused({ JWT_REQUIRE_GAME_CLAIM: 'true' }, ['JWT_REQUIRE_GAME_CLAIM', 'JWT_GAME_CLAIM']);
      assertRefused({ JWT_GAME_CLAIM: 'game_id', JWT_REQUIRE_GAME_CLAIM: 'sometimes' }, ['JWT_REQUIRE_GAME_CLAIM']);
    });
  });

  describe('ADMIN_USER and ADMIN_PASSWORD', () => {
    it('leave Bull Board off when neither is set', () => {
      assert.equal(loadConfig({ NODE_ENV: 'development' }).admin, undefined);
      assert.equal(loadConfig({ NODE_ENV: 'development', ADMIN_USER: ' ', ADMIN_PASSWORD: '' }).admin, undefined);
    });

    it('are read together, the password exactly as given', () => {
      assert.deepEqual(loadConfig({ NODE_ENV: 'development', ADMIN_USER: 'ops', ADMIN_PASSWORD: ' pass word ' }).admin, {
        user: 'ops',
        password: ' pass word ',
      });
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
      assert.equal(loadConfig({ NODE_ENV: 'development', ADMIN_USER: 'ops', ADMIN_PASSWORD: 'short' }).admin?.password, 'short');
    });
  });

  it('believes only the proxies TRUST_PROXY names, by hop count or address, never every client', () => {
    const trust = (value: string) => loadConfig({ NODE_ENV: 'test', TRUST_PROXY: value }).trustProxy;
    assert.equal(trust('false'), false);
    assert.equal(trust('2'), 2);
    assert.equal(trust(' 10.0.0.1, 10.1.0.0/16 ,2001:db8::/32 '), '10.0.0.1,10.1.0.0/16,2001:db8::/32');
    for (const refused of ['true', 'loopback', '10.0.0.1/33', '2001:db8::/129', '10.0.0/8', '10.0.0.1,x']) {
      assertRefused({ NODE_ENV: 'test', TRUST_PROXY: refused }, ['TRUST_PROXY']);
    }
  });

  describe('CORS_ORIGINS', () => {
    const origins = (value: string | undefined, env: Env = { NODE_ENV: 'test' }) => loadConfig({ ...env, CORS_ORIGINS: value }).corsOrigins;

    it('is off when unset or blank, and lists exact origins otherwise', () => {
      assert.equal(origins(undefined), undefined);
      assert.equal(origins('  '), undefined);
      assert.deepEqual(origins(' https://play.example.com, http://localhost:5173 '), ['https://play.example.com', 'http://localhost:5173']);
      assert.deepEqual(origins('https://play.example.com', PRODUCTION), ['https://play.example.com']);
    });

    it('takes * outside production only, naming the variable', () => {
      assert.equal(origins('*'), '*');
      assert.equal(origins('*', { NODE_ENV: 'development' }), '*');
      const error = assertRefused({ ...PRODUCTION, CORS_ORIGINS: '*' }, ['CORS_ORIGINS', 'NODE_ENV']);
      assert.match(error.message, /must not be \*/);
    });

    it('refuses anything but origins as browsers write them', () => {
      for (const refused of [
        'https://play.example.com/',
        'https://play.example.com/game',
        'https://Play.Example.com',
        'https://play.example.com:443',
        'play.example.com',
        'ftp://play.example.com',
        'null',
        '*,https://play.example.com',
        ',',
      ]) {
        assertRefused({ NODE_ENV: 'test', CORS_ORIGINS: refused }, ['CORS_ORIGINS']);
      }
    });
  });

  it("keeps the docs off the players' port and off altogether in production unless asked, operations on 127.0.0.1", () => {
    const production = loadConfig(PRODUCTION);
    assert.deepEqual([production.swaggerEnabled, production.docsPublic], [false, false]);
    assert.deepEqual(production.ops, { port: 9464, host: '127.0.0.1' });
    const development = loadConfig({ NODE_ENV: 'development' });
    assert.deepEqual([development.swaggerEnabled, development.docsPublic], [true, true]);
    const opted = loadConfig({ ...PRODUCTION, SWAGGER_ENABLED: 'true', DOCS_PUBLIC: 'true', OPS_PORT: '9100', OPS_HOST: '10.0.0.5' });
    assert.deepEqual([opted.swaggerEnabled, opted.docsPublic, opted.ops], [true, true, { port: 9100, host: '10.0.0.5' }]);
  });
});
