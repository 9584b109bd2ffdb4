/**
 * The series kinds the store's density is measured on (issue 15): a 2-decimal random walk (CPU %,
 * latency-like), small-step counters, constant series, and histogram-derived series (`#count`,
 * `#sum`, `#p50`, `#p95`, `#p99` as `flushTable` writes them, from the real Histogram and sketch).
 * Seeded, so every run sees the same values.
 */
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { SliceClock } from '../src/metrics/slice-clock.js';
import { flushTable } from '../src/store/table-store.js';
import type { MetricStore } from '../src/store/lmdb-store.js';
import type { FlushBatch, SeriesInput } from '../src/store/types.js';
import { mulberry32 } from './prng.js';

export type SeriesKind = 'walk' | 'counter' | 'constant' | 'histogram';
/** One series' points: ascending ts (ms), one value each. */
export interface SeriesPoints {
  ts: number[];
  values: number[];
}
/** Timestamp of the first interval; the bench shifts it to end near now. */
export const T0 = 1_700_000_000_000;
export const INTERVAL_MS = 5_000;
export const SERIES_KINDS: readonly SeriesKind[] = ['walk', 'counter', 'constant', 'histogram'];

function gaussian(rnd: () => number): () => number {
  return () => {
    let u = 0;
    while (u === 0) u = rnd();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rnd());
  };
}

/**
 * `count` series of (up to) `points` points each, one per 5 s interval from `t0`.
 * - walk: CPU %-like, starts in 5..95, steps N(0, 0.5) rounded to 0.01, kept in 0..100.
 * - counter: starts in 0..10^6, grows by 0..9 per interval.
 * - constant: one value per series (1, 0, 100, 0.5 …).
 * - histogram: `ceil(count / 5)` latency histograms, 0..40 observations per interval (lognormal,
 *   median ~12 ms, full float precision as `performance.now()` differences give), read as the
 *   5 derived series `flushTable` writes (an interval without observations writes none).
 */
export async function seriesOf(
  kind: SeriesKind,
  count: number,
  points: number,
  t0 = T0,
  seed = 1,
): Promise<SeriesPoints[]> {
  if (kind === 'histogram') {
    const rnd = mulberry32(seed);
    return (await histogramDerived(Math.ceil(count / 5), points, t0, rnd, gaussian(rnd))).slice(0, count);
  }
  const ts = Array.from({ length: points }, (_, i) => t0 + i * INTERVAL_MS);
  return seriesValues(kind, count, points, seed).map((values) => ({ ts, values }));
}

function seriesValues(kind: Exclude<SeriesKind, 'histogram'>, count: number, points: number, seed: number): number[][] {
  const rnd = mulberry32(seed);
  const gauss = gaussian(rnd);
  switch (kind) {
    case 'walk':
      return Array.from({ length: count }, () => {
        let v = Math.round(5 + rnd() * 90);
        return Array.from(
          { length: points },
          () => (v = Math.min(100, Math.max(0, Math.round((v + gauss() * 0.5) * 100) / 100))),
        );
      });
    case 'counter':
      return Array.from({ length: count }, () => {
        let v = Math.floor(rnd() * 1e6);
        return Array.from({ length: points }, () => (v += Math.floor(rnd() * 10)));
      });
    case 'constant':
      return Array.from({ length: count }, (_, i) => new Array<number>(points).fill([1, 0, 100, 0.5, 42][i % 5]!));
  }
}

/** Runs real histograms through `flushTable` into a recorder and returns each derived series' values. */
async function histogramDerived(
  histograms: number,
  points: number,
  t0: number,
  rnd: () => number,
  gauss: () => number,
): Promise<SeriesPoints[]> {
  const clock = new SliceClock(10_000, t0);
  const registry = new Registry({ logger: createLogger({ level: 'silent' }), clock });
  const h = registry.histogram('latency', { labels: ['route'] });
  const byId = new Map<number, SeriesPoints>();
  let nextId = 0;
  const recorder = {
    defineSeries: (_key: string, _input: SeriesInput) => ++nextId,
    flush: async (batch: FlushBatch) => {
      for (const p of batch.points ?? []) {
        let series = byId.get(p.id);
        if (series === undefined) byId.set(p.id, (series = { ts: [], values: [] }));
        series.ts.push(p.ts);
        series.values.push(p.value);
      }
      return { points: batch.points?.length ?? 0, mainThreadMs: 0, longestBlockMs: 0, totalMs: 0 };
    },
  } as unknown as MetricStore;
  for (let i = 0; i < points; i++) {
    const now = t0 + i * INTERVAL_MS;
    clock.tick(now);
    for (let r = 0; r < histograms; r++) {
      const n = Math.floor(rnd() * 41);
      for (let k = 0; k < n; k++) h.observe(Math.exp(2.5 + 0.6 * gauss()), { route: `/r${r}` });
    }
    await flushTable(registry, recorder, now);
  }
  return [...byId.values()];
}
