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
    copy?: CopyCeilingResult;
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

/** The targets, evaluated on this run's figures. */
export function evaluateTargets(result: Omit<BenchResult, 'targets' | 'problems'>): Target[] {
  const http = result.ceilings.http?.peak;
  const copy = result.ceilings.copy;
  const aio = result.allInOne;
  const targets: Target[] = [];
  const unmeasured = (id: string, description: string, goal: string): Target => ({
    id,
    description,
    goal,
    measured: 'not measured',
    met: null,
  });

  if (aio !== undefined && http !== undefined) {
    const ratio = aio.fullLoad.eventsPerSecond / http.eventsPerSecond;
    targets.push({
      id: 'accept-throughput',
      description: `Accept path, all-in-one, ${aio.fullLoad.connections} connections: events/s as a share of the HTTP ceiling`,
      goal: '≥ 0.10',
      measured: `${round(ratio, 3)} (${fmt(aio.fullLoad.eventsPerSecond)} of ${fmt(http.eventsPerSecond)} events/s)`,
      met: ratio >= 0.1,
    });
  } else targets.push(unmeasured('accept-throughput', 'Accept path, all-in-one: share of the HTTP ceiling', '≥ 0.10'));

  if (aio !== undefined) {
    targets.push({
      id: 'accept-p99-full-load',
      description: `Accept p99 under the full load (${aio.fullLoad.connections} connections)`,
      goal: '≤ 250 ms',
      measured: `${aio.fullLoad.latencyMs.p99} ms`,
      met: aio.fullLoad.latencyMs.p99 <= 250 && nonAccepted(aio.fullLoad) === 0,
    });
  }

  const endToEnd = (id: string, deployment: string, e2e: EndToEnd | undefined): Target => {
    if (e2e === undefined || copy === undefined)
      return unmeasured(id, `End to end, ${deployment}: share of the COPY ceiling`, '≥ 0.5, bounded');
    const ratio = e2e.writtenPerSecond / copy.rowsPerSecond;
    return {
      id,
      description:
        `End to end, ${deployment}, sustained: ${round(e2e.loadSeconds)} s at ${e2e.load.overallRate ?? '?'} req/s offered: ` +
        'rows written per second as a share of the COPY ceiling, buffer bounded',
      goal: '≥ 0.5, bounded',
      measured:
        `${round(ratio, 3)} (${fmt(e2e.writtenPerSecond)} of ${fmt(copy.rowsPerSecond)} rows/s); buffer ` +
        `${e2e.buffer.bounded ? 'bounded' : 'growing'} (${fmt(e2e.buffer.growthPerSecond)} events/s, max ${fmt(e2e.buffer.maxEvents)})`,
      met: ratio >= 0.5 && e2e.buffer.bounded,
    };
  };
  targets.push(endToEnd('end-to-end-all-in-one', 'all-in-one', aio?.e2e));
  if (result.split !== undefined) targets.push(endToEnd('end-to-end-split', 'gateway + worker processes', result.split.e2e));

  if (aio?.light !== undefined) {
    targets.push({
      id: 'light-accept-p99',
      description: `Light load (${aio.light.accept.overallRate ?? '?'} req/s): accept p99`,
      goal: '≤ 50 ms',
      measured: `${aio.light.accept.latencyMs.p99} ms`,
      met: aio.light.accept.latencyMs.p99 <= 50 && nonAccepted(aio.light.accept) === 0,
    });
    targets.push(
      aio.light.lag === undefined
        ? unmeasured('light-lag-p99', 'Light load: accept-to-written lag p99', '≤ 2 s')
        : {
            id: 'light-lag-p99',
            description: `Light load: accept-to-written lag p99 (${aio.light.lag.batches} batches)`,
            goal: '≤ 2000 ms',
            measured: `${aio.light.lag.p99Ms} ms`,
            met: aio.light.lag.p99Ms <= 2000 && aio.light.lag.batches > 0,
          },
    );
  }

  const gatewayRss = Math.max(result.gateway?.peakRssMB.gateway ?? 0, result.split?.peakRssMB.gateway ?? 0);
  targets.push(
    gatewayRss === 0
      ? unmeasured('gateway-rss', 'Gateway peak RSS under load', '≤ 300 MB')
      : {
          id: 'gateway-rss',
          description: 'Gateway peak RSS under load',
          goal: '≤ 300 MB',
          measured: `${round(gatewayRss)} MB`,
          met: gatewayRss <= 300,
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
