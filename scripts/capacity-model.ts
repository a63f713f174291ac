// The pure computation behind `npm run capacity` (scripts/capacity.ts): instance counts for a target rate from the
// unit costs `npm run bench -- --stages unit-costs` measured. No I/O here; docs/scaling.md explains each step.

/** The part of bench/results/unit-costs.json this reads (bench/unit-costs.ts writes it). */
export interface UnitCostFile {
  kind: 'unit-costs';
  startedAt: string;
  mode: 'full' | 'smoke';
  machine: { cores: number; cpu: string; loadAverageBefore: number[]; loadAverageAfter: number[] };
  summary: Array<{
    gateways: number;
    workers: number;
    eventsPerRequest: number;
    runs: number;
    gatewayUsPerRequest: Spread;
    workerUsPerRow: Spread;
    redisUsPerJob: Spread;
    postgresUsPerRow: Spread;
    walBytesPerRow: Spread;
  }>;
  redisMemory: Array<{ eventsPerRequest: number; jobs: number; usedMemoryBytesPerJob: number; jobHashBytes: number }>;
  storage?: { bytesPerRow: number };
}

interface Spread {
  median: number;
  min: number;
  max: number;
}

/** What may be assumed rather than measured; every one is printed as ASSUMED. */
export interface Assumptions {
  /** Cores one gateway or worker process can use: Node runs JavaScript on one thread. */
  coresPerInstance: number;
  /** Target utilization of every CPU and of Redis memory (the rest absorbs bursts and the catch-up after an outage). */
  headroom: number;
  /** maxmemory of one Redis master, GB (10^9 bytes). */
  redisMaxmemoryGB: number;
  /** Cores of one PostgreSQL primary. */
  postgresCores: number;
  /** Replicas per Redis master (for Sentinel or Cluster failover). */
  redisReplicasPerMaster: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  coresPerInstance: 1,
  headroom: 0.6,
  redisMaxmemoryGB: 16,
  postgresCores: 32,
  redisReplicasPerMaster: 1,
};

export interface Demand {
  eventsPerSecond: number;
  eventsPerRequest: number;
  outageMinutes: number;
}

/** A cost that grows linearly with the events in a request: fixed + perEvent × events (µs, or bytes). */
export interface Linear {
  fixed: number;
  perEvent: number;
}

/** Per-request (per-job) costs as a linear function of the events in it, from the two request sizes measured. */
export interface CostModel {
  /** The topology whose medians the model uses. */
  gateways: number;
  workers: number;
  gatewayUsPerRequest: Linear;
  workerUsPerJob: Linear;
  redisUsPerJob: Linear;
  postgresUsPerJob: Linear;
  walBytesPerJob: Linear;
  redisBytesPerJob: Linear;
  storageBytesPerRow?: number;
}

/** The line through (x1, y1) and (x2, y2); a constant per event when only one size was measured. */
export function fit(points: ReadonlyArray<[number, number]>): Linear {
  if (points.length === 0) throw new Error('no measurement to fit');
  const sorted = [...points].sort((a, b) => a[0] - b[0]);
  const [x1, y1] = sorted[0];
  const [x2, y2] = sorted[sorted.length - 1];
  if (x1 === x2) return { fixed: 0, perEvent: y1 / x1 };
  const perEvent = (y2 - y1) / (x2 - x1);
  // A negative slope or intercept is noise: fall back to a cost proportional to the events.
  if (perEvent < 0 || y1 - perEvent * x1 < 0) return { fixed: 0, perEvent: y2 / x2 };
  return { fixed: y1 - perEvent * x1, perEvent };
}

export const at = (cost: Linear, events: number): number => cost.fixed + cost.perEvent * events;

/** The model of one topology's medians (1 gateway + 1 worker unless asked otherwise). */
export function costModel(file: UnitCostFile, gateways = 1, workers = 1): CostModel {
  const lines = file.summary.filter((line) => line.gateways === gateways && line.workers === workers);
  if (lines.length === 0) throw new Error(`the unit-cost file has no ${gateways} gateway + ${workers} worker measurement`);
  const perJob = (pick: (line: UnitCostFile['summary'][number]) => number) =>
    fit(lines.map((line) => [line.eventsPerRequest, pick(line)] as [number, number]));
  const memory = file.redisMemory.filter((entry) => entry.jobs > 0);
  return {
    gateways,
    workers,
    gatewayUsPerRequest: perJob((line) => line.gatewayUsPerRequest.median),
    workerUsPerJob: perJob((line) => line.workerUsPerRow.median * line.eventsPerRequest),
    redisUsPerJob: perJob((line) => line.redisUsPerJob.median),
    postgresUsPerJob: perJob((line) => line.postgresUsPerRow.median * line.eventsPerRequest),
    walBytesPerJob: perJob((line) => line.walBytesPerRow.median * line.eventsPerRequest),
    // The larger of the two measures of a waiting job (used_memory growth, MEMORY USAGE of its hash).
    redisBytesPerJob: fit(memory.map((entry) => [entry.eventsPerRequest, Math.max(entry.usedMemoryBytesPerJob, entry.jobHashBytes)])),
    storageBytesPerRow: file.storage?.bytesPerRow,
  };
}

