/**
 * The metric hot path: counter inc, gauge set and histogram observe, each pre-bound and as a call
 * on the metric, with 0 and 2 labels, next to prom-client 15 and @opentelemetry/sdk-metrics in the
 * same process, plus a plain-JS baseline (a field update; a Map keyed by label values): the bare
 * operation in the same harness, a reference rather than a ceiling (a bound counter's `inc` is the
 * same field add after a type check, so it runs at the baseline's speed, and where V8 compiles the
 * baseline's loop worse the library beats it). Also: heap per labelled counter series.
 *
 * Each sample performs as many updates as take about {@link SAMPLE_US} µs for that contender
 * (calibrated after a warm-up): long enough that tinybench's own per-sample cost (~1 µs) does not
 * hide the difference, short enough that few samples contain a preemption by another process. With
 * a fixed count per sample instead, a slow contender's samples would last milliseconds, nearly
 * all of them would be preempted on a loaded machine, and its median would look slower than it is.
 * Every contender is calibrated (so run) before any is measured: library code shared by several
 * metrics (prom-client's `inc`, our label lookup) has seen every call shape by then, as in an
 * application that uses labelled and unlabelled metrics alike.
 *
 * The OpenTelemetry provider has a reader attached: without one the SDK records into no storage
 * at all, which would measure a no-op. OpenTelemetry has no bound instruments; its "bound" rows
 * reuse one attributes object, the closest it offers. prom-client has no bound handle for a
 * metric without labels; its 0-label "bound" rows call the metric, its fastest path.
 */
import { performance } from 'node:perf_hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import client from 'prom-client';
import { Registry } from '../src/metrics/registry.js';
import { createLogger } from '../src/logger.js';
import {
  type BenchRow,
  type BenchTask,
  type Check,
  formatOps,
  runTasks,
  type SuiteOptions,
  type SuiteResult,
} from './harness.js';

/** Target duration of one sample, µs. */
const SAMPLE_US = 200;
const MIN_OPS = 100;
const MAX_OPS = 1_000_000;
const VALUES = Float64Array.from({ length: 1024 }, (_, i) => 1 + ((i * 7919) % 2000) * 1.37);
const BUCKETS = [10, 50, 100, 500, 1000, 5000, 10000];

/** The contenders of every hot-path group, in table order. */
export const CONTENDERS = ['erlmcp-monitor', 'prom-client', 'OpenTelemetry', 'plain JS (limit)'] as const;
export type Contender = (typeof CONTENDERS)[number];

/** A hot-path target: ours / prom-client (ops per second) in `group`, at least `min`. */
export interface Target {
  group: string;
  min: number;
}

/** Fraction a hot-path ratio may miss its target by before bench:check fails. */
export const HOT_PATH_MARGIN = 0.1;

/** The ratios SPEC §10 asks for (ours / prom-client, ops per second, same run). */
export const HOT_PATH_TARGETS: Target[] = [
  { group: 'counter inc, bound, 2 labels', min: 50 },
  { group: 'counter inc, label object, 2 labels', min: 3 },
  { group: 'histogram observe, bound, 0 labels', min: 5 },
  { group: 'histogram observe, bound, 2 labels', min: 5 },
  { group: 'histogram observe, label object, 2 labels', min: 3 },
];

/** Keeps the OpenTelemetry SDK's storage alive; never exports. */
class HeldReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

type Op = (i: number) => void;
interface Group {
  group: string;
  ops: Record<Contender, Op>;
}

