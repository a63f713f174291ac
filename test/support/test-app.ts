import 'reflect-metadata';
import { Type } from '@nestjs/common';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { randomUUID } from 'node:crypto';
import { createSecretKey } from 'node:crypto';
import { Redis } from 'ioredis';
import { sign, SignOptions } from 'jsonwebtoken';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { Pool } from 'pg';
import { EmbeddedDatabase } from '#persistence';
import { APP_CONFIG, AppConfig, configureApp, createFastifyAdapter, createOpsApp, loadConfig } from '#platform';
import { AppModule } from '../../src/app.module';
import { createDatabase, deletePrefix, ScratchDatabase } from '../../support/local-services';

export { deletePrefix };

export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = 'redis://127.0.0.1:6379';
export const TEST_SECRET = 'e2e-test-secret-that-is-at-least-32-bytes-long';

export interface TestApp {
  app: NestFastifyApplication;
  config: AppConfig;
  /** The URL of this run's database: its own PostgreSQL database, or the embedded database's socket. */
  databaseUrl: string;
  /** A pool on this run's own database (on the embedded database: its one connection besides the service's). */
  db: Pool;
  redis: Redis;
  /** The operations listener's application (/metrics, Bull Board, the docs), as startApp creates it. */
  ops: NestFastifyApplication;
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  /** A request to the operations listener. */
  opsInject(options: InjectOptions): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** A fresh database for one test file, dropped by the returned function. */
export function createTestDatabase(): Promise<ScratchDatabase> {
  return createDatabase(PG_ADMIN_URL, 'playsmart_test');
}

export interface BootOptions {
  env?: Record<string, string>;
  /** The root module; the all-in-one (AppModule.forRoot) by default. */
  rootModule?: Type<unknown>;
  /** Share a database and queue prefix with another app (gateway and worker apart); a fresh one otherwise. */
  shared?: { databaseUrl: string; prefix: string };
  /** Run on the embedded database in this directory (no DATABASE_URL; EMBEDDED_DB_DIR), which is kept on close. */
  embeddedDir?: string;
}

/**
 * Boots the same module production boots (all-in-one by default), on its own database and queue prefix,
 * with the same adapter and configuration code as main.ts.
 */
export async function bootTestApp({ env = {}, rootModule, shared, embeddedDir }: BootOptions = {}): Promise<TestApp> {
  const database =
    embeddedDir !== undefined
      ? undefined
      : shared === undefined
        ? await createTestDatabase()
        : { url: shared.databaseUrl, drop: () => Promise.resolve() };
  const prefix = shared?.prefix ?? `test-${randomUUID().slice(0, 8)}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    ...(database === undefined ? { EMBEDDED_DB_DIR: embeddedDir } : { DATABASE_URL: database.url }),
    REDIS_URL,
    QUEUE_PREFIX: prefix,
    JWT_SECRET: TEST_SECRET,
    LOG_LEVEL: 'error',
    // Rate limits off: suites that are not about them send many quick requests as one player from one address.
    // test/rate-limit.e2e-spec.ts switches them on.
    RATE_LIMIT_PER_SUB_PER_SECOND: '0',
    RATE_LIMIT_EVENTS_PER_SUB_PER_SECOND: '0',
    RATE_LIMIT_PER_IP_PER_SECOND: '0',
    ...env,
  });
  const moduleRef = await Test.createTestingModule({ imports: [rootModule ?? AppModule.forRoot(config)] })
    .overrideProvider(APP_CONFIG)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), {
    bodyParser: false,
    logger: ['error'],
  });
  let ops: NestFastifyApplication | undefined;
  try {
    configureApp(app, { swagger: true });
    ops = await createOpsApp(app, { swagger: true, logger: ['error'] });
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
    await ops.init();
    await ops.getHttpAdapter().getInstance().ready();
  } catch (error) {
    // What started (Redis clients, pools) would keep the test's process alive: the file would hang, not fail.
    await ops?.close().catch(() => undefined);
    await app.close().catch(() => undefined);
    await database?.drop().catch(() => undefined);
    throw error;
  }
  const databaseUrl = database?.url ?? app.get(EmbeddedDatabase, { strict: false }).url;
  if (databaseUrl === undefined) throw new Error('the embedded database did not start');
  const db = new Pool({ connectionString: databaseUrl, max: database === undefined ? 1 : 2 });
  const redis = new Redis(REDIS_URL);
  return {
    app,
    config,
    databaseUrl,
    db,
    redis,
    ops,
    inject: (options) => app.inject(options),
    opsInject: (options) => ops.inject(options),
    close: async () => {
      // The pool first: closing the embedded database ends the connections still open on it.
      await db.end();
      await app.close();
      await ops.close();
      if (shared === undefined) await deletePrefix(redis, prefix);
      redis.disconnect();
      await database?.drop();
    },
  };
}

export function tokenFor(sub: unknown, options: SignOptions = {}, payload: Record<string, unknown> = {}): string {
  return sign({ ...payload, ...(sub === undefined ? {} : { sub }) }, createSecretKey(Buffer.from(TEST_SECRET)), {
    algorithm: 'HS256',
    expiresIn: 3600,
    ...options,
  });
}

/** The API page's example request. */
export function exampleBatch(userId = 'device-abc-123'): Record<string, unknown> {
  return {
    user_id: userId,
    game_id: 'com.example.stackblaster',
    sent_at: '2026-04-22T14:31:00+00:00',
    events: [
      { type: 'LevelCompleted', timestamp: '2026-04-22T14:30:00+00:00', customdata: { level: 5, score: 4800, duration_seconds: 42 } },
      { type: 'AdImpression', timestamp: '2026-04-22T14:30:45+00:00', customdata: { ad_unit: 'post_level_interstitial' } },
      { type: 'Custom', customEventName: 'PowerUpUsed', timestamp: '2026-04-22T14:29:15+00:00', customdata: { power_up: 'shield' } },
    ],
  };
}

export function postEvents(
  t: TestApp,
  body: unknown,
  token?: string,
  headers: Record<string, string> = {},
): Promise<LightMyRequestResponse> {
  return t.inject({
    method: 'POST',
    url: '/ingest/events',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      ...headers,
    },
    payload: typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
  });
}

/** POSTs a batch (the API page's example by default) with `token`: the status, and the error message unless 202. */
export async function postOutcome(t: TestApp, token: string, body: unknown = exampleBatch()): Promise<[number, string | undefined]> {
  const response = await postEvents(t, body, token);
  return [response.statusCode, response.statusCode === 202 ? undefined : response.json<{ error: { message: string } }>().error.message];
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
