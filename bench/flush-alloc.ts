/**
 * What one `flushTable` call costs the main thread at a full write budget: heap bytes allocated
 * per flushed series (used-heap growth between and across GCs, v8.GCProfiler) and the main
 * thread's own CPU time (Linux schedstat; the writer thread's excluded), median of several calls,
 * for N changed counter series and N changed histogram series (a histogram counts 6 of the budget).
 * With more series than one call's budget (100,000), a call writes its budget and walks the rest.
 * Run from the sources: `node --expose-gc --import ./test/ts-worker-hooks.mjs bench/flush-alloc.ts
 * [series=100000] [rounds=7] [kinds=counter,histogram]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { Registry } from '../src/metrics/registry.js';
import { SliceClock } from '../src/metrics/slice-clock.js';
import { MetricStore } from '../src/store/lmdb-store.js';
import { type FlushSummary, flushTable } from '../src/store/table-store.js';
import { mainThreadCpuMs } from './main-thread-cpu.js';

const n = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 7);
const gc = globalThis.gc ?? ((): void => undefined);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(
  run: () => Promise<FlushSummary>,
): Promise<{ bytes: number; cpuMs: number; series: number; longestBlockMs: number }> {
  gc();
  const profiler = new v8.GCProfiler();
  const heapStart = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  const cpu0 = mainThreadCpuMs();
  const summary = await run();
  const cpuMs = mainThreadCpuMs() - cpu0;
  const heapEnd = v8.getHeapStatistics().used_heap_size;
  const gcs = profiler.stop()?.statistics ?? [];
  let bytes = 0;
  let after = heapStart;
  for (const g of gcs) {
    bytes += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - after);
    after = g.afterGC.heapStatistics.usedHeapSize;
  }
  bytes += Math.max(0, heapEnd - after);
  return { bytes, cpuMs, series: summary.series, longestBlockMs: summary.longestBlockMs };
}

async function scenario(kind: 'counter' | 'histogram'): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'flush-alloc-'));
  const store = MetricStore.open({ dataDir: path.join(dir, 's') });
  const registry = new Registry({ clock: new SliceClock(10_000, 0), seriesLimit: n + 1 });
  const counter = kind === 'counter' ? registry.counter('c', { labels: ['id'] }) : undefined;
  const histogram = kind === 'histogram' ? registry.histogram('h', { labels: ['id'] }) : undefined;
  const labels = Array.from({ length: n }, (_, i) => ({ id: String(i) }));
  const change = (round: number): void => {
    for (let i = 0; i < n; i++) {
      if (counter !== undefined) counter.inc(labels[i]);
      else histogram!.observe(labels[i]!, 5 + ((i + round) % 500));
    }
  };
  let at = 1_700_000_000_000;
  change(0);
  // Define every series first (the defining flushes are not what this measures).
  for (let left = Infinity; left > 0;) {
    const s = await flushTable(registry, store, (at += 1000), undefined, { defineBudgetMs: Infinity });
    left = s.pending + s.deferred;
  }
  const bytes: number[] = [];
  const cpu: number[] = [];
  const blocks: number[] = [];
  for (let r = 1; r <= rounds; r++) {
    change(r);
    // One budget's worth of series written per call: the first call of each change.
    const m = await measure(() => flushTable(registry, store, (at += 1000)));
    // The rest of the change, unmeasured, so every round starts from all series changed.
    for (let left = Infinity; left > 0;) {
      const s = await flushTable(registry, store, (at += 1000));
      left = s.pending + s.deferred;
    }
    bytes.push(m.bytes / m.series);
    cpu.push(m.cpuMs);
    blocks.push(m.longestBlockMs);
    if (r === 1) console.log(JSON.stringify({ kind, seriesPerCall: m.series }));
  }
  console.log(
    JSON.stringify({
      kind,
      n,
      bytesPerSeries: Math.round(median(bytes)),
      bytesPerSeriesAll: bytes.map(Math.round),
      mainCpuMsPerCall: Math.round(median(cpu)),
      mainCpuMsAll: cpu.map(Math.round),
      longestBlockMsAll: blocks.map(Math.round),
    }),
  );
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}

const kinds = (process.argv[4] ?? 'counter,histogram').split(',') as ('counter' | 'histogram')[];
for (const kind of kinds) await scenario(kind);