function hotPathGroups(): Group[] {
  const ours = new Registry({ logger: createLogger({ level: 'silent' }) });
  const prom = new client.Registry();
  const meter = new MeterProvider({ readers: [new HeldReader()] }).getMeter('bench');
  const two = ['method', 'route'];
  const attrs = { method: 'GET', route: '/api' };

  const oc0 = ours.counter('c0');
  const oc = ours.counter('c', { labels: two });
  const og0 = ours.gauge('g0');
  const og = ours.gauge('g', { labels: two });
  const oh0 = ours.histogram('h0', { buckets: BUCKETS });
  const oh = ours.histogram('h', { labels: two, buckets: BUCKETS });
  const [oc0b, ocb, og0b, ogb, oh0b, ohb] = [
    oc0.bind(),
    oc.bind(attrs),
    og0.bind(),
    og.bind(attrs),
    oh0.bind(),
    oh.bind(attrs),
  ];

  const pc0 = new client.Counter({ name: 'c0', help: 'c', registers: [prom] });
  const pc = new client.Counter({ name: 'c', help: 'c', labelNames: two, registers: [prom] });
  const pg0 = new client.Gauge({ name: 'g0', help: 'g', registers: [prom] });
  const pg = new client.Gauge({ name: 'g', help: 'g', labelNames: two, registers: [prom] });
  const ph0 = new client.Histogram({ name: 'h0', help: 'h', buckets: BUCKETS, registers: [prom] });
  const ph = new client.Histogram({ name: 'h', help: 'h', labelNames: two, buckets: BUCKETS, registers: [prom] });
  const [pcb, pgb, phb] = [pc.labels(attrs), pg.labels(attrs), ph.labels(attrs)];

  const tc = meter.createCounter('c');
  const tg = meter.createGauge('g');
  const th = meter.createHistogram('h', { advice: { explicitBucketBoundaries: BUCKETS } });

  // The limits keep separate state per metric type: one object whose field holds integers and
  // doubles alike would deoptimise to boxed numbers and slow every limit down.
  const count = { value: 0 };
  const level = { value: 0.5 };
  const sum = { value: 0.5 };
  const keyed = () => {
    const map = new Map<string, { value: number }>();
    return (labels: { method: string; route: string }) => {
      const key = `${labels.method}\u0000${labels.route}`;
      let s = map.get(key);
      if (s === undefined) map.set(key, (s = { value: 0.5 }));
      return s;
    };
  };
  const [countMap, levelMap, sumMap] = [keyed(), keyed(), keyed()];
  const v = (i: number) => VALUES[i & 1023]!;

  return [
    {
      group: 'counter inc, bound, 0 labels',
      ops: {
        'erlmcp-monitor': () => oc0b.inc(),
        'prom-client': () => pc0.inc(),
        OpenTelemetry: () => tc.add(1),
        'plain JS (limit)': () => void count.value++,
      },
    },
    {
      group: 'counter inc, bound, 2 labels',
      ops: {
        'erlmcp-monitor': () => ocb.inc(),
        'prom-client': () => pcb.inc(),
        OpenTelemetry: () => tc.add(1, attrs),
        'plain JS (limit)': () => void count.value++,
      },
    },
    {
      group: 'counter inc, metric call, 0 labels',
      ops: {
        'erlmcp-monitor': () => oc0.inc(),
        'prom-client': () => pc0.inc(),
        OpenTelemetry: () => tc.add(1),
        'plain JS (limit)': () => void count.value++,
      },
    },
    {
      group: 'counter inc, label object, 2 labels',
      ops: {
        'erlmcp-monitor': () => oc.inc({ method: 'GET', route: '/api' }),
        'prom-client': () => pc.inc({ method: 'GET', route: '/api' }),
        OpenTelemetry: () => tc.add(1, { method: 'GET', route: '/api' }),
        'plain JS (limit)': () => void countMap({ method: 'GET', route: '/api' }).value++,
      },
    },
    {
      group: 'gauge set, bound, 0 labels',
      ops: {
        'erlmcp-monitor': (i) => og0b.set(v(i)),
        'prom-client': (i) => pg0.set(v(i)),
        OpenTelemetry: (i) => tg.record(v(i)),
        'plain JS (limit)': (i) => void (level.value = v(i)),
      },
    },
    {
      group: 'gauge set, bound, 2 labels',
      ops: {
        'erlmcp-monitor': (i) => ogb.set(v(i)),
        'prom-client': (i) => pgb.set(v(i)),
        OpenTelemetry: (i) => tg.record(v(i), attrs),
        'plain JS (limit)': (i) => void (level.value = v(i)),
      },
    },
    {
      group: 'gauge set, metric call, 0 labels',
      ops: {
        'erlmcp-monitor': (i) => og0.set(v(i)),
        'prom-client': (i) => pg0.set(v(i)),
        OpenTelemetry: (i) => tg.record(v(i)),
        'plain JS (limit)': (i) => void (level.value = v(i)),
      },
    },
    {
      group: 'gauge set, label object, 2 labels',
      ops: {
        'erlmcp-monitor': (i) => og.set(v(i), { method: 'GET', route: '/api' }),
        'prom-client': (i) => pg.set({ method: 'GET', route: '/api' }, v(i)),
        OpenTelemetry: (i) => tg.record(v(i), { method: 'GET', route: '/api' }),
        'plain JS (limit)': (i) => void (levelMap({ method: 'GET', route: '/api' }).value = v(i)),
      },
    },
    {
      group: 'histogram observe, bound, 0 labels',
      ops: {
        'erlmcp-monitor': (i) => oh0b.observe(v(i)),
        'prom-client': (i) => ph0.observe(v(i)),
        OpenTelemetry: (i) => th.record(v(i)),
        'plain JS (limit)': (i) => void (sum.value += v(i)),
      },
    },
    {
      group: 'histogram observe, bound, 2 labels',
      ops: {
        'erlmcp-monitor': (i) => ohb.observe(v(i)),
        'prom-client': (i) => phb.observe(v(i)),
        OpenTelemetry: (i) => th.record(v(i), attrs),
        'plain JS (limit)': (i) => void (sum.value += v(i)),
      },
    },
    {
      group: 'histogram observe, metric call, 0 labels',
      ops: {
        'erlmcp-monitor': (i) => oh0.observe(v(i)),
        'prom-client': (i) => ph0.observe(v(i)),
        OpenTelemetry: (i) => th.record(v(i)),
        'plain JS (limit)': (i) => void (sum.value += v(i)),
      },
    },
    {
      group: 'histogram observe, label object, 2 labels',
      ops: {
        'erlmcp-monitor': (i) => oh.observe(v(i), { method: 'GET', route: '/api' }),
        'prom-client': (i) => ph.observe({ method: 'GET', route: '/api' }, v(i)),
        OpenTelemetry: (i) => th.record(v(i), { method: 'GET', route: '/api' }),
        'plain JS (limit)': (i) => void (sumMap({ method: 'GET', route: '/api' }).value += v(i)),
      },
    },
  ];
}

