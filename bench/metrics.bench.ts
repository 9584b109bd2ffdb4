/**
 * The metric hot path next to prom-client 15 and @opentelemetry/sdk-metrics in the same process,
 * plus a plain-JS baseline (a field increment; a Map keyed by label values) as the practical
 * limit. Each iteration performs OPS updates, so tinybench's own per-call overhead does not hide
 * the difference. Also: heap per labelled counter series, and one aggregation + LMDB flush of
 * 10,000 series (main-thread ms and the longest block).
 */
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import client from 'prom-client';
import { Registry } from '../src/metrics/registry.js';
import { createLogger } from '../src/logger.js';
import { type BenchRow, type SuiteResult, runTasks } from './harness.js';
import { flushOf } from './store.bench.js';

const OPS = 10_000;
const VALUES = Float64Array.from({ length: 1024 }, (_, i) => 1 + ((i * 7919) % 2000) * 1.37);

export interface Target {
  task: string;
  anchor: string;
  min: number;
}

/** The ratios issue #3 asks for (ours / anchor, ops per second). */
export const HOT_PATH_TARGETS: Target[] = [
  { task: 'counter inc, bound: erlmcp-monitor', anchor: 'counter inc, bound: prom-client', min: 50 },
  { task: 'counter inc, label object: erlmcp-monitor', anchor: 'counter inc, label object: prom-client', min: 3 },
  { task: 'histogram observe, bound: erlmcp-monitor', anchor: 'histogram observe, bound: prom-client', min: 5 },
  { task: 'histogram observe, label object: erlmcp-monitor', anchor: 'histogram observe, label object: prom-client', min: 3 },
];

function hotPathContenders() {
  const ours = new Registry({ logger: createLogger({ level: 'silent' }) });
  const promRegistry = new client.Registry();
  const meter = new MeterProvider().getMeter('bench');

  const oc = ours.counter('c', { labels: ['method', 'route'] });
  const ocBound = oc.bind({ method: 'GET', route: '/api' });
  const oh = ours.histogram('h');
  const ohBound = oh.bind();
  const ohl = ours.histogram('hl', { labels: ['method', 'route'] });

  const pc = new client.Counter({ name: 'c', help: 'c', labelNames: ['method', 'route'], registers: [promRegistry] });
  const pcBound = pc.labels({ method: 'GET', route: '/api' });
  const ph = new client.Histogram({ name: 'h', help: 'h', buckets: [10, 50, 100, 500, 1000, 5000, 10000], registers: [promRegistry] });
  const phl = new client.Histogram({ name: 'hl', help: 'hl', labelNames: ['method', 'route'], buckets: [10, 50, 100, 500, 1000, 5000, 10000], registers: [promRegistry] });

  const tc = meter.createCounter('c');
  const th = meter.createHistogram('h', { advice: { explicitBucketBoundaries: [10, 50, 100, 500, 1000, 5000, 10000] } });

  const plain = { value: 0 };
  const map = new Map<string, { value: number }>();
  let sink = 0;

  return [
    { name: 'counter inc, bound: plain field (limit)', fn: () => { for (let i = 0; i < OPS; i++) plain.value++; } },
    { name: 'counter inc, bound: erlmcp-monitor', fn: () => { for (let i = 0; i < OPS; i++) ocBound.inc(); } },
    { name: 'counter inc, bound: prom-client', fn: () => { for (let i = 0; i < OPS; i++) pcBound.inc(); } },
    {
      name: 'counter inc, label object: Map by label values (limit)',
      fn: () => {
        for (let i = 0; i < OPS; i++) {
          const labels = { method: 'GET', route: '/api' };
          const key = `${labels.method}\u0000${labels.route}`;
          let s = map.get(key);
          if (s === undefined) map.set(key, (s = { value: 0 }));
          s.value++;
        }
      },
    },
    { name: 'counter inc, label object: erlmcp-monitor', fn: () => { for (let i = 0; i < OPS; i++) oc.inc({ method: 'GET', route: '/api' }); } },
    { name: 'counter inc, label object: prom-client', fn: () => { for (let i = 0; i < OPS; i++) pc.inc({ method: 'GET', route: '/api' }); } },
    { name: 'counter inc, label object: OpenTelemetry', fn: () => { for (let i = 0; i < OPS; i++) tc.add(1, { method: 'GET', route: '/api' }); } },
    { name: 'histogram observe, bound: plain sum (limit)', fn: () => { for (let i = 0; i < OPS; i++) sink += VALUES[i & 1023]!; } },
    { name: 'histogram observe, bound: erlmcp-monitor', fn: () => { for (let i = 0; i < OPS; i++) ohBound.observe(VALUES[i & 1023]!); } },
    { name: 'histogram observe, bound: prom-client', fn: () => { for (let i = 0; i < OPS; i++) ph.observe(VALUES[i & 1023]!); } },
    { name: 'histogram observe, bound: OpenTelemetry', fn: () => { for (let i = 0; i < OPS; i++) th.record(VALUES[i & 1023]!); } },
    {
      name: 'histogram observe, label object: erlmcp-monitor',
      fn: () => { for (let i = 0; i < OPS; i++) ohl.observe(VALUES[i & 1023]!, { method: 'GET', route: '/api' }); },
    },
    {
      name: 'histogram observe, label object: prom-client',
      fn: () => { for (let i = 0; i < OPS; i++) phl.observe({ method: 'GET', route: '/api' }, VALUES[i & 1023]!); },
    },
    {
      name: 'histogram observe, label object: OpenTelemetry',
      fn: () => { for (let i = 0; i < OPS; i++) th.record(VALUES[i & 1023]!, { method: 'GET', route: '/api' }); },
    },
  ].map((t) => ({ ...t, perIteration: OPS, sinkRef: () => sink }));
}

