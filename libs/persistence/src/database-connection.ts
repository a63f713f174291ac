import { BeforeApplicationShutdown, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/**
 * The process's DataSource, connected. A process that owns the schema connects at start-up and this is a no-op; a
 * process that only reads (the gateway) connects here, on first use, so that it starts and keeps accepting events
 * while PostgreSQL is down. A failed attempt rejects and the next call tries again.
 */
@Injectable()
export class DatabaseConnection implements BeforeApplicationShutdown {
  private connecting?: Promise<DataSource>;
  private closing = false;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  get(): Promise<DataSource> {
    if (this.dataSource.isInitialized) return Promise.resolve(this.dataSource);
    if (this.closing) return Promise.reject(new Error('the database connection is closing'));
    this.connecting ??= this.dataSource.initialize().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /** Lets a connection attempt in flight settle, so that TypeOrmModule closes the pool it opens. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    await this.connecting?.catch(() => undefined);
  }
}
