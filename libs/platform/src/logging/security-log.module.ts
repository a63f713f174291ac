import { Global, Logger, Module, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import type { AppConfig } from '../config/app-config';
import { APP_CONFIG } from '../config/config.module';
import { SecurityEventLog } from './security-event-log';

// Often enough that a minute's summary is written at most this late, when the flood that caused it has stopped.
const FLUSH_EVERY_MS = 10_000;

/** The process's one SecurityEventLog, for the error filter and Bull Board's login; imported by HttpCoreModule. */
@Global()
@Module({
  providers: [
    {
      provide: SecurityEventLog,
      useFactory: (config: AppConfig) => new SecurityEventLog(new Logger('Security'), config.rateLimit.ipv6Prefix),
      inject: [APP_CONFIG],
    },
  ],
  exports: [SecurityEventLog],
})
export class SecurityLogModule implements OnModuleInit, OnModuleDestroy {
  private timer?: NodeJS.Timeout;

  constructor(private readonly log: SecurityEventLog) {}

  onModuleInit(): void {
    this.timer = setInterval(() => this.log.flush(), FLUSH_EVERY_MS).unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }
}
