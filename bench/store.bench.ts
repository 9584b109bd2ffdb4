/**
 * The store: one aggregation + LMDB flush of 1,000 / 10,000 / 100,000 changed series (main-thread
 * ms, the longest event-loop block, time to durable), and a 24 h history query (17,280 points at
 * 5 s) downsampled to 100 points.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { flushTable } from '../src/metrics/table-store.js';
import { MetricStore } from '../src/store/lmdb-store.js';
import type { Check, SuiteOptions, SuiteResult } from './harness.js';

/** SPEC §10: one aggregation + LMDB flush of 10,000 series costs at most this much main-thread time (ms). */
export const FLUSH_10K_TARGET_MS = 20;

async function withStore<T>(fn: (store: MetricStore) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-bench-'));
  const store = MetricStore.open({ dataDir: dir });
  try {
    return await fn(store);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Median of `rounds` flushes of `n` changed series (the first flush, defining them, is not
 * counted). `loopBlockMs` is measured independently of the code's own accounting: the largest
 * event-loop delay seen by a 1 ms monitor during the flush.
 */
export async function flushOf(n: number, kind: 'counter' | 'histogram' = 'counter', rounds = 3) {
  return withStore(async (store) => {
    const registry = new Registry({ seriesLimit: n + 1, logger: createLogger({ level: 'silent' }) });
    const c = registry.counter('requests', { labels: ['id'] });
    const h = registry.histogram('latency', { labels: ['id'] });
    const touch = kind === 'counter' ? (i: number) => c.inc({ id: i }) : (i: number) => h.observe(1 + (i % 500), { id: i });
    for (let i = 0; i < n; i++) touch(i);
    await flushTable(registry, store, Date.now());
    const runs = [];
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < n; i++) touch(i);
      const loop = monitorEventLoopDelay({ resolution: 1 });
      loop.enable();
      const result = await flushTable(registry, store, Date.now() + r + 1);
      loop.disable();
      runs.push({ ...result, loopBlockMs: Math.max(0, loop.max / 1e6 - 1) });
    }
    runs.sort((a, b) => a.mainThreadMs - b.mainThreadMs);
    return runs[Math.floor(rounds / 2)]!;
  });
}

async function rangeQuery() {
  return withStore(async (store) => {
    const id = store.defineSeries('s', { name: 's', type: 'gauge' });
    const t0 = Date.now() - 86_400_000;
    await store.flush({ points: Array.from({ length: 17_280 }, (_, i) => ({ id, ts: t0 + i * 5000, value: i % 100 })) });
    const times: number[] = [];
    for (let r = 0; r < 7; r++) {
      const start = performance.now();
      store.queryRange(id, t0, t0 + 86_400_000, 100);
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    return times[3]!;
  });
}

export async function storeSuite(options: SuiteOptions): Promise<SuiteResult> {
  const rounds = options.quick ? 3 : 5;
  const checks: Check[] = [];
  const figures: Record<string, unknown>[] = [];
  const lines = [
    '| operation | main thread | longest block (own count) | longest loop delay (1 ms monitor) | to durable |',
    '|---|---|---|---|---|',
  ];
  const cases: [number, 'counter' | 'histogram'][] = [[1_000, 'counter'], [10_000, 'counter'], [100_000, 'counter'], [10_000, 'histogram']];
  for (const [n, kind] of cases) {
    const f = await flushOf(n, kind, rounds);
    figures.push({ changed: n, kind, ...f });
    if (n === 10_000 && kind === 'counter') {
      checks.push({ name: 'flush of 10,000 changed counter series: main-thread time', measured: f.mainThreadMs, target: FLUSH_10K_TARGET_MS, better: 'lower', margin: 0.1, unit: ' ms' });
    }
    lines.push(
      `| flush of ${n.toLocaleString()} changed ${kind} series | ${f.mainThreadMs.toFixed(1)} ms | ${f.longestBlockMs.toFixed(1)} ms | ${f.loopBlockMs.toFixed(1)} ms | ${f.totalMs.toFixed(1)} ms |`,
    );
  }
  const queryMs = await rangeQuery();
  figures.push({ query: '24 h of one series downsampled to 100 points', ms: queryMs });
  lines.push(`| 24 h of one series (17,280 points) downsampled to 100 | ${queryMs.toFixed(2)} ms | | | |`);
  return {
    suite: `Store (bench/store.bench.ts), medians of ${rounds} flushes / 7 queries`,
    rows: [],
    table: lines.join('\n'),
    notes: ['Main thread: time the flush spends on the main thread in total; longest block: its own accounting of the longest synchronous stretch; to durable: until the writer thread\'s LMDB commit settled.'],
    checks,
    figures,
  };
}
