import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { loadConfig } from '../config/app-config';
import { BullmqConnections } from './redis-client.module';

describe('BullmqConnections', () => {
  it('hands BullMQ options for one server, and closes at shutdown the Clusters it handed out', async () => {
    const single = new BullmqConnections(loadConfig({ NODE_ENV: 'test', REDIS_URL: 'redis://h:1' }));
    assert.ok(!(single.for('command') instanceof Cluster));
    await single.onApplicationShutdown();

    const connections = new BullmqConnections(loadConfig({ NODE_ENV: 'test', REDIS_CLUSTER_NODES: 'h:7000', QUEUE_SHARDS: '3' }));
    const handed = [connections.for('command'), connections.for('worker')];
    assert.ok(handed.every((connection) => connection instanceof Cluster));
    await connections.onApplicationShutdown();
    for (const connection of handed) assert.match(connection.status, /^(disconnecting|end)$/);
  });
});
