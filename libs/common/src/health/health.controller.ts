import { Controller, Get, HttpCode } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Redis } from 'ioredis';
import { ApiError } from '../errors/api-error';
import { Public } from '../http/public.decorator';
import { InjectRedis } from '../queue/redis-client.module';
import { withDeadline } from '../time/deadline';
import { ReadinessChecks } from './readiness-checks';

const CHECK_TIMEOUT_MS = 1000;

async function probe(check: () => Promise<unknown>): Promise<'up' | 'down'> {
  try {
    await withDeadline(check(), CHECK_TIMEOUT_MS, 'dependency');
    return 'up';
  } catch {
    return 'down';
  }
}

/**
 * Liveness and readiness. Readiness checks what this process depends on: Redis always, plus whatever its modules add
 * to ReadinessChecks (the database where batches are written).
 */
@ApiExcludeController()
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @InjectRedis() private readonly redis: Redis,
    private readonly readiness: ReadinessChecks,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HttpCode(200)
  async ready(): Promise<{ status: 'ok'; checks: Record<string, 'up'> }> {
    const probes = [['redis', () => this.redis.ping()] as const, ...this.readiness.entries()];
    const results = await Promise.all(probes.map(async ([name, check]) => [name, await probe(check)] as const));
    const checks: Record<string, 'up' | 'down'> = Object.fromEntries(results);
    const down = Object.keys(checks).filter((name) => checks[name] === 'down');
    if (down.length > 0) throw ApiError.unavailable(`not_ready: ${down.join(', ')} down`, 5);
    return { status: 'ok', checks: checks as Record<string, 'up'> };
  }
}
