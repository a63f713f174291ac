import type { EndToEnd } from './measure';
import type { LoadResult } from './load-protocol';
import type { BenchResult } from './result';
import { round } from './stats';

const fmt = (value: number): string => Math.round(value).toLocaleString('en-US');
const ratio = (value: number, ceiling: number | undefined): string =>
  ceiling === undefined || ceiling === 0 ? '–' : round(value / ceiling, 3).toFixed(3);

function codes(result: LoadResult): string {
  return Object.entries(result.statusCodes)
    .map(([code, count]) => `${code}: ${fmt(count)}`)
    .join(', ');
}

function sweepTable(rows: Array<{ name: string; result: LoadResult }>, ceiling: number | undefined): string {
  const lines = [
    '| Target | Connections | req/s | events/s | × HTTP ceiling | p50 ms | p99 ms | max ms | CPU ms per batch | Status codes |',
    '| ------ | ----------: | ----: | -------: | -------------: | -----: | -----: | -----: | ---------------: | ------------ |',
  ];
  for (const { name, result } of rows) {
    const cpu = Object.values(result.cpuMsPerBatch ?? {}).join(' + ');
    lines.push(
      `| ${name} | ${result.connections}${result.overallRate === undefined ? '' : ` @ ${result.overallRate} req/s`} | ${fmt(result.requestsPerSecond)} | ` +
        `${fmt(result.eventsPerSecond)} | ${ratio(result.eventsPerSecond, ceiling)} | ${result.latencyMs.p50} | ${result.latencyMs.p99} | ` +
        `${result.latencyMs.max} | ${cpu === '' ? '–' : cpu} | ${codes(result)} |`,
    );
  }
  return lines.join('\n');
}

function endToEndLines(name: string, e2e: EndToEnd, ceilings: BenchResult['ceilings']): string[] {
  const load = e2e.load.overallRate === undefined ? 'full load' : `${e2e.load.overallRate} req/s`;
  const backlog =
    e2e.backlogWrittenPerSecond === undefined
      ? ''
      : ` After the load, the backlog was written at ${fmt(e2e.backlogWrittenPerSecond)} rows/s.`;
  return [
    `- **${name}**, ${load} over ${e2e.load.connections} connections for ${e2e.loadSeconds} s: accepted ${fmt(e2e.load.eventsPerSecond)} events/s ` +
      `(p99 ${e2e.load.latencyMs.p99} ms; ${codes(e2e.load)}); written **${fmt(e2e.writtenPerSecond)} rows/s while loaded = ` +
      `${ratio(e2e.writtenPerSecond, ceilings.copy?.rowsPerSecond)} × COPY ceiling** (${ratio(e2e.writtenPerSecond, ceilings.bulkCopy?.rowsPerSecond)} × bulk COPY).${backlog}`,
    `  Accept-to-written lag p50 ${fmt(e2e.lag.p50Ms)} ms, p99 ${fmt(e2e.lag.p99Ms)} ms, max ${fmt(e2e.lag.maxMs)} ms ` +
      `(${fmt(e2e.lag.batches)} batches). Buffer: max ${fmt(e2e.buffer.maxEvents)} events, growth over the second half ` +
      `${fmt(e2e.buffer.growthPerSecond)} events/s (${round(e2e.buffer.growthShare * 100, 1)} % of the accept rate: ` +
      `${e2e.buffer.bounded ? 'bounded' : 'growing'}); ${e2e.drained ? `drained ${e2e.drainSeconds} s after the load stopped` : 'NOT drained'}.`,
    `  Rows written per second: ${e2e.writtenSeries.map(fmt).join(' ')}`,
  ];
}

