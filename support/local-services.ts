import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import type { Redis } from 'ioredis';
import { Client } from 'pg';

/** A TCP port nobody listens on right now, for a service or proxy a test or the benchmark starts. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ScratchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function onServer<T>(adminUrl: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A fresh database (`<prefix>_<random>`) on the server of `adminUrl`, for one test file or benchmark stage. */
export async function createDatabase(adminUrl: string, prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  await onServer(adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () =>
      onServer(adminUrl, async (client) => {
        // Closed pools finish disconnecting a moment after end() resolves. Terminating them with FORCE would surface as
        // an uncaught error in a process that still has one, so wait for them first (55006: the database is in use).
        for (let attempt = 0; ; attempt++) {
          try {
            await client.query(`DROP DATABASE IF EXISTS ${name}${attempt >= 50 ? ' WITH (FORCE)' : ''}`);
            return;
          } catch (error) {
            if ((error as { code?: string }).code !== '55006' || attempt >= 50) throw error;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }),
  };
}

/** Removes every Redis key under a queue prefix. */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  // `{<prefix>:…}`: the hash-tagged keys of the queue's shards (QUEUE_SHARDS > 1).
  for (const pattern of [`${prefix}:*`, `{${prefix}:*`]) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      // One key a command: keys of several shards are in several cluster slots.
      await Promise.all(keys.map((key) => redis.unlink(key)));
      cursor = next;
    } while (cursor !== '0');
  }
}
