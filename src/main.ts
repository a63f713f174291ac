import 'reflect-metadata';
import { startApp } from '#common';
import { AppModule } from './app.module';

void startApp(AppModule, 'PlaySmartIngest', { swagger: true });