/** Heap bytes per labelled counter series, ours vs prom-client (needs --expose-gc for a clean reading). */
function heapPerSeries(): { ours: number; promClient: number; n: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  const n = 100_000;
  const values = Array.from({ length: n }, (_, i) => `user-${i}`); // the same strings for both
  const measure = (fill: () => unknown) => {
    gc?.();
    gc?.();
    const before = process.memoryUsage().heapUsed;
    const keep = fill();
    gc?.();
    gc?.();
    const after = process.memoryUsage().heapUsed;
    void keep;
    return (after - before) / n;
  };
  const ours = measure(() => {
    const r = new Registry({ seriesLimit: n + 1, logger: createLogger({ level: 'silent' }) });
    const c = r.counter('c', { labels: ['user', 'method'] });
    for (const v of values) c.inc({ user: v, method: 'GET' });
    return r;
  });
  const promClient = measure(() => {
    const r = new client.Registry();
    const c = new client.Counter({ name: 'c', help: 'c', labelNames: ['user', 'method'], registers: [r] });
    for (const v of values) c.inc({ user: v, method: 'GET' });
    return r;
  });
  return { ours, promClient, n };
}

export function ratio(rows: BenchRow[], task: string, anchor: string): number {
  const a = rows.find((r) => r.name === task);
  const b = rows.find((r) => r.name === anchor);
  return a && b ? a.opsMedian / b.opsMedian : Number.NaN;
}

export async function hotPathRows(time = 500): Promise<BenchRow[]> {
  return runTasks(hotPathContenders(), { time });
}

export async function metricsSuite(): Promise<SuiteResult> {
  const rows = await hotPathRows();
  const heap = heapPerSeries();
  const flush = await flushOf(10_000);
  const notes = [
    '| target | ratio | wanted |',
    '|---|---|---|',
    ...HOT_PATH_TARGETS.map((t) => `| ${t.task.replace(': erlmcp-monitor', '')} vs prom-client | ${ratio(rows, t.task, t.anchor).toFixed(1)}x | >= ${t.min}x |`),
    `| heap per labelled counter series (${heap.n.toLocaleString()} series) | ${heap.ours.toFixed(0)} B (prom-client ${heap.promClient.toFixed(0)} B) | <= 150 B |`,
    `| aggregation + LMDB flush of 10,000 series | ${flush.mainThreadMs.toFixed(1)} ms main thread, longest block ${flush.longestBlockMs.toFixed(1)} ms (loop monitor: ${flush.loopBlockMs.toFixed(1)} ms), ${flush.totalMs.toFixed(1)} ms to durable | block <= 20 ms |`,
  ];
  return { suite: 'Metric hot path (bench/metrics.bench.ts), ops/s per update', rows, notes: [notes.join('\n')] };
}
