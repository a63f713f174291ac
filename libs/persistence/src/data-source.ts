import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { configFromProcessEnv } from '#platform';
import { dataSourceOptions } from './data-source.options';

/** For the TypeORM CLI: `npm run migration:run` and `npm run migration:generate`. */
function cliDataSource(): DataSource {
  const config = configFromProcessEnv();
  if (config.database.url === undefined) {
    // The embedded database lives inside the all-in-one process (one process at a time can open its directory).
    throw new Error(
      'DATABASE_URL is not set: the migration commands need a PostgreSQL server. ' +
        'The embedded development database is migrated by `npm start` itself.',
    );
  }
  return new DataSource({ ...dataSourceOptions(config, config.database.url), migrationsRun: false });
}

export default cliDataSource();