/** The short markdown summary written next to the JSON. `levers` is the hand-kept lever log, appended as is. */
export function toMarkdown(result: BenchResult, chartFile: string, levers?: string): string {
  const http = result.ceilings.http?.peak;
  const copy = result.ceilings.copy;
  const bulk = result.ceilings.bulkCopy;
  const { machine, config } = result;
  const out: string[] = [
    `# Benchmark: ${result.mode === 'smoke' ? 'smoke run (timings meaningless)' : 'results'}`,
    '',
    `${result.startedAt} · ${machine.cores} cores (${machine.cpu}) · ${machine.memoryGB} GB · Node ${machine.node} · ` +
      `load average ${machine.loadAverageBefore.map((l) => l.toFixed(2)).join(' ')} before, ` +
      `${machine.loadAverageAfter.map((l) => l.toFixed(2)).join(' ')} after · ${round(result.durationSeconds)} s in all` +
      (result.label === undefined ? '' : ` · ${result.label}`),
    '',
    `Target: ${config.target}. Every request carries ${config.eventsPerBatch} events (${fmt(config.averageBodyBytes)} bytes of JSON on ` +
      `average) for one of ${fmt(config.users)} players, each with their own token. Full load: ${config.connections} connections. ` +
      (Object.keys(config.serviceEnv).length === 0 ? '' : `Service environment: ${JSON.stringify(config.serviceEnv)}. `) +
      'Figures are ratios to the ceilings measured in the same run.',
    '',
    '## Targets',
    '',
    '| Target | Goal | Measured | Met |',
    '| ------ | ---- | -------- | --- |',
    ...result.targets.map((t) => `| ${t.description} | ${t.goal} | ${t.measured} | ${t.met === null ? '–' : t.met ? 'yes' : '**no**'} |`),
    '',
    '## Ceilings',
    '',
    http === undefined
      ? '- HTTP ceiling: not measured.'
      : `- HTTP ceiling (bare \`node:http\`, JSON.parse, 202): **${fmt(http.eventsPerSecond)} events/s** (${fmt(http.requestsPerSecond)} req/s at ${http.connections} connections, p99 ${http.latencyMs.p99} ms).`,
    copy === undefined
      ? '- COPY ceiling: not measured.'
      : `- COPY ceiling (one \`COPY … FROM STDIN\` per ${config.eventsPerBatch}-row batch, one connection): **${fmt(copy.rowsPerSecond)} rows/s** ` +
        `(${fmt(copy.batches)} batches in ${round(copy.seconds, 1)} s; one COPY p50 ${round(copy.copyMs.p50, 1)} ms, p99 ${round(copy.copyMs.p99, 1)} ms).`,
    bulk === undefined
      ? '- Bulk COPY ceiling: not measured.'
      : `- Bulk COPY ceiling (one \`COPY … FROM STDIN\` per ${fmt(bulk.rowsPerCopy ?? 0)} rows, one connection): **${fmt(bulk.rowsPerSecond)} rows/s** ` +
        `(${fmt(bulk.batches)} COPYs in ${round(bulk.seconds, 1)} s; one COPY p50 ${round(bulk.copyMs.p50, 1)} ms).`,
    '',
    '## Accept path',
    '',
    `![throughput and p99 against connections](${chartFile})`,
    '',
  ];
  const rows: Array<{ name: string; result: LoadResult }> = [];
  for (const r of result.ceilings.http?.sweep ?? []) rows.push({ name: 'HTTP ceiling', result: r });
  for (const r of result.allInOne?.sweep ?? []) rows.push({ name: 'all-in-one', result: r });
  if (result.allInOne !== undefined && !result.allInOne.sweep.includes(result.allInOne.fullLoad)) {
    rows.push({ name: 'all-in-one (full load)', result: result.allInOne.fullLoad });
  }
  if (result.allInOne?.light !== undefined) rows.push({ name: 'all-in-one (light load)', result: result.allInOne.light.accept });
  for (const r of result.gateway?.sweep ?? []) rows.push({ name: 'gateway only', result: r });
  out.push(sweepTable(rows, http?.eventsPerSecond), '');

  out.push('## End to end', '');
  const light = result.allInOne?.light;
  if (light?.lag !== undefined) {
    out.push(
      `- **Light load** (${light.accept.overallRate} req/s = ${fmt(light.accept.eventsPerSecond)} events/s): accept p50 ${light.accept.latencyMs.p50} ms, ` +
        `p99 ${light.accept.latencyMs.p99} ms; accept-to-written lag p50 ${fmt(light.lag.p50Ms)} ms, p99 ${fmt(light.lag.p99Ms)} ms.`,
    );
  }
  if (result.allInOne?.e2eFullLoad !== undefined)
    out.push(...endToEndLines('All-in-one, burst of the full load', result.allInOne.e2eFullLoad, result.ceilings));
  if (result.allInOne?.e2e !== undefined) out.push(...endToEndLines('All-in-one, sustained', result.allInOne.e2e, result.ceilings));
  if (result.split !== undefined) {
    out.push(...endToEndLines('Gateway + worker processes, burst of the full load', result.split.e2eFullLoad, result.ceilings));
    out.push(...endToEndLines('Gateway + worker processes, sustained', result.split.e2e, result.ceilings));
  }
  if (result.allInOne?.e2e === undefined && result.split === undefined) out.push('- Not measured.');

  out.push('', '## Memory (peak RSS, MB)', '');
  const memory: string[] = [];
  if (result.allInOne !== undefined)
    memory.push(...Object.entries(result.allInOne.peakRssMB).map(([name, mb]) => `all-in-one run: ${name} ${fmt(mb)}`));
  if (result.gateway !== undefined)
    memory.push(...Object.entries(result.gateway.peakRssMB).map(([name, mb]) => `gateway-only run: ${name} ${fmt(mb)}`));
  if (result.split !== undefined)
    memory.push(...Object.entries(result.split.peakRssMB).map(([name, mb]) => `gateway + worker run: ${name} ${fmt(mb)}`));
  out.push(memory.length === 0 ? '- Not measured.' : memory.map((line) => `- ${line}`).join('\n'));
  if (result.problems.length > 0) out.push('', '## Problems', '', ...result.problems.map((problem) => `- ${problem}`));
  if (levers !== undefined && levers.trim() !== '') out.push('', levers.trim());
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The chart: hand-built SVG, two panels sharing a log2 x axis (connections): accepted events/s and p99 latency, both
// on log10 y axes, one line per target.

interface Series {
  name: string;
  color: string;
  points: LoadResult[];
}

const WIDTH = 760;
const PANEL = 210;
const LEFT = 78;
const RIGHT = 150;
const TOP = 40;
const GAP = 60;

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function decadeTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exponent = Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++) {
    for (const m of [1, 2, 5]) {
      const value = m * 10 ** exponent;
      if (value >= min && value <= max) ticks.push(value);
    }
  }
  return ticks;
}

