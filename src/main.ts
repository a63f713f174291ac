import 'reflect-metadata';
import { startApp } from '#platform';
import { AppModule } from './app.module';

void startApp(AppModule, 'PlaySmartIngest', { role: 'all-in-one: HTTP API and queue worker', swagger: true });
