import { Controller, Get, HttpCode, Optional } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { ApiError } from '../errors/api-error';
import { Public } from '../http/public.decorator';
import { InjectRedis } from '../queue/redis-client.module';

const CHECK_TIMEOUT_MS = 1000;

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), CHECK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function probe(check: () => Promise<unknown>): Promise<'up' | 'down'> {
  try {
    await withTimeout(check());
    return 'up';
  } catch {
    return 'down';
  }
}

/** Liveness and readiness. Readiness checks what this process depends on: Redis always, the database where it is used. */
@ApiExcludeController()
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @InjectRedis() private readonly redis: Redis,
    @Optional() private readonly dataSource?: DataSource,
  ) {}

  @Get('live')
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @HttpCode(200)
  async ready(): Promise<{ status: 'ok'; checks: Record<string, 'up'> }> {
    const checks: Record<string, 'up' | 'down'> = { redis: await probe(() => this.redis.ping()) };
    if (this.dataSource !== undefined) {
      const dataSource = this.dataSource;
      checks.database = dataSource.isInitialized ? await probe(() => dataSource.query('SELECT 1')) : 'down';
    }
    const down = Object.keys(checks).filter((name) => checks[name] === 'down');
    if (down.length > 0) throw ApiError.unavailable(`not_ready: ${down.join(', ')} down`, 5);
    return { status: 'ok', checks: checks as Record<string, 'up'> };
  }
}
