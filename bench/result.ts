import type { CopyCeilingResult } from './copy-ceiling';
import type { EndToEnd, LagStats } from './measure';
import type { LoadResult } from './load-protocol';
import { round } from './stats';

export interface AcceptPath {
  sweep: LoadResult[];
  /** The accept test proper: the full load (`config.connections`). */
  fullLoad: LoadResult;
  /** Peak resident set per process during this deployment's runs, MB (10^6 bytes). */
  peakRssMB: Record<string, number>;
}

export interface BenchResult {
  schema: 1;
  mode: 'full' | 'smoke';
  label?: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  machine: {
    cores: number;
    cpu: string;
    memoryGB: number;
    node: string;
    platform: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  config: {
    target: string;
    users: number;
    eventsPerBatch: number;
    averageBodyBytes: number;
    levels: number[];
    connections: number;
    stepSeconds: number;
    e2eSeconds: number;
    lightRate: number;
    lightSeconds: number;
    serviceEnv: Record<string, string>;
  };
  ceilings: {
    http?: { sweep: LoadResult[]; peak: LoadResult };
    /** One COPY per 200-event batch over one connection. */
    copy?: CopyCeilingResult;
    /** One COPY per 5,000 rows over one connection. */
    bulkCopy?: CopyCeilingResult;
  };
  /** The all-in-one process (or the --url target). */
  /**
   * The all-in-one process (or the --url target). `e2eFullLoad`: end to end under the full load; `e2e`: sustained, at
   * 90 % of the rate written under the full load.
   */
  allInOne?: AcceptPath & { light?: { accept: LoadResult; lag?: LagStats }; e2e?: EndToEnd; e2eFullLoad?: EndToEnd };
  /** A gateway-only process with no worker: the accept path alone. */
  gateway?: AcceptPath;
  /** A gateway and a worker process: end to end as for the all-in-one, and both processes' memory. */
  split?: { e2e: EndToEnd; e2eFullLoad: EndToEnd; peakRssMB: Record<string, number> };
  targets: Target[];
  /** What went wrong beyond the figures: refused requests, undrained buffers, rows missing. A smoke run fails on any. */
  problems: string[];
}

export interface Target {
  id: string;
  description: string;
  goal: string;
  measured: string;
  /** True or false; null when the run did not measure it. */
  met: boolean | null;
}

const fmt = (value: number): string => Math.round(value).toLocaleString('en-US');

/** The targets (issue 15, the second round), evaluated on this run's figures. */
export function evaluateTargets(result: Omit<BenchResult, 'targets' | 'problems'>): Target[] {
  const http = result.ceilings.http?.peak;
  const { copy, bulkCopy } = result.ceilings;
  const aio = result.allInOne;
  const targets: Target[] = [];
  const unmeasured = (id: string, description: string, goal: string): Target => ({
    id,
    description,
    goal,
    measured: 'not measured',
    met: null,
  });

  const accept = (id: string, deployment: string, path: AcceptPath | undefined, goal: number): Target => {
    if (path === undefined || http === undefined)
      return unmeasured(id, `Accept path, ${deployment}: share of the HTTP ceiling`, `≥ ${goal.toFixed(2)}`);
    const ratio = path.fullLoad.eventsPerSecond / http.eventsPerSecond;
    const best = path.sweep.reduce((top, step) => (step.eventsPerSecond > top.eventsPerSecond ? step : top), path.fullLoad);
    return {
      id,
      description: `Accept path, ${deployment}, ${path.fullLoad.connections} connections: events/s as a share of the HTTP ceiling`,
      goal: `≥ ${goal.toFixed(2)}`,
      measured:
        `${round(ratio, 3)} (${fmt(path.fullLoad.eventsPerSecond)} of ${fmt(http.eventsPerSecond)} events/s; best ` +
        `${round(best.eventsPerSecond / http.eventsPerSecond, 3)} at ${best.connections})`,
      met: ratio >= goal && nonAccepted(path.fullLoad) === 0,
    };
  };
  targets.push(accept('accept-throughput', 'all-in-one', aio, 0.15));
  targets.push(accept('accept-throughput-gateway', 'gateway alone', result.gateway, 0.2));

  if (aio !== undefined) {
    targets.push({
      id: 'accept-p99-full-load',
      description: `Accept p99 under the full load (${aio.fullLoad.connections} connections)`,
      goal: '≤ 250 ms',
      measured: `${aio.fullLoad.latencyMs.p99} ms`,
      met: aio.fullLoad.latencyMs.p99 <= 250 && nonAccepted(aio.fullLoad) === 0,
    });
  }

  const endToEnd = (id: string, deployment: string, e2e: EndToEnd | undefined, goal: number): Target => {
    if (e2e === undefined || copy === undefined)
      return unmeasured(id, `End to end, ${deployment}: share of the per-batch COPY ceiling`, `≥ ${goal.toFixed(1)}, bounded`);
    const ratio = e2e.writtenPerSecond / copy.rowsPerSecond;
    const bulk =
      bulkCopy === undefined
        ? ''
        : `; ${round(e2e.writtenPerSecond / bulkCopy.rowsPerSecond, 3)} of the bulk COPY's ${fmt(bulkCopy.rowsPerSecond)}`;
    return {
      id,
      description:
        `End to end, ${deployment}, sustained: ${round(e2e.loadSeconds)} s at ${e2e.load.overallRate ?? '?'} req/s offered: ` +
        'rows written per second as a share of the per-batch COPY ceiling, buffer bounded',
      goal: `≥ ${goal.toFixed(1)}, bounded`,
      measured:
        `${round(ratio, 3)} (${fmt(e2e.writtenPerSecond)} of ${fmt(copy.rowsPerSecond)} rows/s${bulk}); buffer ` +
        `${e2e.buffer.bounded ? 'bounded' : 'growing'} (${fmt(e2e.buffer.growthPerSecond)} events/s, max ${fmt(e2e.buffer.maxEvents)})`,
      met: ratio >= goal && e2e.buffer.bounded,
    };
  };
  targets.push(endToEnd('end-to-end-all-in-one', 'all-in-one', aio?.e2e, 0.8));
  if (result.split !== undefined) targets.push(endToEnd('end-to-end-split', 'gateway + worker processes', result.split.e2e, 1.0));

  const burst = (id: string, deployment: string, runs: { e2e?: EndToEnd; e2eFullLoad?: EndToEnd } | undefined): Target => {
    const goal = 'drain rate ≥ sustained rate';
    const { e2eFullLoad: peak, e2e: sustained } = runs ?? {};
    if (peak === undefined || sustained === undefined) return unmeasured(id, `Burst, ${deployment}`, goal);
    const drainRate = peak.backlogWrittenPerSecond;
    return {
      id,
      description: `Burst, ${deployment}: ${round(peak.loadSeconds)} s of the full load, then nothing`,
      goal,
      measured:
        `peak buffer ${fmt(peak.buffer.maxEvents)} events, drained in ${peak.drainSeconds} s at ` +
        `${drainRate === undefined ? '? (under a second)' : fmt(drainRate)} rows/s; sustained ${fmt(sustained.writtenPerSecond)} rows/s`,
      met: peak.drained && (drainRate === undefined || drainRate >= sustained.writtenPerSecond),
    };
  };
  targets.push(burst('burst-all-in-one', 'all-in-one', aio));
  if (result.split !== undefined) targets.push(burst('burst-split', 'gateway + worker processes', result.split));

  if (aio?.light !== undefined) {
    targets.push({
      id: 'light-accept-p99',
      description: `Light load (${aio.light.accept.overallRate ?? '?'} req/s): accept p99`,
      goal: '≤ 20 ms',
      measured: `${aio.light.accept.latencyMs.p99} ms`,
      met: aio.light.accept.latencyMs.p99 <= 20 && nonAccepted(aio.light.accept) === 0,
    });
    targets.push(
      aio.light.lag === undefined
        ? unmeasured('light-lag-p99', 'Light load: accept-to-written lag p99', '≤ 250 ms')
        : {
            id: 'light-lag-p99',
            description: `Light load: accept-to-written lag p99 (${aio.light.lag.batches} batches)`,
            goal: '≤ 250 ms',
            measured: `${aio.light.lag.p99Ms} ms`,
            met: aio.light.lag.p99Ms <= 250 && aio.light.lag.batches > 0,
          },
    );
  }

  const gatewayRss = Math.max(result.gateway?.peakRssMB.gateway ?? 0, result.split?.peakRssMB.gateway ?? 0);
  targets.push(
    gatewayRss === 0
      ? unmeasured('gateway-rss', 'Gateway peak RSS under load', '≤ 250 MB')
      : {
          id: 'gateway-rss',
          description: 'Gateway peak RSS under load',
          goal: '≤ 250 MB',
          measured: `${round(gatewayRss)} MB`,
          met: gatewayRss <= 250,
        },
  );
  return targets;
}

/** Answers other than 2xx (status codes, connection errors, timeouts). */
export function nonAccepted(result: LoadResult): number {
  return Object.entries(result.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .reduce((sum, [, count]) => sum + count, 0);
}
