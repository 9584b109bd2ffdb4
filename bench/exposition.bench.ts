/**
 * Exposition: the Prometheus text of 1,000 and 10,000 counter series and 1,000 histogram series,
 * ours (`renderPrometheusText`, which yields to the event loop between chunks) against
 * prom-client's `register.metrics()` holding the same series. Two figures per case, from separate
 * renders so the probe does not slow the timing:
 * - the time to the finished text, wall clock and process CPU time, over renders that alternate
 *   ours / prom-client so that the shared machine's drifting load hits both alike; the speedup is
 *   the median of the paired ratios;
 * - the longest event-loop block while rendering (a `setImmediate` gap probe, see
 *   {@link startBlockProbe}), as the median and the worst of several renders.
 */
import client from 'prom-client';
import { renderPrometheusText } from '../src/exposition/prometheus-text.js';
import { createLogger } from '../src/logger.js';
import { DEFAULT_BUCKETS } from '../src/metrics/histogram.js';
import { Registry } from '../src/metrics/registry.js';
import { performance } from 'node:perf_hooks';
import {
  type BlockReading,
  type Check,
  fmtMs,
  median,
  startBlockProbe,
  type SuiteOptions,
  type SuiteResult,
} from './harness.js';

/** SPEC §10: 10,000 series render at least this many times faster than prom-client... */
export const EXPOSITION_SPEEDUP_TARGET = 2;
/** ...and never block the event loop longer than this (ms). */
export const EXPOSITION_BLOCK_TARGET_MS = 20;
const MARGIN = 0.1;

interface Case {
  name: string;
  n: number;
  kind: 'counter' | 'histogram';
  checked: boolean;
}

const CASES: Case[] = [
  { name: '1,000 counter series', n: 1_000, kind: 'counter', checked: false },
  { name: '10,000 counter series', n: 10_000, kind: 'counter', checked: true },
  { name: '1,000 histogram series', n: 1_000, kind: 'histogram', checked: false },
];

/** Both tables hold the same series: `{route, code}` label pairs with one update each (histograms: a few). */
function contenders(c: Case): { ours: () => Promise<string>; prom: () => Promise<string> } {
  const ours = new Registry({ seriesLimit: c.n + 10, logger: createLogger({ level: 'silent' }) });
  const prom = new client.Registry();
  const labels = (i: number) => ({ route: `/api/v1/resource/${i}`, code: String(200 + (i % 5)) });
  if (c.kind === 'counter') {
    const oc = ours.counter('http.requests', { help: 'requests', labels: ['route', 'code'] });
    const pc = new client.Counter({
      name: 'http_requests_total',
      help: 'requests',
      labelNames: ['route', 'code'],
      registers: [prom],
    });
    for (let i = 0; i < c.n; i++) {
      oc.inc(labels(i), i + 1);
      pc.inc(labels(i), i + 1);
    }
  } else {
    const oh = ours.histogram('http.latency', { help: 'latency', labels: ['route', 'code'], buckets: DEFAULT_BUCKETS });
    const ph = new client.Histogram({
      name: 'http_latency',
      help: 'latency',
      labelNames: ['route', 'code'],
      buckets: [...DEFAULT_BUCKETS],
      registers: [prom],
    });
    for (let i = 0; i < c.n; i++) {
      for (let k = 0; k < 5; k++) {
        const v = 3 + ((i * 31 + k * 977) % 7000);
        oh.observe(v, labels(i));
        ph.observe(labels(i), v);
      }
    }
  }
  return { ours: () => renderPrometheusText(ours), prom: () => prom.metrics() };
}

async function longestBlocks(render: () => Promise<string>, runs: number): Promise<BlockReading[]> {
  const blocks: BlockReading[] = [];
  for (let r = 0; r < runs; r++) {
    const probe = startBlockProbe();
    await render();
    blocks.push(probe.stop());
    await new Promise((resolve) => setImmediate(resolve));
  }
  return blocks;
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

async function timed(render: () => Promise<string>): Promise<Timing> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await render();
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { wallMs, cpuMs: (cpu.user + cpu.system) / 1000 };
}

/** `rounds` renders of each, alternating (ABBA) after two warm-up renders of each. */
async function pairedTimings(
  ours: () => Promise<string>,
  prom: () => Promise<string>,
  rounds: number,
): Promise<{ ours: Timing[]; prom: Timing[] }> {
  for (let w = 0; w < 2; w++) {
    await ours();
    await prom();
  }
  const out = { ours: [] as Timing[], prom: [] as Timing[] };
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      out.ours.push(await timed(ours));
      out.prom.push(await timed(prom));
    } else {
      out.prom.push(await timed(prom));
      out.ours.push(await timed(ours));
    }
  }
  return out;
}

