import { Injectable, Logger, Module } from '@nestjs/common';
import type { FastifyInstance } from 'fastify';
import { AppConfig, InjectConfig, OPS_ROUTES, OpsRoutes, SecurityEventLog } from '#platform';
import { IngestQueueMonitor } from './ingest-queue-monitor';
import { PipelineModule } from './pipeline.module';
import { QUEUE_DASHBOARD_PATH, registerQueueDashboard } from './queue-dashboard';

/**
 * Bull Board for the ingest queue (every shard) at /admin/queues, behind HTTP Basic auth (ADMIN_USER,
 * ADMIN_PASSWORD), on the operations listener (createOpsApp registers it there). Without both variables nothing is
 * registered and the path is an ordinary 404. Provided by the all-in-one and the worker; not by the gateway.
 *
 * @bull-board/nestjs is not used: with the Fastify adapter it applies its `middleware` option to the exact base path
 * only, leaving the board's API and pages below it unprotected, and its module registers the board whatever the
 * configuration says. Registering @bull-board/fastify here puts the auth hook on every board route.
 */
@Injectable()
export class QueueDashboard implements OpsRoutes {
  private readonly logger = new Logger('QueueDashboard');

  constructor(
    private readonly monitor: IngestQueueMonitor,
    @InjectConfig() private readonly config: AppConfig,
    private readonly securityLog: SecurityEventLog,
  ) {}

  served(): string | undefined {
    return this.config.admin === undefined ? undefined : QUEUE_DASHBOARD_PATH;
  }

  async register(fastify: FastifyInstance): Promise<void> {
    if (this.config.admin === undefined) return;
    // One queue: its name alone, as before shards. Several: `shard-<i>:ingest-events`, and the unsharded queue they drain.
    const queues = this.monitor.queues.map(({ shard, queue }) => ({
      queue,
      prefix: this.monitor.queues.length === 1 || shard.index < 0 ? undefined : `${shard.label}:`,
    }));
    await registerQueueDashboard(fastify, queues, {
      credentials: this.config.admin,
      securityLog: this.securityLog,
      ipv6Prefix: this.config.rateLimit.ipv6Prefix,
    });
    this.logger.log(`Bull Board at ${QUEUE_DASHBOARD_PATH} on the operations listener (HTTP Basic auth)`);
  }
}

@Module({
  imports: [PipelineModule],
  providers: [QueueDashboard, { provide: OPS_ROUTES, useExisting: QueueDashboard }],
  exports: [QueueDashboard],
})
export class QueueDashboardModule {}
