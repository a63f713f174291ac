import 'reflect-metadata';
import { startApp } from '#platform';
import { GatewayModule } from './gateway.module';

void startApp(GatewayModule, 'Gateway', { role: 'gateway: HTTP API only (a worker writes the batches)', swagger: true });
