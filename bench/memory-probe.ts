/**
 * One heap-per-series measurement, run in a fresh process by bench/memory.bench.ts:
 * `node --expose-gc memory-probe.js <ours|prom-client> <counter|histogram|histogram-5m> <series>`;
 * prints one JSON line `{ heapUsed, arrayBuffers, n }` (bytes added by the series, after full GCs).
 *
 * `counter` and `histogram` make one update per series. `histogram-5m` is a histogram in steady
 * state: every series observes values from 1 ms to 1 s (10 octaves) in each of 30 ten-second
 * slices (the 5-minute window is full): our series keep percentile sketches (all-time and one per
 * slice), which grow with the range and spread of the data; prom-client's do not grow.
 * `histogram-1rps` and `histogram-busy` run 5 minutes of fake time with lognormal latencies at
 * 1 and 10,000 observations per second per series: a typical route x status series and a busy one.
 * `histogram-restored` (ours only): the `histogram` series, flushed to LMDB and restored by
 * `restoreTable` into a new registry (what a quiet series costs after a restart).
 *
 * Labels are {route, method, status}: 5 methods, 10 statuses and series/50 routes. Every label
 * value string is built before the first reading and kept alive to the end, so neither library is
 * charged for the strings themselves; whatever a library builds or keeps per series (prom-client's
 * key string and the label object it holds, our rows of value ids) is charged. Typed-array
 * storage lives outside the JS heap, so the figure is heapUsed + arrayBuffers.
 *
 * A 4th argument `--parts` also prints, after the figure, where the bytes are: a heap snapshot's
 * self sizes summed by node type and constructor, per series, largest first (typed-array data is
 * `native:system / JSArrayBufferData`; its headers are `object:ArrayBuffer` and `object:Uint8Array`...).
 * Fixed costs (code, module strings) are in it too, divided by the series count.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import client from 'prom-client';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { SliceClock } from '../src/metrics/slice-clock.js';
import { MetricStore } from '../src/store/lmdb-store.js';
import { flushTable, restoreTable } from '../src/store/table-store.js';
import { mulberry32 } from './prng.js';

const KINDS = ['counter', 'histogram', 'histogram-5m', 'histogram-1rps', 'histogram-busy', 'histogram-restored'];
const [side, kind, count, partsFlag] = process.argv.slice(2);
const n = Number(count);
const gc = (globalThis as { gc?: () => void }).gc;
if (
  gc === undefined ||
  (side !== 'ours' && side !== 'prom-client') ||
  !KINDS.includes(kind!) ||
  !(n > 0) ||
  (kind === 'histogram-restored' && side !== 'ours')
) {
  console.error(`usage: node --expose-gc memory-probe.js <ours|prom-client> <${KINDS.join('|')}> <series>`);
  process.exit(2);
}

export const BUCKETS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const STATUSES = ['200', '201', '204', '301', '400', '401', '404', '409', '500', '503'];
const routes = Array.from(
  { length: Math.ceil(n / 50) },
  (_, i) => `/api/v1/${['users', 'orders', 'invoices', 'items'][i % 4]}/${i}/details`,
);

function reading(): { heapUsed: number; arrayBuffers: number } {
  gc!();
  gc!();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

type Update = (labels: { route: string; method: string; status: string }, value: number) => void;

const SLICE_MS = 10_000;
const clock = new SliceClock(SLICE_MS, 0);

function ours(): { keep: unknown; update: Update } {
  const r = new Registry({ seriesLimit: n, clock, logger: createLogger({ level: 'silent' }) });
  const labels = ['route', 'method', 'status'];
  if (kind === 'counter') {
    const c = r.counter('http_requests', { labels });
    return { keep: r, update: (l, v) => c.inc(l, v) };
  }
  // Restored series: the store declares the metric (restoreTable runs before any declaration).
  if (kind === 'histogram-restored') return { keep: r, update: () => undefined };
  const h = r.histogram('http_request_duration', { labels, buckets: BUCKETS });
  return { keep: r, update: (l, v) => h.observe(l, v) };
}

function promClient(): { keep: unknown; update: Update } {
  const r = new client.Registry();
  const labelNames = ['route', 'method', 'status'];
  if (kind === 'counter') {
    const c = new client.Counter({ name: 'http_requests', help: 'h', labelNames, registers: [r] });
    return { keep: r, update: (l, v) => c.inc(l, v) };
  }
  const h = new client.Histogram({
    name: 'http_request_duration',
    help: 'h',
    labelNames,
    buckets: BUCKETS,
    registers: [r],
  });
  return { keep: r, update: (l, v) => h.observe(l, v) };
}

/** Reachable from the global object: a module-level const V8 sees no later use of is collected. */
const held = globalThis as { keep?: unknown; routes?: unknown };
held.routes = routes;
const labelsAt = (i: number) => ({
  route: routes[Math.floor(i / 50)]!,
  method: METHODS[i % 5]!,
  status: STATUSES[Math.floor(i / 5) % 10]!,
});
// Opened before the first reading: the store's own maps of series definitions are not the series' cost.
const dataDir = kind === 'histogram-restored' ? await storeOfObservedOnce() : undefined;
const store = dataDir === undefined ? undefined : MetricStore.open({ dataDir });
const before = reading();
const { keep, update } = side === 'ours' ? ours() : promClient();
held.keep = keep;
if (store !== undefined) {
  restoreTable(keep as Registry, store, createLogger({ level: 'silent' }));
} else if (kind === 'histogram-5m') {
  for (let slice = 0; slice < 30; slice++) {
    clock.tick(slice * SLICE_MS);
    // 1 ms .. 1 s, one value per octave, a different mantissa each slice.
    for (let i = 0; i < n; i++)
      for (let octave = 0; octave < 10; octave++) update(labelsAt(i), 2 ** octave * (1 + ((slice * 7 + i) % 64) / 64));
  }
} else if (kind === 'histogram-1rps' || kind === 'histogram-busy') {
  // 5 minutes of fake time, latency lognormal (median 50 ms, sigma 1): 1 request/s per series, or
  // 10,000/s per series (busy: few such series).
  const perSecond = kind === 'histogram-busy' ? 10_000 : 1;
  const random = mulberry32(42);
  const lognormal = () => 50 * Math.exp(Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random()));
  for (let second = 0; second < 300; second++) {
    clock.tick(second * 1000);
    for (let i = 0; i < n; i++) {
      const labels = labelsAt(i);
      for (let k = 0; k < perSecond; k++) update(labels, lognormal());
    }
  }
} else {
  for (let i = 0; i < n; i++) update(labelsAt(i), 1 + (i % 977));
}
const after = reading();
console.log(
  JSON.stringify({
    heapUsed: after.heapUsed - before.heapUsed,
    arrayBuffers: after.arrayBuffers - before.arrayBuffers,
    n,
  }),
);