export interface Plan {
  demand: Demand;
  assumptions: Assumptions;
  jobsPerSecond: number;
  /** CPU cores each role needs at 100 % utilization. */
  cores: { gateway: number; worker: number; redis: number; postgres: number };
  gateways: number;
  workers: number;
  redis: {
    mastersForCpu: number;
    /** Jobs waiting at the end of an outage of the length given (Little's law, L = λW). */
    backlogJobs: number;
    backlogGB: number;
    mastersForMemory: number;
    masters: number;
    replicas: number;
    queueShards: number;
    /** BUFFER_MAX_EVENTS that lets the gateways accept through the whole outage. */
    bufferMaxEvents: number;
  };
  postgres: {
    primaries: number;
    walMBPerSecond: number;
    /** After the outage: how long the backlog takes to write with the headroom left, minutes. */
    catchUpMinutes: number;
    storageGBPerDay?: number;
  };
}

const ceil = (value: number) => Math.max(1, Math.ceil(value - 1e-9));

export function plan(model: CostModel, demand: Demand, assumptions: Assumptions = DEFAULT_ASSUMPTIONS): Plan {
  const { eventsPerSecond: rate, eventsPerRequest: size, outageMinutes } = demand;
  if (!(rate > 0)) throw new Error('events per second must be positive');
  if (!(size >= 1 && size <= 200)) throw new Error('events per request must be between 1 and 200');
  const { coresPerInstance, headroom, redisMaxmemoryGB, postgresCores, redisReplicasPerMaster } = assumptions;
  if (!(headroom > 0 && headroom <= 1)) throw new Error('headroom must be in (0, 1]');
  const jobsPerSecond = rate / size;
  const cores = {
    gateway: (jobsPerSecond * at(model.gatewayUsPerRequest, size)) / 1e6,
    worker: (jobsPerSecond * at(model.workerUsPerJob, size)) / 1e6,
    // Redis runs commands on one thread: a master has one core to give, whatever the machine.
    redis: (jobsPerSecond * at(model.redisUsPerJob, size)) / 1e6,
    postgres: (jobsPerSecond * at(model.postgresUsPerJob, size)) / 1e6,
  };
  const backlogJobs = jobsPerSecond * outageMinutes * 60;
  const backlogGB = (backlogJobs * at(model.redisBytesPerJob, size)) / 1e9;
  const mastersForCpu = ceil(cores.redis / headroom);
  const mastersForMemory = outageMinutes > 0 ? ceil(backlogGB / (redisMaxmemoryGB * headroom)) : 1;
  const masters = Math.max(mastersForCpu, mastersForMemory);
  // Twice the masters: whole queues move when masters are added, and a hot shard is half a master's load.
  const queueShards = masters === 1 ? 1 : 2 * masters;
  const catchUpMinutes = outageMinutes > 0 ? outageMinutes / (1 / headroom - 1) : 0;
  return {
    demand,
    assumptions,
    jobsPerSecond,
    cores,
    gateways: ceil(cores.gateway / (coresPerInstance * headroom)),
    workers: ceil(cores.worker / (coresPerInstance * headroom)),
    redis: {
      mastersForCpu,
      backlogJobs,
      backlogGB,
      mastersForMemory,
      masters,
      replicas: masters * redisReplicasPerMaster,
      queueShards,
      bufferMaxEvents: Math.ceil(rate * outageMinutes * 60),
    },
    postgres: {
      primaries: ceil(cores.postgres / (postgresCores * headroom)),
      walMBPerSecond: (jobsPerSecond * at(model.walBytesPerJob, size)) / 1e6,
      catchUpMinutes,
      storageGBPerDay: model.storageBytesPerRow === undefined ? undefined : (rate * 86_400 * model.storageBytesPerRow) / 1e9,
    },
  };
}

/**
 * What the unit costs say one machine of `cores` cores running everything (gateway, worker, Redis, PostgreSQL) can
 * write, at `size` events per request: the sanity check against the end-to-end rate the benchmark measured.
 */
export function singleBox(model: CostModel, cores: number, size: number): { usPerEvent: number; eventsPerSecond: number } {
  const usPerJob =
    at(model.gatewayUsPerRequest, size) + at(model.workerUsPerJob, size) + at(model.redisUsPerJob, size) + at(model.postgresUsPerJob, size);
  const usPerEvent = usPerJob / size;
  return { usPerEvent, eventsPerSecond: (cores * 1e6) / usPerEvent };
}
