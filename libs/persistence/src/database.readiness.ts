import { Injectable, OnModuleInit } from '@nestjs/common';
import { ReadinessChecks } from '#platform';
import { DatabaseConnection } from './database-connection';

/** Adds `database` to GET /health/ready in the processes that write batches: connected, migrated and answering. */
@Injectable()
export class DatabaseReadiness implements OnModuleInit {
  constructor(
    private readonly readiness: ReadinessChecks,
    private readonly connection: DatabaseConnection,
  ) {}

  onModuleInit(): void {
    this.readiness.add('database', async () => {
      const dataSource = await this.connection.get();
      await dataSource.query('SELECT 1');
    });
  }
}
