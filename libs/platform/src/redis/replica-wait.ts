import { Cluster } from 'ioredis';
import type { Redis } from 'ioredis';
import { keySlot } from './key-slot';
import type { RedisConnection } from './redis-connection';

/**
 * The connection that wrote `key`: the client itself, or, in a Cluster, its connection to the primary serving the
 * key's slot. ioredis sends a keyless command such as WAIT to a random node; Jedis and phpredis route WAIT by a key
 * the same way (https://github.com/redis/jedis/issues/1867).
 */
function writerOf(connection: RedisConnection, key: string): Redis {
  if (!(connection instanceof Cluster)) return connection;
  const slot = keySlot(key);
  const nodeKey = connection.slots[slot]?.[0];
  const node = connection.nodes('master').find(({ options }) => `${options.host}:${options.port}` === nodeKey);
  if (node === undefined) throw new Error(`no primary known for slot ${slot}`);
  return node;
}

/**
 * WAIT: how many replicas hold every write this connection made so far, waiting up to `timeoutMs` for `replicas` of
 * them. WAIT counts the writes of the connection it is sent on only, so it must go on the connection that wrote
 * (https://github.com/redis/redis/pull/12439), and scripts may not
 * call it. It blocks that connection meanwhile: commands sent after it on that connection wait for its answer.
 */
export async function waitForReplicas(connection: RedisConnection, key: string, replicas: number, timeoutMs: number): Promise<number> {
  return writerOf(connection, key).wait(replicas, timeoutMs);
}
