import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventPartitions, PartitionMaintenanceResult, StoreConnection } from '#contract';
import { EventStorageConfig, loadConfig } from '#platform';
import { PartitionMaintenance } from './partition-maintenance';

// The schedule around the EventPartitions port, with fakes in place of PostgreSQL: the configured policy reaches the
// port, the first run waits for the database, and a failing run neither throws nor stops the schedule.

const DONE: PartitionMaintenanceResult = { skipped: false, created: [], moved: 0, dropped: [], expired: 0 };

function maintenanceWith(maintain: (policy: EventStorageConfig, now?: Date) => Promise<PartitionMaintenanceResult>) {
  let ready!: () => void;
  const connected = new Promise<void>((resolve) => (ready = resolve));
  const calls: Array<[EventStorageConfig, Date | undefined]> = [];
  const partitions: EventPartitions = {
    maintain: (policy, now) => {
      calls.push([policy, now]);
      return maintain(policy, now);
    },
  };
  const connection: StoreConnection = { whenReady: () => connected };
  const config = loadConfig({
    NODE_ENV: 'test',
    EVENTS_PARTITION_INTERVAL: 'week',
    EVENTS_PARTITIONS_AHEAD: '5',
    EVENTS_RETENTION_DAYS: '90',
  });
  return { maintenance: new PartitionMaintenance(partitions, connection, config), calls, ready };
}

describe('PartitionMaintenance', () => {
  it('maintains by EVENTS_PARTITION_INTERVAL, EVENTS_PARTITIONS_AHEAD and EVENTS_RETENTION_DAYS', async () => {
    const { maintenance, calls } = maintenanceWith(() => Promise.resolve(DONE));
    const now = new Date('2026-11-30T10:00:00Z');
    assert.equal(await maintenance.maintain(now), DONE);
    assert.deepEqual(calls, [[{ partitionInterval: 'week', partitionsAhead: 5, retentionDays: 90 }, now]]);
  });

  it('runs once the database is ready, and a failed run is logged, not thrown', async () => {
    const { maintenance, calls, ready } = maintenanceWith(() => Promise.reject(new Error('lock timeout')));
    maintenance.onApplicationBootstrap();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, 0, 'nothing before the database is connected');
    ready();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(calls.length, 1);
    await maintenance.beforeApplicationShutdown();
  });
});