/** Updates per sample so that one sample takes about SAMPLE_US: the fastest of 20 timed runs after 30 ms of warm-up. */
function calibrate(loop: (n: number) => void): number {
  const probe = 1000;
  const warm = performance.now() + 30;
  while (performance.now() < warm) loop(probe);
  let best = Infinity;
  for (let r = 0; r < 20; r++) {
    const t0 = performance.now();
    loop(probe);
    best = Math.min(best, performance.now() - t0);
  }
  const nsPerOp = Math.max((best * 1e6) / probe, 0.5);
  return Math.round(Math.min(MAX_OPS, Math.max(MIN_OPS, (SAMPLE_US * 1000) / nsPerOp)));
}

/**
 * One tinybench task per group and contender. Each gets its own copy of the loop, compiled from a
 * source that names the task, so V8 specialises (and inlines) it for that one callee: one shared
 * loop calling many closures would go megamorphic and slow every contender to the same speed, and
 * identical sources would share one compiled function through V8's compilation cache.
 */
function hotPathTasks(groups: Group[]): BenchTask[] {
  const tasks: BenchTask[] = [];
  for (const g of groups) {
    for (const c of CONTENDERS) {
      const name = `${g.group}: ${c}`;
      const source = `// ${name}\nreturn function loop(n) { for (let i = 0; i < n; i++) op(i); };`;
      const loop = new Function('op', source)(g.ops[c]) as (n: number) => void;
      const ops = calibrate(loop);
      tasks.push({ name, perIteration: ops, fn: () => loop(ops) });
    }
  }
  return tasks;
}
/**
 * Heap bytes per labelled counter series, ours vs prom-client (needs --expose-gc for a clean
 * reading). Counts heapUsed + arrayBuffers: our series' values live in typed arrays, outside the
 * JS heap. The memory suite measures this at 100k and 1M series in fresh processes.
 */
