import 'reflect-metadata';
import { startApp } from '#common';
import { GatewayModule } from './gateway.module';

void startApp(GatewayModule, 'Gateway', { swagger: true });
