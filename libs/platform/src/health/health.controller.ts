import { Controller, Get, HttpCode, ServiceUnavailableException } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheckResult, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors/api-error';
import { Public } from '../http/public.decorator';
import { describeError } from '../logging/describe-error';
import { InjectRedis } from '../redis/redis-client.module';
import { RedisDurability, RedisDurabilityReport } from '../redis/redis-durability';
import { withDeadline } from '../time/deadline';
import { ReadinessChecks } from './readiness-checks';

const CHECK_TIMEOUT_MS = 1000;

/**
 * Liveness and readiness. Readiness checks what this process depends on: Redis always, plus whatever its modules add
 * to ReadinessChecks (the database where batches are written). Terminus runs them (HealthCheckService, a
 * HealthIndicatorService indicator per dependency, each bounded by withDeadline); the answer keeps our shape:
 * `{ status: 'ok', checks: { redis: 'up', … }, redis: { appendonly, maxmemory_policy, risks } }` (what the Redis in use
 * can lose: RedisDurabilityReport), or a 503 in the error envelope naming what is down.
 *
 * Not the indicators' `attempt()`: it builds two AbortControllers per dependency and aborts them after every check,
 * for a signal our probes cannot use (withDeadline bounds them); a readiness check then cost 110–150 µs of CPU instead
 * of 7 (bench/levers.md).
 */
@ApiExcludeController()
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @InjectRedis() private readonly redis: Redis,
    private readonly readiness: ReadinessChecks,
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly durability: RedisDurabilityReport,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HttpCode(200)
  async ready(): Promise<{ status: 'ok'; checks: Record<string, 'up'>; redis?: RedisDurability & { risks: string[] } }> {
    const probes = [['redis', () => this.redis.ping()] as const, ...this.readiness.entries()];
    const result = await this.check(
      probes.map(([name, probe]) => async () => {
        const indicator = this.indicators.check(name);
        try {
          await withDeadline(probe(), CHECK_TIMEOUT_MS, name);
          return indicator.up();
        } catch (error) {
          return indicator.down(describeError(error));
        }
      }),
    );
    if (result.status === 'shutting_down') throw ApiError.unavailable('shutting_down', 1);
    const down = Object.keys(result.error ?? {});
    if (down.length > 0) throw ApiError.unavailable(`not_ready: ${down.join(', ')} down`, 5);
    const checks = Object.fromEntries(Object.keys(result.details).map((name) => [name, 'up'] as const));
    const redis = this.durability.current();
    return redis === undefined ? { status: 'ok', checks } : { status: 'ok', checks, redis };
  }

  /** Terminus's result, whether the checks passed or not: it throws a failed one as a 503 carrying the result. */
  private async check(indicators: Parameters<HealthCheckService['check']>[0]): Promise<HealthCheckResult> {
    try {
      return await this.health.check(indicators);
    } catch (error) {
      if (error instanceof ServiceUnavailableException) return error.getResponse() as HealthCheckResult;
      throw error;
    }
  }
}
