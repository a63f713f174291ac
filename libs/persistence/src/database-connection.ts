import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { StoreConnection } from '#contract';
import { connectionOutageLogger, OutageLog } from '#platform';
import { initializeAndMigrateDataSource } from './migration-runner';

export const DATABASE_CONNECTION_OPTIONS = Symbol('DATABASE_CONNECTION_OPTIONS');

export interface DatabaseConnectionOptions {
  /**
   * `writer`: connects (and migrates, when `migrate`) at start-up, and keeps trying in the background while the
   * database cannot be reached. `reader`: connects on first use, so that it starts without the database.
   */
  role: 'writer' | 'reader';
  migrate: boolean;
  /** Runs before each connection attempt of a writer (creating the database outside production). */
  prepare?: () => Promise<void>;
  /** Where the database is, for the log. */
  describe: string;
}

/** The database cannot be used yet: not connected, or the connection is closing. */
export class DatabaseUnavailable extends Error {
  override readonly name = 'DatabaseUnavailable';
}

const RETRY_MIN_MS = 500;
// A database that comes back is in use again within this (plus a connection attempt).
const RETRY_MAX_MS = 5000;

/**
 * The process's DataSource, connected. A writer (the worker, the all-in-one) connects and applies its migrations at
 * start-up; when the database cannot be reached it starts all the same, reports not ready, and keeps trying with
 * backoff (one log line, then a reminder a minute), and the worker starts writing once it is connected. A reader (the
 * gateway) connects on first use, so that it starts and keeps accepting events while PostgreSQL is down; a failed
 * attempt rejects and the next call tries again.
 */
@Injectable()
export class DatabaseConnection implements StoreConnection, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Persistence');
  private readonly outage: OutageLog;
  private connecting?: Promise<DataSource>;
  private ready = false;
  private closing = false;
  private retry?: { timer: NodeJS.Timeout; wake: () => void };
  private readonly waiters: Array<() => void> = [];

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(DATABASE_CONNECTION_OPTIONS) private readonly options: DatabaseConnectionOptions,
  ) {
    this.outage = new OutageLog(connectionOutageLogger(this.logger), `PostgreSQL ${options.describe} cannot be used, retrying`);
  }

  /** Connected and migrated (a writer), or connected (a reader). */
  get isReady(): boolean {
    return this.ready && this.dataSource.isInitialized;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.options.role !== 'writer') return;
    // The first attempt is awaited: a reachable database is migrated before the service listens.
    if (!(await this.attempt())) void this.keepTrying();
  }

  /** Resolves once a writer has connected and migrated (never, if it is shut down first). */
  whenReady(): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get(): Promise<DataSource> {
    if (this.closing) return Promise.reject(new DatabaseUnavailable('the database connection is closing'));
    if (this.isReady) return Promise.resolve(this.dataSource);
    if (this.options.role === 'writer') return Promise.reject(new DatabaseUnavailable('PostgreSQL is not connected yet'));
    this.connecting ??= this.dataSource
      .initialize()
      .then((dataSource) => {
        this.ready = true;
        return dataSource;
      })
      .finally(() => {
        this.connecting = undefined;
      });
    return this.connecting;
  }

  /** Stops retrying, and lets a connection attempt in flight settle, so that TypeOrmModule closes the pool it opens. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    if (this.retry !== undefined) {
      clearTimeout(this.retry.timer);
      this.retry.wake();
    }
    await this.connecting?.catch(() => undefined);
  }

  private async attempt(): Promise<boolean> {
    const { prepare, migrate } = this.options;
    const attempt = (async () => {
      await prepare?.();
      await initializeAndMigrateDataSource(this.dataSource, migrate);
      return this.dataSource;
    })();
    this.connecting = attempt;
    try {
      await attempt;
    } catch (error) {
      this.outage.failed(error);
      return false;
    } finally {
      this.connecting = undefined;
    }
    this.ready = true;
    this.outage.recovered();
    for (const wake of this.waiters.splice(0)) wake();
    return true;
  }

  private async keepTrying(): Promise<void> {
    for (let delay = RETRY_MIN_MS; !this.closing; delay = Math.min(delay * 2, RETRY_MAX_MS)) {
      await new Promise<void>((resolve) => {
        this.retry = { timer: setTimeout(resolve, delay), wake: resolve };
      });
      this.retry = undefined;
      if (this.closing || (await this.attempt())) return;
    }
  }
}