function short(value: number): string {
  if (value >= 1e6) return `${round(value / 1e6, 1)}M`;
  if (value >= 1e3) return `${round(value / 1e3, 1)}k`;
  return String(round(value, 1));
}

export function toSvg(result: BenchResult): string {
  const series: Series[] = [
    { name: 'HTTP ceiling', color: '#7f7f7f', points: result.ceilings.http?.sweep ?? [] },
    { name: 'all-in-one', color: '#1f77b4', points: result.allInOne?.sweep ?? [] },
    { name: 'gateway only', color: '#ff7f0e', points: result.gateway?.sweep ?? [] },
  ].filter((s) => s.points.length > 0);
  const all = series.flatMap((s) => s.points);
  const plotWidth = WIDTH - LEFT - RIGHT;
  const height = TOP + PANEL * 2 + GAP + 42;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="22" font-size="15" font-weight="bold">${escape(
      `POST /ingest/events, ${result.config.eventsPerBatch}-event batches · ${result.machine.cores} cores · ${result.startedAt.slice(0, 10)}${result.mode === 'smoke' ? ' (smoke)' : ''}`,
    )}</text>`,
  ];
  if (all.length === 0) {
    parts.push(`<text x="${LEFT}" y="${TOP + 40}">no accept-path measurements</text>`, '</svg>');
    return parts.join('\n');
  }
  const connections = [...new Set(all.map((p) => p.connections))].sort((a, b) => a - b);
  const xMin = Math.log2(connections[0]);
  const xMax = Math.max(xMin + 1, Math.log2(connections[connections.length - 1]));
  const x = (c: number) => LEFT + ((Math.log2(c) - xMin) / (xMax - xMin)) * plotWidth;

  const panels: Array<{ title: string; value: (p: LoadResult) => number; top: number; refs: Array<{ value: number; label: string }> }> = [
    {
      title: 'accepted events/s',
      value: (p) => p.eventsPerSecond,
      top: TOP,
      refs:
        result.ceilings.http === undefined
          ? []
          : [{ value: result.ceilings.http.peak.eventsPerSecond * 0.15, label: 'target: 0.15 × HTTP ceiling' }],
    },
    {
      title: 'p99 latency, ms',
      value: (p) => p.latencyMs.p99,
      top: TOP + PANEL + GAP,
      refs: [{ value: 250, label: 'target at full load: 250 ms' }],
    },
  ];
  for (const panel of panels) {
    const values = [...all.map(panel.value), ...panel.refs.map((r) => r.value)].filter((v) => v > 0);
    const yMin = 10 ** Math.floor(Math.log10(Math.min(...values)));
    const yMax = 10 ** Math.ceil(Math.log10(Math.max(...values)));
    const y = (v: number) =>
      panel.top + PANEL - ((Math.log10(Math.max(v, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin) || 1)) * PANEL;
    parts.push(`<rect x="${LEFT}" y="${panel.top}" width="${plotWidth}" height="${PANEL}" fill="none" stroke="#333"/>`);
    for (const tick of decadeTicks(yMin, yMax)) {
      parts.push(
        `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${round(y(tick), 1)}" y2="${round(y(tick), 1)}" stroke="#e5e5e5"/>`,
        `<text x="${LEFT - 6}" y="${round(y(tick) + 4, 1)}" text-anchor="end">${short(tick)}</text>`,
      );
    }
    for (const c of connections) {
      parts.push(
        `<line x1="${round(x(c), 1)}" x2="${round(x(c), 1)}" y1="${panel.top}" y2="${panel.top + PANEL}" stroke="#f0f0f0"/>`,
        `<text x="${round(x(c), 1)}" y="${panel.top + PANEL + 16}" text-anchor="middle">${c}</text>`,
      );
    }
    parts.push(
      `<text transform="translate(18 ${panel.top + PANEL / 2}) rotate(-90)" text-anchor="middle">${escape(panel.title)}</text>`,
      `<text x="${LEFT + plotWidth / 2}" y="${panel.top + PANEL + 34}" text-anchor="middle">connections (log scale)</text>`,
    );
    for (const ref of panel.refs) {
      parts.push(
        `<line x1="${LEFT}" x2="${LEFT + plotWidth}" y1="${round(y(ref.value), 1)}" y2="${round(y(ref.value), 1)}" stroke="#d62728" stroke-dasharray="6 4"/>`,
        `<text x="${LEFT + 6}" y="${round(y(ref.value) - 5, 1)}" fill="#d62728">${escape(ref.label)}</text>`,
      );
    }
    for (const s of series) {
      const points = s.points.map((p) => `${round(x(p.connections), 1)},${round(y(panel.value(p)), 1)}`);
      parts.push(`<polyline points="${points.join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"/>`);
      for (const point of points) {
        const [px, py] = point.split(',');
        parts.push(`<circle cx="${px}" cy="${py}" r="3" fill="${s.color}"/>`);
      }
    }
  }
  series.forEach((s, i) => {
    const ly = TOP + 14 + i * 20;
    parts.push(
      `<line x1="${WIDTH - RIGHT + 14}" x2="${WIDTH - RIGHT + 38}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`,
      `<text x="${WIDTH - RIGHT + 44}" y="${ly + 4}">${escape(s.name)}</text>`,
    );
  });
  parts.push('</svg>', '');
  return parts.join('\n');
}
