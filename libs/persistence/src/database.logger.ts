import { Logger } from '@nestjs/common';
import type { Logger as TypeOrmLogger } from 'typeorm';
import { describeDatabaseError } from './database-errors';

/**
 * TypeORM's log, through the application's logger (pino) instead of the console. A failed statement is one line with
 * its SQLSTATE: never its text, its parameters (player payloads) or PostgreSQL's message and detail, which can quote
 * the row it refused. Whoever ran the statement logs what it was for (the worker names the batch).
 */
export class DatabaseLogger implements TypeOrmLogger {
  private readonly logger = new Logger('TypeORM');

  logQuery(): void {}

  logQueryError(error: string | Error): void {
    this.logger.error(`query failed: ${describeDatabaseError(error) ?? (typeof error === 'string' ? 'unknown error' : error.name)}`);
  }

  logQuerySlow(time: number): void {
    this.logger.warn(`slow query: ${time} ms`);
  }

  logSchemaBuild(message: string): void {
    this.logger.debug(message);
  }

  logMigration(message: string): void {
    this.logger.log(message);
  }

  log(level: 'log' | 'info' | 'warn', message: unknown): void {
    if (level === 'warn') this.logger.warn(String(message));
    else this.logger.debug(String(message));
  }
}
