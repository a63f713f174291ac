import { Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config';
import { InjectConfig } from '../config/config.module';
import { OutageLog } from '../logging/outage-log';
import { normalizeAddress } from '../net/client-address';
import { InjectRedis } from '../redis/redis-client.module';
import { withDeadline } from '../time/deadline';

/** What one request learnt from one bucket. */
export interface RateLimitDecision {
  /**
   * False when the limit is switched off (rate 0) or Redis did not answer in time: the request passes and nothing
   * is reported for this bucket. Every other field is then meaningless.
   */
  enforced: boolean;
  allowed: boolean;
  /** The bucket's capacity (its burst): `RateLimit-Limit`. */
  limit: number;
  /** Whole requests left after this one: `RateLimit-Remaining`. */
  remaining: number;
  /** When refused: seconds until one request is allowed again (≥ 1): `Retry-After`. 0 when allowed. */
  retryAfterSeconds: number;
  /** Seconds until the bucket is full again: `RateLimit-Reset`. */
  resetSeconds: number;
}

/** Passes, counts nothing, reports nothing: a switched-off limit, or Redis not answering (fail open). */
export const NOT_ENFORCED: RateLimitDecision = Object.freeze({
  enforced: false,
  allowed: true,
  limit: 0,
  remaining: 0,
  retryAfterSeconds: 0,
  resetSeconds: 0,
});

/**
 * One token bucket per key, refilled continuously at `rate` tokens per second up to `burst`; a request takes one
 * token, or `cost`. The whole read-refill-take-write runs as one script, so concurrent gateways can never both take the last
 * token, and it costs one round trip.
 *
 * The clock is Redis's own TIME, not the gateway's: every gateway instance then refills the same bucket against the
 * same clock, so skew between gateway hosts can neither mint tokens (a host ahead) nor freeze refills (a host behind).
 * Reading TIME inside the script costs nothing extra (Redis ≥ 5 replicates scripts by effect, so a non-deterministic
 * command before a write is allowed). Should Redis's clock ever step back (a fail-over to a replica with another
 * clock), the bucket simply does not refill for that interval.
 *
 * State: a hash {t: tokens (float), at: ms}. Its TTL is the time the bucket needs to fill up again: an expired bucket
 * and a full one are the same thing, so idle buckets disappear without changing any answer.
 *
 * Returns {allowed 0|1, whole tokens left, ms until one token (0 when allowed), ms until full}.
 */
const TOKEN_BUCKET_LUA = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
elseif now > at then
  tokens = tokens + (now - at) * rate / 1000
end
if tokens > burst then tokens = burst end
local allowed = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
end
local full_ms = math.ceil((burst - tokens) * 1000 / rate)
local retry_ms = 0
if allowed == 0 then retry_ms = math.ceil((cost - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.max(full_ms, 1))
return {allowed, math.floor(tokens), retry_ms, full_ms}
`;

const COMMAND = 'playsmartTokenBucket';

type TokenBucketReply = [allowed: number, remaining: number, retryMs: number, fullMs: number];

interface TokenBucketRedis {
  [COMMAND](key: string, rate: number, burst: number, cost: number): Promise<TokenBucketReply>;
}

/**
 * A limiter slower than this is treated as down and the request passes (fail open). The shared client already fails
 * at once while disconnected (no offline queue); this bounds a Redis that is connected but not answering.
 */
export const RATE_LIMIT_DEADLINE_MS = 250;

/**
 * After a failure the limiter leaves Redis alone this long: requests pass at once instead of each waiting out the
 * deadline again (which would also pile commands onto a Redis that is struggling).
 */
export const RATE_LIMIT_PAUSE_MS = 1000;

/**
 * `<prefix>:ratelimit:<kind>:<id>`, under the queue prefix like every key. Kinds: `sub` and `ip` here, and a library's
 * own besides (ingest's `events`).
 */
export function rateLimitKey(prefix: string, kind: string, id: string): string {
  return `${prefix}:ratelimit:${kind}:${id}`;
}

/** Token buckets in Redis, shared by every gateway instance. */
@Injectable()
export class RateLimiter {
  private readonly logger = new Logger(RateLimiter.name);
  private readonly redis: Redis & TokenBucketRedis;
  private readonly outage = new OutageLog(this.logger, 'rate limits not enforced, Redis is failing');
  private pausedUntil = 0;

  constructor(
    @InjectRedis() redis: Redis,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    // ioredis sends EVALSHA, and EVAL once should Redis not know the script yet (first use, restart, SCRIPT FLUSH).
    redis.defineCommand(COMMAND, { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
    this.redis = redis as Redis & TokenBucketRedis;
  }

  /** The per-player bucket (RATE_LIMIT_PER_SUB_*). */
  consumeForSub(sub: string): Promise<RateLimitDecision> {
    const { prefix } = this.config.queue;
    const { perSubPerSecond, perSubBurst } = this.config.rateLimit;
    return this.consume(rateLimitKey(prefix, 'sub', sub), perSubPerSecond, perSubBurst);
  }

  /** The per-client-address bucket (RATE_LIMIT_PER_IP_*). */
  consumeForIp(address: string): Promise<RateLimitDecision> {
    const { prefix } = this.config.queue;
    const { perIpPerSecond, perIpBurst, ipv6Prefix } = this.config.rateLimit;
    return this.consume(rateLimitKey(prefix, 'ip', normalizeAddress(address, ipv6Prefix)), perIpPerSecond, perIpBurst);
  }

  /**
   * Takes `cost` tokens from the bucket at `key` (rateLimitKey). A rate of 0 switches the limit off without touching Redis. Never
   * rejects: when Redis fails or is slower than RATE_LIMIT_DEADLINE_MS the request passes, unreported, and so do the
   * requests of the next RATE_LIMIT_PAUSE_MS without asking Redis.
   */
  async consume(key: string, rate: number, burst: number, cost = 1): Promise<RateLimitDecision> {
    if (rate <= 0 || Date.now() < this.pausedUntil) return NOT_ENFORCED;
    let reply: TokenBucketReply;
    try {
      reply = await withDeadline(this.redis[COMMAND](key, rate, burst, cost), RATE_LIMIT_DEADLINE_MS, 'Redis');
    } catch (error) {
      this.pausedUntil = Date.now() + RATE_LIMIT_PAUSE_MS;
      this.outage.failed(error);
      return NOT_ENFORCED;
    }
    this.outage.recovered();
    const [allowed, remaining, retryMs, fullMs] = reply;
    return {
      enforced: true,
      allowed: allowed === 1,
      limit: burst,
      remaining,
      retryAfterSeconds: allowed === 1 ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
      resetSeconds: Math.ceil(fullMs / 1000),
    };
  }
}
