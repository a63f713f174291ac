import type { RedisOptions } from 'bullmq';

/**
 * Turns REDIS_URL into ioredis options, so that producer, worker and health checks share one parser. A user and a
 * password in the URL authenticate (AUTH, or an ACL user); `rediss:` connects over TLS, verifying the server against
 * the system's CAs or `tlsCa` (REDIS_TLS_CA_FILE).
 */
export function redisOptionsFromUrl(redisUrl: string, tlsCa?: string): RedisOptions {
  const url = new URL(redisUrl);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 6379 : Number(url.port),
    username: url.username === '' ? undefined : decodeURIComponent(url.username),
    password: url.password === '' ? undefined : decodeURIComponent(url.password),
    db: Number.isInteger(db) ? db : 0,
    tls: url.protocol === 'rediss:' ? (tlsCa === undefined ? {} : { ca: tlsCa }) : undefined,
  };
}

/**
 * `command`: fails fast while Redis is away, so that the API answers 503 instead of hanging (producer, health checks,
 * rate limits, operator commands; https://docs.bullmq.io/guide/going-to-production#enableofflinequeue). `worker`:
 * blocks on Redis and retries forever, as BullMQ workers require (maxRetriesPerRequest null).
 */
export type RedisRole = 'command' | 'worker';

export function redisRoleOptions(role: RedisRole): RedisOptions {
  return role === 'command'
    ? {
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
        commandTimeout: 2000,
        retryStrategy: (times) => Math.min(times * 200, 2000),
      }
    : { maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 500, 5000) };
}

/** A `command` connection to one server (tests; the service connects through createRedisConnection). */
export function fastFailRedisOptions(redisUrl: string, tlsCa?: string): RedisOptions {
  return { ...redisOptionsFromUrl(redisUrl, tlsCa), ...redisRoleOptions('command') };
}

/** A `worker` connection to one server (tests; the service connects through createRedisConnection). */
export function workerRedisOptions(redisUrl: string, tlsCa?: string): RedisOptions {
  return { ...redisOptionsFromUrl(redisUrl, tlsCa), ...redisRoleOptions('worker') };
}
