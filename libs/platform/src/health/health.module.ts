import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { ReadinessChecks } from './readiness-checks';

/**
 * Terminus for an application serving HealthController. It logs nothing: by default it logs every failed check (each
 * probe of a load balancer during an outage), while the clients' OutageLog already says an outage once, then once a
 * minute. Each application imports its own, so the operations listener keeps answering readiness as before while the
 * main application closes (Terminus answers `shutting_down` from its beforeApplicationShutdown on).
 */
export const HEALTH_CHECKS = TerminusModule.forRoot({ logger: false });

/** Liveness and readiness. Global, so that any module can add what the process depends on to ReadinessChecks. */
@Global()
@Module({
  imports: [HEALTH_CHECKS],
  controllers: [HealthController],
  providers: [ReadinessChecks],
  exports: [ReadinessChecks],
})
export class HealthModule {}
