import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { configFromProcessEnv } from '#common';
import { dataSourceOptions } from './data-source.options';

/** For the TypeORM CLI: `npm run migration:run` and `npm run migration:generate`. */
export default new DataSource({ ...dataSourceOptions(configFromProcessEnv()), migrationsRun: false });
