import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { exited } from '../../support/service-process';
import { freePort, PrivateRedis, waitUntil } from './processes';

/** A CA, and a certificate it signed for 127.0.0.1 with its key, as files in `dir`. */
export interface TestCertificates {
  ca: string;
  cert: string;
  key: string;
}

/** Makes TestCertificates in `dir` with openssl. */
export function makeCertificates(dir: string): TestCertificates {
  const openssl = (...args: string[]) => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args[0]} failed: ${result.stderr}`);
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  const signed = ['-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '1', '-extfile', 'san.cnf'];
  openssl('x509', '-req', '-in', 'server.csr', ...signed);
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
}

/** redis-server's options for TLS only on `port` (the plain port off), replication over TLS too. */
export function tlsServerArgs(port: number, tls: TestCertificates): string[] {
  return [
    '--port',
    '0',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    tls.cert,
    '--tls-key-file',
    tls.key,
    '--tls-ca-cert-file',
    tls.ca,
    '--tls-auth-clients',
    'no',
    '--tls-replication',
    'yes',
  ];
}

interface Server {
  port: number;
  password?: string;
  /** The CA's file, for a server that speaks TLS only. */
  ca?: string;
}

/** One command to a server on 127.0.0.1, on a connection of its own. */
export async function ask(server: number | Server, ...command: [string, ...(string | number)[]]): Promise<unknown> {
  const { port, password, ca } = typeof server === 'number' ? { port: server } : server;
  const redis = new Redis({
    port,
    password,
    host: '127.0.0.1',
    tls: ca === undefined ? undefined : { ca: readFileSync(ca, 'utf8') },
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
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
    private readonly sentinelAccess: Omit<Server, 'port'>,
  ) {}

  /**
   * With `password`, every data node requires it; with `sentinelPassword`, every sentinel requires that one; with
   * `tls`, every node and sentinel speaks TLS only, replication included.
   */
  static async start({
    password,
    sentinelPassword,
    tls,
  }: { password?: string; sentinelPassword?: string; tls?: TestCertificates } = {}): Promise<SentinelGroup> {
    const auth = password === undefined ? [] : ['--requirepass', password, '--masterauth', password];
    const node = async (...args: string[]) => {
      const port = await freePort();
      return PrivateRedis.start(port, [...NO_PERSISTENCE, ...auth, ...(tls === undefined ? [] : tlsServerArgs(port, tls)), ...args]);
    };
    const primary = await node();
    const replicas = await Promise.all([0, 1].map(() => node('--replicaof', '127.0.0.1', String(primary.port))));
    const group = new SentinelGroup(primary, replicas, [await freePort(), await freePort(), await freePort()], {
      password: sentinelPassword,
      ca: tls?.ca,
    });
    try {
      for (const replica of replicas) {
        await waitUntil(
          async () => /master_link_status:up/.test(String(await ask({ port: replica.port, password, ca: tls?.ca }, 'INFO', 'replication'))),
          10_000,
          'replica in sync',
        );
      }
      for (const [index, port] of group.sentinelPorts.entries()) {
        const file = join(group.dir, `sentinel-${index}.conf`);
        writeFileSync(
          file,
          [
            ...(tls === undefined
              ? [`port ${port}`]
              : [
                  'port 0',
                  `tls-port ${port}`,
                  `tls-cert-file ${tls.cert}`,
                  `tls-key-file ${tls.key}`,
                  `tls-ca-cert-file ${tls.ca}`,
                  'tls-auth-clients no',
                  'tls-replication yes',
                ]),
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
            ((await ask({ port, ...group.sentinelAccess }, 'SENTINEL', 'REPLICAS', SentinelGroup.MASTER)) as unknown[]).length === 2 &&
            ((await ask({ port, ...group.sentinelAccess }, 'SENTINEL', 'SENTINELS', SentinelGroup.MASTER)) as unknown[]).length === 2,
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
      { port: this.sentinelPorts[0], ...this.sentinelAccess },
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
  private constructor(
    readonly nodes: PrivateRedis[],
    private readonly access: Omit<Server, 'port'>,
  ) {}

  /** With `password`, every node requires it (replicas too); with `tls`, every node speaks TLS only, cluster bus included. */
  static async start({ password, tls }: { password?: string; tls?: TestCertificates } = {}): Promise<RedisClusterNodes> {
    const access = { password, ca: tls?.ca };
    const nodes: PrivateRedis[] = [];
    try {
      for (let index = 0; index < 6; index++) {
        const port = await freePort();
        // The cluster bus port is port + 10000 unless set: a free port of its own, since a free port may be above 55535.
        const bus = await freePort();
        nodes.push(
          await PrivateRedis.start(port, [
            ...NO_PERSISTENCE,
            ...(password === undefined ? [] : ['--requirepass', password, '--masterauth', password]),
            ...(tls === undefined ? [] : [...tlsServerArgs(port, tls), '--tls-cluster', 'yes']),
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
      const client = [
        ...(password === undefined ? [] : ['-a', password, '--no-auth-warning']),
        ...(tls === undefined ? [] : ['--tls', '--cacert', tls.ca]),
      ];
      const created = spawnSync(
        'redis-cli',
        [...client, '--cluster', 'create', ...nodes.map((node) => `127.0.0.1:${node.port}`), '--cluster-replicas', '1', '--cluster-yes'],
        { encoding: 'utf8', timeout: 60_000 },
      );
      if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
      for (const node of nodes) {
        await waitUntil(
          async () => /cluster_state:ok/.test(String(await ask({ port: node.port, ...access }, 'CLUSTER', 'INFO'))),
          30_000,
          'cluster_state:ok',
        );
        // Every replica in sync with its primary, and every primary with its replica, as for the Sentinel group: until
        // then WAIT 1 times out on that primary (seen once: a 503 right after the cluster was made).
        await waitUntil(
          async () => {
            const replication = String(await ask({ port: node.port, ...access }, 'INFO', 'replication'));
            return /role:master/.test(replication) ? /connected_slaves:1/.test(replication) : /master_link_status:up/.test(replication);
          },
          30_000,
          'replication in sync',
        );
      }
    } catch (error) {
      await Promise.all(nodes.map((node) => node.stop()));
      throw error;
    }
    return new RedisClusterNodes(nodes, access);
  }

  /** One command to the node on `port`, with the cluster's password and CA. */
  ask(port: number, ...command: [string, ...(string | number)[]]): Promise<unknown> {
    return ask({ port, ...this.access }, ...command);
  }

  /** The node serving `slot` as a primary now, as `CLUSTER NODES` on a live node says. */
  async primaryOf(slot: number, askPort = this.nodes[0].port): Promise<PrivateRedis> {
    const lines = String(await this.ask(askPort, 'CLUSTER', 'NODES'))
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
