/**
 * flushTable's columns through a real LMDB store and back: counters, gauges (negative, fractional,
 * huge) and histograms flushed, the store closed and reopened, the table restored into a new
 * registry; every series reads as it did, on the main-thread path and the writer-thread path, and
 * a flush that failed leaves its series changed so the next one writes them.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import type { Registry } from '../../src/metrics/registry.js';
import { MetricStore, SMALL_FLUSH_PUTS } from '../../src/store/lmdb-store.js';
import { flushTable, restoreTable, TableFlushFailed } from '../../src/store/table-store.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { tempStores } from './store-fixture.js';

const T0 = 1_700_000_000_000;
const GAUGES = [0, -1, 0.1, -2.5e-300, 1e300, -1e300, 2 ** 53 + 2, 123_456.789];

let stores: ReturnType<typeof tempStores>;
beforeEach(() => {
  stores = tempStores();
});
afterEach(async () => {
  await stores.cleanup();
});

/** Every series of `registry`: metric, key and its stored form (`snapshot()`). */
function readings(registry: Registry): [string, string, unknown][] {
  return registry
    .metrics()
    .flatMap((m) => m.series().map((s) => [m.name, s.key, s.snapshot()] as [string, string, unknown]))
    .sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
}

function fill(registry: Registry, series: number): void {
  const jobs = registry.counter('jobs', { labels: ['i'] });
  const level = registry.gauge('level', { labels: ['i'] });
  const latency = registry.histogram('latency', { labels: ['i'], buckets: [1, 10, 100] });
  for (let i = 0; i < series; i++) {
    const labels = { i: String(i) };
    jobs.inc(labels, i === 0 ? 2 ** 53 : i * 0.5 + 1);
    level.set(labels, GAUGES[i % GAUGES.length]);
    if (i % 7 === 0) for (let k = 0; k <= i % 13; k++) latency.observe(labels, k * 3.3 + i / 10);
  }
}

describe.each([
  { path: 'main thread', series: 20 },
  { path: 'writer thread', series: SMALL_FLUSH_PUTS },
])('flushTable, reopen, restoreTable ($path)', ({ series }) => {
  it('restores every series as it read before', async () => {
    const { registry } = newRegistry();
    fill(registry, series);
    const store = stores.open();
    const first = await flushTable(registry, store, T0);
    expect(first).toMatchObject({ pending: 0, deferred: 0 });
    // A second flush with changes: the reused buffers and objects must not leak one flush into the next.
    registry.gauge('level', { labels: ['i'] }).set({ i: '1' }, -7.25);
    registry.counter('jobs', { labels: ['i'] }).inc({ i: '2' }, 1);
    await flushTable(registry, store, T0 + 10_000);
    const before = readings(registry);
    await store.close();

    const reopened = stores.open();
    const again = newRegistry();
    expect(restoreTable(again.registry, reopened, again.logger)).toEqual({
      restored: before.length,
      skipped: 0,
    });
    const after = readings(again.registry);
    expect(after).toEqual(before);
    expect(again.registry.gauge('level', { labels: ['i'] }).get({ i: '1' })).toBe(-7.25);
    const id = reopened.seriesId(registry.counter('jobs', { labels: ['i'] }).bind({ i: '2' }).key)!;
    expect(reopened.queryRange(id, T0, T0 + 10_000, 10)).toEqual([
      [T0, 2],
      [T0 + 10_000, 3],
    ]);
  });
});

describe('flushTable after a failed flush', () => {
  it('writes again the series the failed flush did not make durable', async () => {
    const { registry } = newRegistry();
    fill(registry, 30);
    const store = stores.open();
    await flushTable(registry, store, T0);
    const jobs = registry.counter('jobs', { labels: ['i'] });
    jobs.inc({ i: '3' }, 5);
    registry.histogram('latency', { labels: ['i'], buckets: [1, 10, 100] }).observe({ i: '7' }, 50);
    const failing = Object.create(store) as MetricStore;
    failing.defineSeries = (key, input) => store.defineSeries(key, input);
    failing.flush = () => Promise.reject(new MonitorError(ErrorCode.StoreFailed, 'flush: the commit failed: ENOSPC'));
    await expect(flushTable(registry, failing, T0 + 10_000)).rejects.toBeInstanceOf(TableFlushFailed);
    const retried = await flushTable(registry, store, T0 + 20_000);
    expect(retried.series).toBe(2);
    const before = readings(registry);
    await store.close();
    const reopened = stores.open();
    const again = newRegistry();
    restoreTable(again.registry, reopened, again.logger);
    expect(readings(again.registry)).toEqual(before);
  });
});

describe('flushTable on a store closed under it', () => {
  it('fails as TableFlushFailed and leaves every series for the flush to the reopened store', async () => {
    const { registry } = newRegistry();
    fill(registry, 30);
    const store = stores.open();
    await flushTable(registry, store, T0);
    registry.counter('jobs', { labels: ['i'] }).inc({ i: '3' }, 5);
    registry.gauge('level', { labels: ['i'] }).set({ i: '4' }, 99);
    registry.histogram('latency', { labels: ['i'], buckets: [1, 10, 100] }).observe({ i: '7' }, 50);
    await store.close();
    const failed = flushTable(registry, store, T0 + 10_000);
    await expect(failed).rejects.toBeInstanceOf(TableFlushFailed);
    await expect(failed).rejects.toMatchObject({ series: 3, code: ErrorCode.StoreFailed });
    const reopened = stores.open();
    expect((await flushTable(registry, reopened, T0 + 20_000)).series).toBe(3);
    const before = readings(registry);
    await reopened.close();
    const again = newRegistry();
    restoreTable(again.registry, stores.open(), again.logger);
    expect(readings(again.registry)).toEqual(before);
  });
});

describe('flushTable with a store of another copy of the package', () => {
  it('writes its series (two installed copies: the store module is not the one flushTable imports)', async () => {
    vi.resetModules();
    const other = await import('../../src/store/lmdb-store.js');
    expect(other.MetricStore).not.toBe(MetricStore);
    const store = other.MetricStore.open({ dataDir: stores.dir });
    try {
      const { registry } = newRegistry();
      fill(registry, 20);
      const summary = await flushTable(registry, store, T0);
      expect(summary.series).toBe(20 + 20 + 3);
      const jobs = store.seriesId(registry.counter('jobs', { labels: ['i'] }).bind({ i: '4' }).key)!;
      expect(store.queryRange(jobs, T0, T0, 10)).toEqual([[T0, 3]]);
    } finally {
      await store.close();
    }
  });
});
