import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { at, costModel, DEFAULT_ASSUMPTIONS, fit, plan, singleBox, type UnitCostFile } from '../scripts/capacity-model';

const spread = (median: number) => ({ median, min: median, max: median });

/** Round figures of the shape the unit-costs stage writes: easy to check by hand. */
const UNITS: UnitCostFile = {
  kind: 'unit-costs',
  startedAt: '2026-11-30T00:00:00.000Z',
  mode: 'full',
  machine: { cores: 2, cpu: 'test', loadAverageBefore: [1], loadAverageAfter: [1] },
  summary: [
    // Gateway: 1,000 µs a request + 1 µs an event. Worker: 500 µs a job + 5 µs a row. Redis: 100 µs + 1 µs an event.
    // PostgreSQL: 20 µs a row. WAL: 1,000 bytes a row.
    {
      gateways: 1,
      workers: 1,
      eventsPerRequest: 50,
      runs: 3,
      gatewayUsPerRequest: spread(1050),
      workerUsPerRow: spread(15),
      redisUsPerJob: spread(150),
      postgresUsPerRow: spread(20),
      walBytesPerRow: spread(1000),
    },
    {
      gateways: 1,
      workers: 1,
      eventsPerRequest: 200,
      runs: 3,
      gatewayUsPerRequest: spread(1200),
      workerUsPerRow: spread(7.5),
      redisUsPerJob: spread(300),
      postgresUsPerRow: spread(20),
      walBytesPerRow: spread(1000),
    },
  ],
  // 1,000 bytes + 100 an event.
  redisMemory: [
    { eventsPerRequest: 50, jobs: 100, usedMemoryBytesPerJob: 6000, jobHashBytes: 5000 },
    { eventsPerRequest: 200, jobs: 100, usedMemoryBytesPerJob: 21_000, jobHashBytes: 20_000 },
  ],
  storage: { bytesPerRow: 500 },
};

describe('npm run capacity: the computation', () => {
  it('fits a fixed cost per request and a cost per event through the two request sizes', () => {
    const model = costModel(UNITS);
    assert.deepEqual(model.gatewayUsPerRequest, { fixed: 1000, perEvent: 1 });
    assert.deepEqual(model.workerUsPerJob, { fixed: 500, perEvent: 5 });
    assert.deepEqual(model.redisUsPerJob, { fixed: 100, perEvent: 1 });
    assert.deepEqual(model.postgresUsPerJob, { fixed: 0, perEvent: 20 });
    assert.deepEqual(model.redisBytesPerJob, { fixed: 1000, perEvent: 100 });
    assert.equal(at(model.gatewayUsPerRequest, 100), 1100);
  });

  it('falls back to a cost proportional to the events when noise makes the line fall', () => {
    assert.deepEqual(
      fit([
        [50, 100],
        [200, 80],
      ]),
      { fixed: 0, perEvent: 0.4 },
    );
    assert.deepEqual(fit([[200, 400]]), { fixed: 0, perEvent: 2 });
  });

  it('sizes every role for a target rate at the assumed utilization', () => {
    const result = plan(costModel(UNITS), { eventsPerSecond: 1_000_000, eventsPerRequest: 50, outageMinutes: 10 });
    assert.equal(result.jobsPerSecond, 20_000);
    // 20,000 jobs/s × 1,050 µs = 21 cores; at 0.6 of one core each: 35 gateways.
    assert.equal(result.cores.gateway, 21);
    assert.equal(result.gateways, 35);
    // 20,000 × 750 µs = 15 cores → 25 workers.
    assert.equal(result.workers, 25);
    // Redis: 20,000 × 150 µs = 3 cores → 5 masters for CPU; memory: 12,000,000 jobs × 6,000 bytes = 72 GB, at 0.6 of
    // 16 GB per master → 8 masters. The larger wins.
    assert.equal(result.redis.mastersForCpu, 5);
    assert.equal(result.redis.backlogJobs, 12_000_000);
    assert.equal(result.redis.backlogGB, 72);
    assert.equal(result.redis.mastersForMemory, 8);
    assert.equal(result.redis.masters, 8);
    assert.equal(result.redis.replicas, 8);
    assert.equal(result.redis.queueShards, 16);
    assert.equal(result.redis.bufferMaxEvents, 600_000_000);
    // PostgreSQL: 1,000,000 × 20 µs = 20 cores, more than 0.6 of 32 → two primaries; 1,000 MB/s of WAL.
    assert.equal(result.cores.postgres, 20);
    assert.equal(result.postgres.primaries, 2);
    assert.equal(result.postgres.walMBPerSecond, 1000);
    assert.equal(result.postgres.storageGBPerDay, 43_200);
    // At 0.6, the spare 2/3 of the rate writes a 10-minute backlog in 15 minutes.
    assert.ok(Math.abs(result.postgres.catchUpMinutes - 15) < 1e-9);
  });

  it('needs one of everything, and one queue, for a small rate', () => {
    const result = plan(costModel(UNITS), { eventsPerSecond: 100, eventsPerRequest: 200, outageMinutes: 0 }, DEFAULT_ASSUMPTIONS);
    assert.equal(result.gateways, 1);
    assert.equal(result.workers, 1);
    assert.equal(result.redis.masters, 1);
    assert.equal(result.redis.queueShards, 1);
    assert.equal(result.postgres.primaries, 1);
    assert.equal(result.postgres.catchUpMinutes, 0);
  });

  it('estimates the single box from the sum of the unit costs', () => {
    // 200 events: gateway 1,200 + worker 1,500 + Redis 300 + PostgreSQL 4,000 = 7,000 µs a request, 35 µs an event.
    const box = singleBox(costModel(UNITS), 2, 200);
    assert.equal(box.usPerEvent, 35);
    assert.ok(Math.abs(box.eventsPerSecond - 2e6 / 35) < 1e-6);
  });

  it('refuses what the API refuses', () => {
    assert.throws(() => plan(costModel(UNITS), { eventsPerSecond: 1000, eventsPerRequest: 201, outageMinutes: 0 }), /between 1 and 200/);
    assert.throws(() => plan(costModel(UNITS), { eventsPerSecond: 0, eventsPerRequest: 50, outageMinutes: 0 }), /positive/);
  });
});
