import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { keySlot } from './key-slot';
import { waitForReplicas } from './replica-wait';

describe('waitForReplicas', () => {
  it('sends WAIT on the connection itself, or in a Cluster on its connection to the primary of the key slot', async () => {
    const sent: string[] = [];
    const node = (name: string, port: number) =>
      ({
        options: { host: '127.0.0.1', port },
        wait: (n: number, ms: number) => (sent.push(`${name} ${n} ${ms}`), Promise.resolve(n)),
      }) as unknown as Redis;
    assert.equal(await waitForReplicas(node('single', 1), 'k', 1, 100), 1);
    const slots: string[][] = [];
    slots[keySlot('{q}')] = ['127.0.0.1:7001', '127.0.0.1:7004'];
    const cluster = Object.assign(Object.create(Cluster.prototype) as Cluster, {
      slots,
      nodes: () => [node('a', 7000), node('b', 7001), node('c', 7002)],
    });
    assert.equal(await waitForReplicas(cluster, '{q}:ingest:1', 2, 300), 2);
    assert.deepEqual(sent, ['single 1 100', 'b 2 300']);
    await assert.rejects(waitForReplicas(cluster, 'other', 1, 100), /no primary known for slot/);
  });
});
