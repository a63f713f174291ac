import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER_SLOTS, keySlot } from './key-slot';
import { drainedShards, queueShards, shardTag } from './queue-shards';

describe('queue shards', () => {
  it('QUEUE_SHARDS=1 is the unsharded queue, under the key names of the versions before shards', () => {
    assert.deepEqual(queueShards({ prefix: 'playsmart', shards: 1 }), [
      { index: 0, prefix: 'playsmart', label: 'ingest-events', counterKey: 'playsmart:ingest-events:buffered-events' },
    ]);
    assert.equal(drainedShards({ prefix: 'playsmart', shards: 1 }).length, 1);
  });

  it('puts shard i of n in the i-th of n equal slot ranges, for every n', () => {
    for (let count = 2; count <= 64; count++) {
      const shards = queueShards({ prefix: 'playsmart', shards: count });
      for (const shard of shards) {
        const slot = keySlot(`${shard.prefix}:ingest-events:wait`);
        assert.equal(slot, shard.slot);
        assert.equal(keySlot(`${shard.counterKey}:reserved:b`), slot, 'the counter and its reservations share the slot');
        assert.ok(slot >= Math.floor((shard.index * CLUSTER_SLOTS) / count), `${count}/${shard.index}: ${slot}`);
        assert.ok(slot < Math.floor(((shard.index + 1) * CLUSTER_SLOTS) / count), `${count}/${shard.index}: ${slot}`);
      }
    }
  });

  it('spreads 6 shards two per master of a 3-master cluster', () => {
    const masters = [0, 5461, 10923, CLUSTER_SLOTS];
    const perMaster = [0, 0, 0];
    for (const { slot } of queueShards({ prefix: 'playsmart', shards: 6 })) {
      perMaster[masters.findIndex((start, i) => slot! >= start && slot! < masters[i + 1])]++;
    }
    assert.deepEqual(perMaster, [2, 2, 2]);
  });

  it('the tags: stable, readable and under the prefix', () => {
    assert.match(shardTag('playsmart', 3, 6), /^playsmart:ingest:3(\.\d+)?$/);
    assert.equal(shardTag('playsmart', 3, 6), shardTag('playsmart', 3, 6));
    const drained = drainedShards({ prefix: 'p', shards: 3 });
    assert.deepEqual(
      drained.map((s) => s.label),
      ['shard-0', 'shard-1', 'shard-2', 'ingest-events'],
    );
    assert.equal(drained[3].prefix, 'p');
  });
});
