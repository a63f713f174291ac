import { Injectable, Logger } from '@nestjs/common';
import type { EmbeddedDatabaseConfig } from '#platform';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Written into the data directory while a process has it open: PGlite itself does not stop a second process. */
const LOCK_FILE = 'playsmart.lock';

/**
 * Connections the socket server accepts: the service's pool (one connection) and one more for psql. PGlite is one
 * backend: pglite-socket multiplexes every connection onto it message by message, so two clients running statements
 * with parameters at the same moment could have their messages interleaved. The service never does (its pool has one
 * connection); an inspection session beside it is fine, but should not leave a transaction open (the service waits).
 */
const MAX_CONNECTIONS = 2;

interface Running {
  url: string;
  lockFile: string;
  close: () => Promise<void>;
}

/**
 * The embedded development database: PGlite (PostgreSQL compiled to WebAssembly, in this process) with its files in
 * EMBEDDED_DB_DIR, served by `@electric-sql/pglite-socket` on 127.0.0.1 and EMBEDDED_DB_PORT, so that TypeORM's `pg`
 * driver, the entities and the migrations work on it unchanged. Only the all-in-one service starts it, and only
 * outside production when DATABASE_URL is not set. One process at a time can open a directory: a second one is refused.
 */
@Injectable()
export class EmbeddedDatabase {
  private readonly logger = new Logger('Persistence');
  private running?: Running;

  /** The connection URL of the running database (`postgres://postgres@127.0.0.1:<port>/postgres`); undefined when stopped. */
  get url(): string | undefined {
    return this.running?.url;
  }

  /** Opens (or creates) the database in `dir` and serves it on `port` (another when taken); resolves to its URL. */
  async start({ dir, port }: EmbeddedDatabaseConfig): Promise<string> {
    if (this.running !== undefined) throw new Error('the embedded database is already running');
    const path = resolve(dir);
    mkdirSync(path, { recursive: true });
    const lockFile = lock(path, dir);
    try {
      if (!existsSync(join(path, 'PG_VERSION')))
        this.logger.log(`creating the embedded database in ${dir} (first start only: a few seconds)`);
      // Loaded here, not at the top: processes on a PostgreSQL server never load PGlite.
      const { PGlite } = await import('@electric-sql/pglite');
      const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
      const pglite = await PGlite.create(path);
      const serve = async (on: number) => {
        const server = new PGLiteSocketServer({ db: pglite, host: '127.0.0.1', port: on, maxConnections: MAX_CONNECTIONS });
        await server.start();
        return server;
      };
      let server: Awaited<ReturnType<typeof serve>>;
      try {
        server = await serve(port).catch(async (error: unknown) => {
          if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || port === 0) throw error;
          const other = await serve(0);
          this.logger.warn(`port ${port} is taken (EMBEDDED_DB_PORT): the embedded database listens on ${other.getServerConn()} instead`);
          return other;
        });
      } catch (error) {
        await pglite.close();
        throw error;
      }
      const url = `postgres://postgres@${server.getServerConn()}/postgres`;
      this.running = {
        url,
        lockFile,
        close: async () => {
          await server.stop();
          await pglite.close();
        },
      };
      this.logger.log(`embedded PGlite listens on ${server.getServerConn()} (psql ${url})`);
      return url;
    } catch (error) {
      unlock(lockFile);
      throw error;
    }
  }

  /** Stops serving and closes the database (after the DataSource on it is destroyed). */
  async stop(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    this.running = undefined;
    try {
      await running.close();
    } finally {
      unlock(running.lockFile);
    }
  }
}

/** Takes the directory's lock file, or throws naming the process that holds it. A dead process's lock is taken over. */
function lock(path: string, dir: string): string {
  const file = join(path, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(file, `${process.pid}\n`, { flag: 'wx' });
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number.parseInt(readFileSync(file, 'utf8'), 10);
    if (isRunning(owner)) {
      throw new Error(
        `the embedded database in ${dir} is in use by process ${owner}: one process at a time can open it. Stop that ` +
          `process, or set DATABASE_URL to use a PostgreSQL server (or EMBEDDED_DB_DIR for another directory).`,
      );
    }
    if (attempt > 0) throw new Error(`cannot take the lock file ${file} of the embedded database`);
    // Left behind by a process that was killed: take it over.
    rmSync(file, { force: true });
  }
}

function unlock(file: string): void {
  try {
    if (Number.parseInt(readFileSync(file, 'utf8'), 10) === process.pid) rmSync(file, { force: true });
  } catch {
    // Already gone.
  }
}

function isRunning(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
