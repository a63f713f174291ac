import type { ConnectionOptions } from 'node:tls';
import { Cluster, Redis } from 'ioredis';
import type { RedisOptions as BullmqRedisOptions } from 'bullmq';
import type { RedisConnectionConfig } from '../config/app-config';
import { RedisRole, redisOptionsFromUrl, redisRoleOptions } from './redis-options';

/** A connection to the queue's Redis, whatever its topology: one server or a Sentinel's primary (Redis), or a Cluster. */
export type RedisConnection = Redis | Cluster;

function tlsOptions(config: RedisConnectionConfig): ConnectionOptions | undefined {
  return config.tls ? (config.tlsCa === undefined ? {} : { ca: config.tlsCa }) : undefined;
}

/** The options of one data node (a server, a Sentinel's primary, a Cluster's node): credentials and TLS. */
function nodeOptions(config: RedisConnectionConfig): BullmqRedisOptions {
  return { username: config.username, password: config.password, tls: tlsOptions(config) };
}

/**
 * Options that make a Redis client for the topology (never for a Cluster, which BullMQ and ioredis take only as an
 * instance: see createRedisConnection).
 */
function redisOptions(config: RedisConnectionConfig, role: RedisRole): BullmqRedisOptions {
  const { topology } = config;
  if (topology.kind === 'standalone') return { ...redisOptionsFromUrl(topology.url, config.tlsCa), ...redisRoleOptions(role) };
  if (topology.kind === 'cluster') throw new Error('a Redis Cluster has no single-client options');
  const tls = tlsOptions(config);
  return {
    ...nodeOptions(config),
    ...redisRoleOptions(role),
    sentinels: topology.sentinels,
    name: topology.masterName,
    sentinelPassword: config.sentinelPassword,
    enableTLSForSentinelMode: tls !== undefined,
    sentinelTLS: tls,
    // Subscribes to the sentinels' +switch-master, so that a failover moves the connection at once rather than when
    // the old primary's connection breaks (https://github.com/redis/ioredis#sentinel).
    failoverDetector: true,
    // While no sentinel answers, ask again soon: the connection's own retryStrategy paces the reconnections.
    sentinelRetryStrategy: (times: number) => Math.min(times * 100, 1000),
  };
}

/**
 * The one way this code base connects to Redis: a client for `role` in the configured topology (REDIS_URL,
 * REDIS_SENTINELS, REDIS_CLUSTER_NODES), with its credentials and TLS.
 */
export function createRedisConnection(config: RedisConnectionConfig, role: RedisRole): RedisConnection {
  const { topology } = config;
  if (topology.kind !== 'cluster') return new Redis(redisOptions(config, role));
  const { enableOfflineQueue, retryStrategy, ...perNode } = redisRoleOptions(role);
  return new Cluster(topology.nodes, {
    redisOptions: { ...nodeOptions(config), ...perNode },
    enableOfflineQueue,
    clusterRetryStrategy: retryStrategy,
    // A failover moves slots: follow MOVED/CLUSTERDOWN for a moment, within the command's own timeout.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    // TLS to nodes behind NAT or with certificates for their names would need dnsLookup/natMap: not supported yet.
  });
}

/**
 * BullMQ's `connection` for a queue or worker: options BullMQ makes (and closes) its own connections from, or for a
 * Cluster, which BullMQ takes only as an instance (https://docs.bullmq.io/bull/patterns/redis-cluster), a Cluster that
 * the caller closes after the queue or worker (closeBullmqConnection): BullMQ does not close a connection it was given.
 */
export function bullmqConnection(config: RedisConnectionConfig, role: RedisRole): BullmqRedisOptions | Cluster {
  return config.topology.kind === 'cluster' ? createRedisConnection(config, role) : redisOptions(config, role);
}

/** Closes what bullmqConnection returned, once its queue or worker is closed: nothing for options. */
export async function closeBullmqConnection(connection: BullmqRedisOptions | Cluster): Promise<void> {
  if (!(connection instanceof Cluster)) return;
  await connection.quit().catch(() => connection.disconnect());
}

/** Where the queue's Redis is, for log lines; never its credentials. */
export function describeRedis(config: RedisConnectionConfig): string {
  const { topology } = config;
  const tls = config.tls ? ' (TLS)' : '';
  const list = (nodes: { host: string; port: number }[]) =>
    nodes.map(({ host, port }) => `${host.includes(':') ? `[${host}]` : host}:${port}`).join(',');
  if (topology.kind === 'sentinel') return `Redis Sentinel master "${topology.masterName}" via ${list(topology.sentinels)}${tls}`;
  if (topology.kind === 'cluster') return `Redis Cluster ${list(topology.nodes)}${tls}`;
  const { host, port, db } = redisOptionsFromUrl(topology.url);
  return `Redis ${host}:${port}${db === 0 ? '' : ` db ${db}`}${tls}`;
}
