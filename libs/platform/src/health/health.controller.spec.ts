import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, describe, it, mock } from 'node:test';
import { Logger, LoggerService } from '@nestjs/common';
import { Test, TestingModule } from '@nestjs/testing';
import { ApiError } from '../errors/api-error';
import { REDIS_CLIENT } from '../redis/redis-client.module';
import { HealthController } from './health.controller';
import { HEALTH_CHECKS } from './health.module';
import { ReadinessChecks } from './readiness-checks';
import { RedisDurabilityReport } from '../redis/redis-durability';

/** What Redis and the database answer in the current test. */
const answers = { redis: (): Promise<unknown> => Promise.resolve('PONG'), database: (): Promise<unknown> => Promise.resolve([]) };

/** What RedisDurabilityReport has read of the Redis in use (undefined: nothing yet). */
let durability: { appendonly?: string; maxmemory_policy?: string; risks: string[] } | undefined;

const logged: string[] = [];
const spy: LoggerService = {
  log: (message: unknown) => logged.push(`log ${String(message)}`),
  warn: (message: unknown) => logged.push(`warn ${String(message)}`),
  error: (message: unknown) => logged.push(`error ${String(message)}`),
};

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ApiError, `expected an ApiError, got ${String(error)}`);
    return error;
  }
  assert.fail('expected a refusal');
}

describe('HealthController (Terminus under our answer)', () => {
  let moduleRef: TestingModule;
  let controller: HealthController;
  let closed = false;
  before(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [HEALTH_CHECKS],
      controllers: [HealthController],
      providers: [
        ReadinessChecks,
        { provide: REDIS_CLIENT, useValue: { ping: () => answers.redis() } },
        { provide: RedisDurabilityReport, useValue: { current: () => durability } },
      ],
    }).compile();
    moduleRef.get(ReadinessChecks).add('database', () => answers.database());
    controller = moduleRef.get(HealthController);
    Logger.overrideLogger(spy);
  });
  after(async () => {
    Logger.overrideLogger(false);
    if (!closed) await moduleRef.close();
  });

  it('answers every dependency up', async () => {
    assert.deepEqual(await controller.ready(), { status: 'ok', checks: { redis: 'up', database: 'up' } });
  });

  it('adds what the Redis in use can lose, once it is known', async () => {
    durability = { appendonly: 'no', maxmemory_policy: 'noeviction', risks: ['appendonly no: …'] };
    try {
      assert.deepEqual(await controller.ready(), { status: 'ok', checks: { redis: 'up', database: 'up' }, redis: durability });
    } finally {
      durability = undefined;
    }
  });

  it('answers 503 naming what is down, within the deadline when a dependency hangs, and logs nothing', async () => {
    answers.redis = () => new Promise(() => undefined);
    answers.database = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'));
    // The clock is ours: only the check's deadline (1 s) can end a probe that never answers.
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      let settled = false;
      const answer = refusal(controller.ready()).finally(() => (settled = true));
      await new Promise((resolve) => setImmediate(resolve));
      mock.timers.tick(999);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, false, 'still waiting for Redis before the deadline');
      mock.timers.tick(1);
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(settled, true, 'answered at the deadline');
      const error = await answer;
      assert.equal(error.getStatus(), 503);
      assert.deepEqual(error.getResponse(), { error: { code: 'SERVICE_UNAVAILABLE', message: 'not_ready: redis, database down' } });
      assert.deepEqual(error.headers, { 'retry-after': '5' });
      assert.deepEqual(logged, [], 'an outage is said by the clients, not by every probe');
    } finally {
      mock.timers.reset();
      answers.redis = () => Promise.resolve('PONG');
      answers.database = () => Promise.resolve([]);
    }
  });

  it('answers 503 shutting_down once the application is closing', async () => {
    await moduleRef.close();
    closed = true;
    const error = await refusal(controller.ready());
    assert.equal(error.getStatus(), 503);
    assert.deepEqual(error.getResponse(), { error: { code: 'SERVICE_UNAVAILABLE', message: 'shutting_down' } });
    assert.deepEqual(error.headers, { 'retry-after': '1' });
  });
});
