/**
 * What `flushTable` allocates on the main thread per flushed series, counted in heap bytes, not
 * timed: the used heap's growth over one flush call, across the collections inside it
 * (v8.GCProfiler: each collection's heap before it, less the heap after the previous one), for
 * `SMALL` and for `LARGE` changed series; the difference per extra series is what each series
 * costs, without what every flush costs once (its columns, promises, the writer thread's message).
 * Concurrent sweeping can only lower a reading, so each size's least reading over the rounds is
 * the steady state (V8 optimises on a background thread that a loaded machine can hold back, and
 * unoptimised code boxes doubles). Both sizes are written by the writer thread (over SMALL_FLUSH_PUTS).
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/metrics/registry.js';
import { flushTable } from '../../src/store/table-store.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { tempStores } from './store-fixture.js';

/**
 * Heap bytes per flushed counter series the flush may allocate: measured 100-170 B here (msgpackr
 * boxes the value it encodes), 533 B when the batch was an `[id, { v }]` pair and a point object
 * per series (1,134 B at 100,000 series). An object per series put back fails it.
 */
export const COUNTER_BYTES_BUDGET = 256;
/**
 * Heap bytes per flushed histogram series (10 buckets, a few observations each): 3.2-3.7 KB
 * measured, most of it the metric's own handle, snapshot and last-minute sketch (histogram.ts,
 * window-stats.ts); ~6.0 KB with objects per series and per derived point and `Array.from`
 * copies of the buckets.
 */
export const HISTOGRAM_BYTES_BUDGET = 4_400;

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const T0 = 1_700_000_000_000;
const ROUNDS = 6;

let stores: ReturnType<typeof tempStores>;
afterEach(async () => {
  await stores.cleanup();
});

/** Heap bytes allocated while `run` runs (see the module header). */
async function allocatedBy(run: () => Promise<unknown>): Promise<number> {
  gc();
  const profiler = new v8.GCProfiler();
  const start = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  await run();
  const end = v8.getHeapStatistics().used_heap_size;
  let bytes = 0;
  let after = start;
  for (const g of profiler.stop()?.statistics ?? []) {
    bytes += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - after);
    after = g.afterGC.heapStatistics.usedHeapSize;
  }
  return bytes + Math.max(0, end - after);
}

/**
 * Bytes per flushed series: `make` declares `total` series in `registry` and returns `change(k,
 * round)`, which changes the first `k`; each flush writes exactly them (asserted). `small` and
 * `large` alternate, `ROUNDS` measured flushes each after two of each to warm up.
 */
async function bytesPerSeries(
  total: number,
  small: number,
  large: number,
  make: (registry: Registry, total: number) => (k: number, round: number) => void,
): Promise<number> {
  stores = tempStores();
  const store = stores.open();
  const { registry } = newRegistry(total + 1);
  const change = make(registry, total);
  let at = T0;
  change(total, 0);
  // Every series defined first: what is measured is a flush of known series.
  for (let left = Infinity; left > 0;) {
    const s = await flushTable(registry, store, (at += 1000), undefined, { defineBudgetMs: Infinity });
    left = s.pending + s.deferred;
  }
  const least = new Map([
    [small, Infinity],
    [large, Infinity],
  ]);
  for (let round = 1; round <= ROUNDS + 2; round++) {
    for (const k of [small, large]) {
      change(k, round);
      let written = 0;
      const bytes = await allocatedBy(async () => {
        written = (await flushTable(registry, store, (at += 1000))).series;
      });
      expect(written).toBe(k);
      if (round > 2) least.set(k, Math.min(least.get(k)!, bytes));
    }
  }
  return (least.get(large)! - least.get(small)!) / (large - small);
}

describe('flushTable allocation per flushed series', () => {
  it('counter series stay within the budget', async () => {
    const bytes = await bytesPerSeries(6000, 2000, 6000, (registry, total) => {
      const counter = registry.counter('jobs', { labels: ['id'] });
      const labels = Array.from({ length: total }, (_, i) => ({ id: String(i) }));
      return (k) => {
        for (let i = 0; i < k; i++) counter.inc(labels[i]);
      };
    });
    console.info(`flushTable: ${bytes.toFixed(1)} B per flushed counter series`);
    expect(bytes).toBeLessThanOrEqual(COUNTER_BYTES_BUDGET);
  });

  it('histogram series stay within the budget', async () => {
    const bytes = await bytesPerSeries(1200, 400, 1200, (registry, total) => {
      const histogram = registry.histogram('latency', { labels: ['id'] });
      const labels = Array.from({ length: total }, (_, i) => ({ id: String(i) }));
      return (k, round) => {
        for (let i = 0; i < k; i++) histogram.observe(labels[i]!, 5 + ((i + round) % 500));
      };
    });
    console.info(`flushTable: ${bytes.toFixed(1)} B per flushed histogram series`);
    expect(bytes).toBeLessThanOrEqual(HISTOGRAM_BYTES_BUDGET);
  });
});
