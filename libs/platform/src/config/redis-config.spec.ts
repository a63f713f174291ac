import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigValidationError, Env, loadConfig } from './app-config';

function problems(env: Env): string {
  try {
    loadConfig({ NODE_ENV: 'test', ...env });
  } catch (error) {
    assert.ok(error instanceof ConfigValidationError);
    return error.message;
  }
  assert.fail('the configuration was accepted');
}

describe('the Redis topology (REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES)', () => {
  it("is one server at REDIS_URL's default when none is set, with TLS for rediss:", () => {
    const { redis } = loadConfig({ NODE_ENV: 'test' }).queue;
    assert.deepEqual(redis, {
      topology: { kind: 'standalone', url: 'redis://127.0.0.1:6379' },
      tls: false,
      tlsCa: undefined,
      waitReplicas: 0,
      waitTimeoutMs: 500,
    });
    assert.equal(loadConfig({ NODE_ENV: 'test', REDIS_URL: 'rediss://:p@redis:6380' }).queue.redis.tls, true);
  });

  it('reads Sentinel: the sentinels, the primary, the credentials of the nodes and of the sentinels, TLS', () => {
    const { redis } = loadConfig({
      NODE_ENV: 'test',
      REDIS_SENTINELS: ' 10.0.0.1:26379, sentinel-b:26380,[::1]:26381',
      REDIS_SENTINEL_MASTER: 'mymaster',
      REDIS_USERNAME: 'ingest',
      REDIS_PASSWORD: ' s3cret ',
      REDIS_SENTINEL_PASSWORD: 'watch',
      REDIS_TLS: 'true',
      REDIS_WAIT_REPLICAS: '1',
      REDIS_WAIT_TIMEOUT_MS: '250',
    }).queue;
    assert.deepEqual(redis, {
      topology: {
        kind: 'sentinel',
        masterName: 'mymaster',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: 'sentinel-b', port: 26380 },
          { host: '::1', port: 26381 },
        ],
      },
      username: 'ingest',
      password: ' s3cret ',
      sentinelPassword: 'watch',
      tls: true,
      tlsCa: undefined,
      waitReplicas: 1,
      waitTimeoutMs: 250,
    });
  });

  it('reads Cluster nodes', () => {
    const { topology } = loadConfig({ NODE_ENV: 'test', REDIS_CLUSTER_NODES: 'a:7000,b:7001', QUEUE_SHARDS: '3' }).queue.redis;
    assert.deepEqual(topology, {
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7001 },
      ],
    });
  });

  it('refuses more than one topology, naming the variables', () => {
    assert.match(
      problems({ REDIS_URL: 'redis://a:6379', REDIS_CLUSTER_NODES: 'b:7000' }),
      /REDIS_URL, REDIS_SENTINELS and REDIS_CLUSTER_NODES are exclusive.*got REDIS_URL and REDIS_CLUSTER_NODES/,
    );
    assert.match(
      problems({ REDIS_SENTINELS: 'a:26379', REDIS_SENTINEL_MASTER: 'm', REDIS_CLUSTER_NODES: 'b:7000' }),
      /got REDIS_SENTINELS and REDIS_CLUSTER_NODES/,
    );
  });

  it('refuses a Sentinel half configured, malformed node lists, and settings that would be ignored', () => {
    assert.match(problems({ REDIS_SENTINELS: 'a:26379' }), /REDIS_SENTINELS needs REDIS_SENTINEL_MASTER/);
    assert.match(problems({ REDIS_SENTINEL_MASTER: 'm' }), /REDIS_SENTINEL_MASTER is set without REDIS_SENTINELS/);
    assert.match(problems({ REDIS_CLUSTER_NODES: 'a:7000,b' }), /REDIS_CLUSTER_NODES must list host:port entries.*got "b"/);
    assert.match(problems({ REDIS_CLUSTER_NODES: 'a:70000' }), /REDIS_CLUSTER_NODES must list host:port/);
    assert.match(problems({ REDIS_CLUSTER_NODES: 'redis://a:7000' }), /REDIS_CLUSTER_NODES must list host:port/);
    assert.match(
      problems({ REDIS_PASSWORD: 'p' }),
      /REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS apply to REDIS_SENTINELS or REDIS_CLUSTER_NODES/,
    );
    assert.match(problems({ REDIS_URL: 'redis://a:6379', REDIS_TLS: 'true' }), /for one server put them in REDIS_URL/);
    assert.match(problems({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_USERNAME: 'u' }), /REDIS_USERNAME needs REDIS_PASSWORD/);
    assert.match(
      problems({ REDIS_CLUSTER_NODES: 'a:7000', REDIS_SENTINEL_PASSWORD: 'p' }),
      /REDIS_SENTINEL_PASSWORD is set without REDIS_SENTINELS/,
    );
    assert.match(problems({ REDIS_WAIT_REPLICAS: '-1' }), /REDIS_WAIT_REPLICAS must be an integer from 0/);
    assert.match(problems({ REDIS_WAIT_TIMEOUT_MS: '5000' }), /REDIS_WAIT_TIMEOUT_MS must be an integer from 1 to 1000/);
  });

  it('reads REDIS_TLS_CA_FILE for every topology', () => {
    const ca = loadConfig({
      NODE_ENV: 'test',
      REDIS_CLUSTER_NODES: 'a:7000',
      QUEUE_SHARDS: '3',
      REDIS_TLS: 'yes',
      REDIS_TLS_CA_FILE: __filename,
    }).queue.redis;
    assert.equal(ca.tls, true);
    assert.equal(ca.tlsCa, readFileSync(__filename, 'utf8'));
  });
});
