import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER_SLOTS, keySlot } from '#platform';
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

  it('spreads the shards evenly over the masters of a cluster made by `redis-cli --cluster create`', () => {
    // redis-cli gives master m the slots up to lround((m + 1) · 16384 / masters − 1): 0–5460, 5461–10922, 10923–16383.
    const masterOf = (slot: number, masters: number) => {
      for (let m = 0; ; m++) if (slot <= Math.round(((m + 1) * CLUSTER_SLOTS) / masters - 1) || m === masters - 1) return m;
    };
    assert.deepEqual(
      [5460, 5461, 10922, 10923].map((slot) => masterOf(slot, 3)),
      [0, 1, 1, 2],
    );
    for (const masters of [3, 5, 6, 7]) {
      for (const perMaster of [1, 2, 3]) {
        const counts = new Array<number>(masters).fill(0);
        for (const { slot } of queueShards({ prefix: 'playsmart', shards: masters * perMaster })) counts[masterOf(slot!, masters)]++;
        assert.deepEqual(counts, new Array<number>(masters).fill(perMaster), `${masters} masters, ${masters * perMaster} shards`);
      }
    }
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
    assert.equal(drainedShards({ prefix: 'p', shards: 3, drainUnsharded: false }).length, 3, 'QUEUE_DRAIN_UNSHARDED=false');
  });
});
