import 'reflect-metadata';
import { loadConfigOrExit, startApp } from '#platform';
import { AppModule } from './app.module';

void startApp(AppModule.forRoot(loadConfigOrExit()), 'PlaySmartIngest', {
  role: 'all-in-one: HTTP API and queue worker',
  swagger: true,
});