const stats = (t: Timing[]) => ({
  median: median(t.map((x) => x.wallMs)),
  min: Math.min(...t.map((x) => x.wallMs)),
  max: Math.max(...t.map((x) => x.wallMs)),
  cpu: median(t.map((x) => x.cpuMs)),
});

/** The exposition suite: ours vs prom-client on 1k/10k counter and 1k histogram series. */
export async function expositionSuite(options: SuiteOptions): Promise<SuiteResult> {
  const runs = options.quick ? 3 : 7;
  const rounds = options.quick ? 7 : 15;
  const checks: Check[] = [];
  const figures: Record<string, unknown>[] = [];
  const lines = [
    `| series | erlmcp-monitor: wall ms, median (min–max); CPU ms | prom-client: wall ms, median (min–max); CPU ms | speedup, wall / CPU | longest block, ours: CPU / wall / worst wall | longest block, prom-client: CPU / wall / worst wall | text ours / prom-client |`,
    '|---|---|---|---|---|---|---|',
  ];
  for (const c of CASES) {
    const { ours, prom } = contenders(c);
    const [oursText, promText] = [await ours(), await prom()];
    const t = await pairedTimings(ours, prom, rounds);
    const wallSpeedup = median(t.prom.map((p, i) => p.wallMs / t.ours[i]!.wallMs));
    const cpuSpeedup = median(t.prom.map((p, i) => p.cpuMs / t.ours[i]!.cpuMs));
    const oursBlocks = await longestBlocks(ours, runs);
    const promBlocks = await longestBlocks(prom, runs);
    const o = stats(t.ours);
    const p = stats(t.prom);
    const summary = (b: BlockReading[]) => ({
      cpu: median(b.map((x) => x.cpuMs)),
      wall: median(b.map((x) => x.wallMs)),
      worstWall: Math.max(...b.map((x) => x.wallMs)),
    });
    const block = summary(oursBlocks);
    const promBlock = summary(promBlocks);
    const cell = (b: typeof block) => `${fmtMs(b.cpu)} / ${fmtMs(b.wall)} / ${fmtMs(b.worstWall)}`;
    const time = (x: typeof o) => `${fmtMs(x.median)} (${fmtMs(x.min)}–${fmtMs(x.max)}); ${fmtMs(x.cpu)}`;
    lines.push(
      `| ${c.name} | ${time(o)} | ${time(p)} | ${wallSpeedup.toFixed(1)}x / ${cpuSpeedup.toFixed(1)}x | ${cell(block)} | ${cell(promBlock)} | ${(oursText.length / 1024).toFixed(0)} / ${(promText.length / 1024).toFixed(0)} KiB |`,
    );
    figures.push({
      case: c.name,
      ours: o,
      promClient: p,
      wallSpeedup,
      cpuSpeedup,
      oursBlockMs: oursBlocks,
      promClientBlockMs: promBlocks,
      textBytes: { ours: oursText.length, promClient: promText.length },
    });
    if (c.checked) {
      checks.push(
        // "Faster" is time to the finished text, so wall clock; alternating the renders and taking
        // the median of paired ratios keeps the machine's drifting load out of it. The CPU ratio
        // (printed) also counts GC helper threads working beside the render, not only its time.
        {
          name: `exposition of ${c.name}: prom-client / erlmcp-monitor, wall ms (median of ${rounds} paired renders)`,
          measured: wallSpeedup,
          target: EXPOSITION_SPEEDUP_TARGET,
          better: 'higher',
          margin: MARGIN,
          unit: 'x',
        },
        {
          name: `exposition of ${c.name}: longest event-loop block, CPU time (median of ${runs} renders)`,
          measured: block.cpu,
          target: EXPOSITION_BLOCK_TARGET_MS,
          better: 'lower',
          margin: MARGIN,
          unit: ' ms',
        },
      );
    }
  }
  return {
    suite: 'Exposition (bench/exposition.bench.ts)',
    rows: [],
    table: lines.join('\n'),
    notes: [
      `Time to the finished text: ${rounds} renders of each, alternating, after 2 warm-ups; speedup = median of the paired ratios (prom-client / ours). ` +
        `Longest block over ${runs} separate renders with a setImmediate gap probe, as process CPU time (the block's own cost) and wall-clock time ` +
        '(also counts preemption by other processes on a shared machine); medians, and the worst wall-clock reading. ' +
        "The speedup target is checked on wall clock (time to the text), the block target on CPU time (preemption does not lengthen the block's own work). " +
        'Counters have {route, code} labels; histograms the same labels and 7 buckets (+Inf, sum, count: 10 lines per series) in both libraries.',
    ],
    checks,
    figures,
  };
}
