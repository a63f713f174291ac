import { Client } from 'pg';
import type { DataSourceOptions } from 'typeorm';
import type { AppConfig } from '#platform';
import { BatchEntity } from './batch.entity';
import { DatabaseLogger } from './database.logger';
import { EventEntity } from './event.entity';
import { MIGRATIONS } from './migrations/index';

/**
 * TypeORM's options for the PostgreSQL server at `url`: DATABASE_URL, or the socket of the embedded database, which
 * passes its own (smaller) pool settings in `extra`.
 */
export function dataSourceOptions(config: AppConfig, url: string, extra: Record<string, unknown> = {}): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities: [EventEntity, BatchEntity],
    migrations: MIGRATIONS,
    migrationsRun: config.database.migrationsRun,
    migrationsTransactionMode: 'each',
    synchronize: false,
    logger: new DatabaseLogger(),
    extra: {
      max: config.database.poolSize,
      connectionTimeoutMillis: 5000,
      // A write stuck behind a lock or a dead server fails the job, which then retries with backoff.
      statement_timeout: 30_000,
      ...extra,
    },
  };
}

/**
 * Outside production, creates the database of DATABASE_URL when it does not exist yet, so that `npm start` works on
 * a fresh PostgreSQL server. In production the database is provisioned by its operators. (The embedded database
 * needs nothing: it is created with its directory.)
 */
export async function ensureDatabaseExists(config: AppConfig): Promise<void> {
  if (config.env === 'production' || config.database.url === undefined) return;
  const target = new URL(config.database.url);
  const name = decodeURIComponent(target.pathname.slice(1));
  if (name === '' || name === 'postgres') return;
  const admin = new URL(target);
  admin.pathname = '/postgres';
  const client = new Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5000 });
  // A connection lost between queries is emitted as 'error', which would end the process without a listener; the
  // query in flight fails on its own.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        // 42P04: another process created it first.
        if (error.code !== '42P04') throw error;
      });
    }
  } finally {
    await client.end();
  }
}
