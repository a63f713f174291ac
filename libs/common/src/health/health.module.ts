import { Global, Module } from '@nestjs/common';
import { HealthController } from './health.controller';
import { ReadinessChecks } from './readiness-checks';

/** Liveness and readiness. Global, so that any module can add what the process depends on to ReadinessChecks. */
@Global()
@Module({
  controllers: [HealthController],
  providers: [ReadinessChecks],
  exports: [ReadinessChecks],
})
export class HealthModule {}
