import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { exited } from '../../support/service-process';
import { freePort, PrivateRedis, waitUntil } from './processes';

/** One command to a server on 127.0.0.1 (`port`, or `[port, password]`), on a connection of its own. */
async function ask(server: number | [number, string | undefined], ...command: [string, ...(string | number)[]]): Promise<unknown> {
  const [port, password] = typeof server === 'number' ? [server, undefined] : server;
  const redis = new Redis({ port, password, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await redis.call(...command);
  } finally {
    redis.disconnect();
  }
}

/** Without persistence, as Redis runs by default and as a failover test must: what a replica lacks is lost. */
export const NO_PERSISTENCE = ['--appendonly', 'no', '--save', ''];

/**
 * A primary, two replicas and three sentinels monitoring them as `mymaster` (quorum 2), each on a free port, the
 * sentinels with a config file each in a temporary directory. The primary is down for the sentinels after 1 s.
 * Two replicas, so that after a failover the new primary still has one (for REDIS_WAIT_REPLICAS=1).
 */
export class SentinelGroup {
  static readonly MASTER = 'mymaster';
  private readonly dir = mkdtempSync(join(tmpdir(), 'playsmart-sentinel-'));
  private readonly sentinels: ChildProcess[] = [];

  private constructor(
    readonly primary: PrivateRedis,
    readonly replicas: PrivateRedis[],
    readonly sentinelPorts: number[],
    private readonly sentinelPassword?: string,
  ) {}

  /** With `password`, every data node requires it; with `sentinelPassword`, every sentinel requires that one. */
  static async start({ password, sentinelPassword }: { password?: string; sentinelPassword?: string } = {}): Promise<SentinelGroup> {
    const auth = password === undefined ? [] : ['--requirepass', password, '--masterauth', password];
    const primary = await PrivateRedis.start(undefined, [...NO_PERSISTENCE, ...auth]);
    const replicas = await Promise.all(
      [0, 1].map(() => PrivateRedis.start(undefined, [...NO_PERSISTENCE, ...auth, '--replicaof', '127.0.0.1', String(primary.port)])),
    );
    const group = new SentinelGroup(primary, replicas, [await freePort(), await freePort(), await freePort()], sentinelPassword);
    try {
      for (const replica of replicas) {
        await waitUntil(
          async () => /master_link_status:up/.test(String(await ask([replica.port, password], 'INFO', 'replication'))),
          10_000,
          'replica in sync',
        );
      }
      for (const [index, port] of group.sentinelPorts.entries()) {
        const file = join(group.dir, `sentinel-${index}.conf`);
        writeFileSync(
          file,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            `dir ${group.dir}`,
            `sentinel monitor ${SentinelGroup.MASTER} 127.0.0.1 ${primary.port} 2`,
            `sentinel down-after-milliseconds ${SentinelGroup.MASTER} 1000`,
            `sentinel failover-timeout ${SentinelGroup.MASTER} 5000`,
            `sentinel parallel-syncs ${SentinelGroup.MASTER} 1`,
            ...(password === undefined ? [] : [`sentinel auth-pass ${SentinelGroup.MASTER} ${password}`]),
            ...(sentinelPassword === undefined ? [] : [`requirepass ${sentinelPassword}`, `sentinel sentinel-pass ${sentinelPassword}`]),
            '',
          ].join('\n'),
        );
        group.sentinels.push(spawn('redis-server', [file, '--sentinel'], { stdio: 'ignore' }));
      }
      // A failover needs the sentinels to know one another and the replicas (hello messages every 2 s).
      for (const port of group.sentinelPorts) {
        await waitUntil(
          async () =>
            ((await ask([port, sentinelPassword], 'SENTINEL', 'REPLICAS', SentinelGroup.MASTER)) as unknown[]).length === 2 &&
            ((await ask([port, sentinelPassword], 'SENTINEL', 'SENTINELS', SentinelGroup.MASTER)) as unknown[]).length === 2,
          30_000,
          'sentinels aware of each other and of the replicas',
        );
      }
    } catch (error) {
      await group.stop();
      throw error;
    }
    return group;
  }

  /** REDIS_SENTINELS for the service. */
  get addresses(): string {
    return this.sentinelPorts.map((port) => `127.0.0.1:${port}`).join(',');
  }

  /** The primary's port as the sentinels see it now. */
  async currentPrimaryPort(): Promise<number> {
    const [, port] = (await ask(
      [this.sentinelPorts[0], this.sentinelPassword],
      'SENTINEL',
      'GET-MASTER-ADDR-BY-NAME',
      SentinelGroup.MASTER,
    )) as string[];
    return Number(port);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.sentinels.splice(0).map((child) => {
        child.kill('SIGKILL');
        return exited(child);
      }),
    );
    await Promise.all([this.primary, ...this.replicas].map((redis) => redis.stop()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A Redis Cluster of three primaries with a replica each, made with `redis-cli --cluster create`, on free ports. A
 * node is failed after 1 s without an answer (cluster-node-timeout; 15 s by default).
 */
export class RedisClusterNodes {
  private constructor(readonly nodes: PrivateRedis[]) {}

  static async start(): Promise<RedisClusterNodes> {
    const nodes: PrivateRedis[] = [];
    try {
      for (let index = 0; index < 6; index++) {
        // The cluster bus port is port + 10000 unless set: a free port of its own, since a free port may be above 55535.
        const bus = await freePort();
        nodes.push(
          await PrivateRedis.start(undefined, [
            ...NO_PERSISTENCE,
            '--cluster-enabled',
            'yes',
            '--cluster-port',
            String(bus),
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '1000',
          ]),
        );
      }
      const created = spawnSync(
        'redis-cli',
        ['--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '1', '--cluster-yes'],
        { encoding: 'utf8', timeout: 60_000 },
      );
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
      for (const node of nodes) {
        await waitUntil(async () => /cluster_state:ok/.test(String(await ask(node.port, 'CLUSTER', 'INFO'))), 30_000, 'cluster_state:ok');
      }
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()));
      throw error;
    }
    return new RedisClusterNodes(nodes);
  }

  /** The node serving `slot` as a primary now, as `CLUSTER NODES` on a live node says. */
  async primaryOf(slot: number, askPort = this.nodes[0].port): Promise<PrivateRedis> {
    const lines = String(await ask(askPort, 'CLUSTER', 'NODES'))
      .trim()
      .split('\n');
    for (const line of lines) {
      const [, address, flags, , , , , , ...ranges] = line.split(' ');
      if (!flags.split(',').includes('master') || flags.includes('fail')) continue;
      const serves = ranges.some((range) => {
        const [from, to = from] = range.split('-').map(Number);
        return slot >= from && slot <= to;
      });
      const port = Number(address.split('@')[0].split(':')[1]);
      if (serves) return this.nodes.find((node) => node.port === port)!;
    }
    throw new Error(`no primary serves slot ${slot}`);
  }

  /** REDIS_CLUSTER_NODES for the service: one node is enough, the others are discovered. */
  get addresses(): string {
    return `127.0.0.1:${this.nodes[0].port}`;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.stop()));
  }
}