if (partsFlag === '--parts') printParts();
if (store !== undefined) {
  await store.close();
  rmSync(dataDir!, { recursive: true, force: true });
}

/**
 * `histogram-restored`: an LMDB store holding every series observed once (a quiet series), written
 * by a registry that is gone before the first reading; the figure is what restoring it keeps.
 */
async function storeOfObservedOnce(): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'memory-probe-'));
  const r = new Registry({ seriesLimit: n, clock, logger: createLogger({ level: 'silent' }) });
  const h = r.histogram('http_request_duration', { labels: ['route', 'method', 'status'], buckets: BUCKETS });
  for (let i = 0; i < n; i++) h.observe(labelsAt(i), 1 + (i % 977));
  const store = MetricStore.open({ dataDir: dir });
  for (let at = 1; ; at++) {
    const f = await flushTable(r, store, at * 1000);
    if (f.deferred === 0 && f.pending === 0) break;
  }
  await store.close();
  return dir;
}

/** Heap snapshot self sizes by node type and name, per series, largest first. */
function printParts(): void {
  const file = v8.writeHeapSnapshot(path.join(os.tmpdir(), `memory-probe-${process.pid}.heapsnapshot`));
  const snapshot = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  unlinkSync(file);
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [type, name, size] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const parts = new Map<string, { bytes: number; objects: number }>();
  for (let i = 0; i < snapshot.nodes.length; i += fields.length) {
    const t = types[snapshot.nodes[i + type]!]!;
    const named = t === 'object' || t === 'native' || t === 'array';
    const key = `${t}:${named ? snapshot.strings[snapshot.nodes[i + name]!]!.slice(0, 40) : ''}`;
    const part = parts.get(key) ?? { bytes: 0, objects: 0 };
    part.bytes += snapshot.nodes[i + size]!;
    part.objects++;
    parts.set(key, part);
  }
  for (const [key, { bytes, objects }] of [...parts].sort((a, b) => b[1].bytes - a[1].bytes).slice(0, 16)) {
    console.log(`${(bytes / n).toFixed(1).padStart(8)} B/series ${String(objects).padStart(9)} objects  ${key}`);
  }
}
