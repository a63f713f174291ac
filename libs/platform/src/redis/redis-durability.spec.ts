import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { Logger, LoggerService } from '@nestjs/common';
import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import { Metrics } from '../metrics/metrics';
import { durabilityRisks, readRedisDurability, RedisDurabilityReport } from './redis-durability';

/** A Redis that answers CONFIG GET from `config` (or refuses it, as managed services do) and INFO from `info`. */
function fakeRedis(config: Record<string, string> | 'refused', info = ''): Redis {
  return Object.assign(new EventEmitter(), {
    status: 'ready',
    config: (_: string, name: string) =>
      config === 'refused' ? Promise.reject(new Error("ERR unknown command 'CONFIG'")) : Promise.resolve([name, config[name]]),
    info: () => Promise.resolve(info),
  }) as unknown as Redis;
}

describe('what the Redis in use can lose', () => {
  it('reads appendonly and maxmemory-policy with CONFIG GET', async () => {
    assert.deepEqual(await readRedisDurability(fakeRedis({ appendonly: 'yes', 'maxmemory-policy': 'noeviction' })), {
      appendonly: 'yes',
      maxmemory_policy: 'noeviction',
    });
  });

  it('reads them from INFO where CONFIG is disabled, and leaves out what INFO does not say', async () => {
    const info = '# Persistence\r\nloading:0\r\naof_enabled:1\r\n# Memory\r\nmaxmemory_policy:allkeys-lru\r\n';
    assert.deepEqual(await readRedisDurability(fakeRedis('refused', info)), { appendonly: 'yes', maxmemory_policy: 'allkeys-lru' });
    assert.deepEqual(await readRedisDurability(fakeRedis('refused', '# Memory\r\nused_memory:1\r\n')), {});
  });

  it('reads every primary of a Cluster, and reports the worst of them', async () => {
    const cluster = (...primaries: Redis[]) => Object.assign(Object.create(Cluster.prototype) as Cluster, { nodes: () => primaries });
    const safe = fakeRedis({ appendonly: 'yes', 'maxmemory-policy': 'noeviction' });
    const risky = fakeRedis({ appendonly: 'no', 'maxmemory-policy': 'allkeys-lru' });
    assert.deepEqual(await readRedisDurability(cluster(safe, safe)), { appendonly: 'yes', maxmemory_policy: 'noeviction' });
    assert.deepEqual(await readRedisDurability(cluster(safe, risky)), { appendonly: 'no', maxmemory_policy: 'allkeys-lru' });
    assert.deepEqual(
      await readRedisDurability(cluster(safe, fakeRedis('refused'))),
      { maxmemory_policy: 'noeviction' },
      'one that would not say',
    );
  });

  it('names each setting that loses batches answered 202, and none for appendonly yes with noeviction', () => {
    assert.deepEqual(durabilityRisks({ appendonly: 'yes', maxmemory_policy: 'noeviction' }), []);
    assert.deepEqual(durabilityRisks({}), [], 'what Redis would not say is not called a risk');
    assert.deepEqual(durabilityRisks({ appendonly: 'no', maxmemory_policy: 'volatile-lru' }), [
      'appendonly no: a Redis restart loses every batch answered 202 and not yet written',
      'maxmemory-policy volatile-lru: a full Redis may silently evict queued batches (BullMQ needs noeviction)',
    ]);
  });

  describe('RedisDurabilityReport', () => {
    const warnings: string[] = [];
    const spy: LoggerService = { log: () => undefined, error: () => undefined, warn: (message: unknown) => warnings.push(String(message)) };
    before(() => {
      Logger.overrideLogger(spy);
    });
    after(() => {
      Logger.overrideLogger(false);
    });

    it('says it once in the log, in the metrics and to readiness, and again only when a reconnection finds other settings', async () => {
      const settings = { appendonly: 'no', 'maxmemory-policy': 'noeviction' };
      const redis = fakeRedis(settings);
      const metrics = new Metrics();
      const report = new RedisDurabilityReport(redis, metrics);
      assert.equal(report.current(), undefined, 'nothing said before Redis has answered');
      report.onModuleInit();
      await report.read();
      assert.deepEqual(report.current(), {
        appendonly: 'no',
        maxmemory_policy: 'noeviction',
        risks: ['appendonly no: a Redis restart loses every batch answered 202 and not yet written'],
      });
      const text = await metrics.registry.metrics();
      assert.match(text, /^playsmart_redis_settings\{appendonly="no",maxmemory_policy="noeviction"\} 1$/m);
      assert.match(text, /^playsmart_redis_loss_risks 1$/m);

      redis.emit('ready');
      await report.read();
      assert.equal(warnings.length, 1, 'the same settings after a reconnection: no second line');
      assert.match(warnings[0], /can lose accepted batches: appendonly no/);

      settings.appendonly = 'yes';
      redis.emit('ready');
      await report.read();
      assert.deepEqual(report.current()?.risks, []);
      assert.match(await metrics.registry.metrics(), /^playsmart_redis_loss_risks 0$/m);
      settings.appendonly = 'no';
      // A Cluster's failover: the promoted replica joins the client's pool, and is read without being asked.
      redis.emit('+node');
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(report.current()?.risks.length, 1);
      assert.equal(warnings.length, 2, 'a risk that comes back is said again');
      assert.match(await metrics.registry.metrics(), /^playsmart_redis_loss_risks 1$/m);
    });
  });
});