function heapPerSeries(): { ours: number; promClient: number; n: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  const n = 100_000;
  const values = Array.from({ length: n }, (_, i) => `user-${i}`); // the same strings for both
  const measure = (fill: () => unknown) => {
    gc?.();
    gc?.();
    const used = () => {
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = used();
    const keep = fill();
    gc?.();
    gc?.();
    const after = used();
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

/** ops/s of `task` over ops/s of `anchor` (NaN if either row is missing). */
export function ratio(rows: BenchRow[], task: string, anchor: string): number {
  const a = rows.find((r) => r.name === task);
  const b = rows.find((r) => r.name === anchor);
  return a && b ? a.opsMedian / b.opsMedian : Number.NaN;
}

/** Every hot-path row (12 groups x 4 contenders); `time` ms per task (default 500). */
export async function hotPathRows(time = 500): Promise<BenchRow[]> {
  return runTasks(hotPathTasks(hotPathGroups()), { time, warmupTime: Math.min(250, time / 2) });
}

/** The hot-path ratios against {@link HOT_PATH_TARGETS}. */
export function hotPathChecks(rows: BenchRow[]): Check[] {
  return HOT_PATH_TARGETS.map((t) => ({
    name: `${t.group}: erlmcp-monitor / prom-client`,
    measured: ratio(rows, `${t.group}: erlmcp-monitor`, `${t.group}: prom-client`),
    target: t.min,
    better: 'higher' as const,
    margin: HOT_PATH_MARGIN,
    unit: 'x',
  }));
}

/** One line per group: every contender's median (min - max) and our ratio to each anchor. */
function hotPathTable(rows: BenchRow[]): string {
  const cell = (r: BenchRow | undefined) =>
    r ? `${formatOps(r.opsMedian)} (${formatOps(r.opsMin).replace(' M/s', '')}–${formatOps(r.opsMax)})` : '–';
  const x = (a: BenchRow | undefined, b: BenchRow | undefined) =>
    a && b ? `${(a.opsMedian / b.opsMedian).toFixed(a.opsMedian / b.opsMedian >= 10 ? 0 : 1)}x` : '–';
  const lines = [
    '| updates/s, median (min–max) | erlmcp-monitor | prom-client | OpenTelemetry | plain JS baseline | vs prom-client | vs OpenTelemetry | vs plain JS |',
    '|---|---|---|---|---|---|---|---|',
  ];
  const groups = [...new Set(rows.map((r) => r.name.slice(0, r.name.lastIndexOf(': '))))];
  for (const g of groups) {
    const by = (c: Contender) => rows.find((r) => r.name === `${g}: ${c}`);
    const ours = by('erlmcp-monitor');
    const baseline = by('plain JS (limit)');
    lines.push(
      `| ${g} | ${cell(ours)} | ${cell(by('prom-client'))} | ${cell(by('OpenTelemetry'))} | ${cell(baseline)} | ${x(ours, by('prom-client'))} | ${x(ours, by('OpenTelemetry'))} | ${x(ours, baseline)} |`,
    );
  }
  return lines.join('\n');
}

/** The hot-path suite (`quick`: 150 ms per task instead of 500, no heap figure). */
export async function hotPathSuite(options: SuiteOptions): Promise<SuiteResult> {
  const rows = await hotPathRows(options.quick ? 150 : 500);
  const notes = [
    `Each sample runs as many updates as take about ${SAMPLE_US} µs for that contender (calibrated); at least 10 samples per cell. Labels are {method, route}.`,
  ];
  let figures: unknown;
  if (!options.quick) {
    const heap = heapPerSeries();
    figures = { heapPerSeries: heap };
    notes.push(
      `Heap per labelled counter series (${heap.n.toLocaleString()} series, --expose-gc): erlmcp-monitor ${heap.ours.toFixed(0)} B, prom-client ${heap.promClient.toFixed(0)} B.`,
    );
  }
  return {
    suite: 'Metric hot path (bench/metrics.bench.ts)',
    rows,
    table: hotPathTable(rows),
    notes,
    checks: hotPathChecks(rows),
    figures,
  };
}
