import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { EventPartitions, PartitionMaintenanceResult, StoreConnection } from '#contract';
import { AppConfig, describeError, InjectConfig } from '#platform';
import { PeriodicChore } from './periodic-chore';

const MAINTENANCE_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Maintains the partitions of the events (EventPartitions): once the database is connected and migrated, then hourly.
 * Creates EVENTS_PARTITIONS_AHEAD partitions ahead of time, moves the events that landed in the default partition
 * into partitions of their own, and with EVENTS_RETENTION_DAYS drops the partitions older than it. Every worker runs
 * it; an advisory lock lets one at a time do the work. A failed run is logged and tried again at the next one: until
 * then events outside every partition are kept in the default partition, never refused.
 */
@Injectable()
export class PartitionMaintenance implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(PartitionMaintenance.name);
  private readonly chore: PeriodicChore;

  constructor(
    private readonly partitions: EventPartitions,
    connection: StoreConnection,
    @InjectConfig() private readonly config: AppConfig,
  ) {
    this.chore = new PeriodicChore(MAINTENANCE_INTERVAL_MS, () => this.maintainAndLog(), { whenReady: () => connection.whenReady() });
  }

  onApplicationBootstrap(): void {
    this.chore.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.chore.stop();
  }

  /** One maintenance, by the configured policy (and `now`, for tests). */
  maintain(now?: Date): Promise<PartitionMaintenanceResult> {
    return this.partitions.maintain(this.config.events, now);
  }

  private maintainAndLog(): Promise<void> {
    return this.maintain().then(
      ({ created, moved, dropped, expired }) => {
        if (created.length > 0)
          this.logger.log(`created partitions ${created.join(', ')} (${moved} events moved from the default partition)`);
        if (dropped.length > 0 || expired > 0)
          this.logger.log(
            `dropped partitions older than ${this.config.events.retentionDays} days: ${dropped.join(', ') || 'none'} (and ${expired} events of the default partition)`,
          );
      },
      (error: unknown) => this.logger.warn(`partition maintenance failed: ${describeError(error)}`),
    );
  }
}
