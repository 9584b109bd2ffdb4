/**
 * flushTable's write budget: one flush writes at most `maxSeriesPerFlush` changed series (a
 * histogram counting 6), leaves the rest changed and says how many (`pending`), and the next
 * flushes start where it stopped, so with more changes than a budget no series starves. What a
 * flush wrote is durable once it resolved: checked in a reopened store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Registry } from '../../src/metrics/registry.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { derivedKey, flushTable } from '../../src/store/table-store.js';
import { newRegistry } from '../metrics/table-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-write-budget-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The store under `dir`, opened again: what it holds is what the last flush made durable. */
async function durable<T>(dir: string, read: (store: MetricStore) => T): Promise<T> {
  const store = MetricStore.open({ dataDir: dir });
  try {
    return read(store);
  } finally {
    await store.close();
  }
}

/** One flush through a store opened for it and closed after (so the next check reopens the files). */
async function flushOnce(dir: string, registry: Registry, at: number, maxSeriesPerFlush: number) {
  const store = MetricStore.open({ dataDir: dir });
  try {
    return await flushTable(registry, store, at, undefined, { maxSeriesPerFlush, defineBudgetMs: Infinity });
  } finally {
    await store.close();
  }
}

describe('flushTable write budget', () => {
  it('writes exactly the budget, counts the rest as pending, and writes the rest in walk order in the next flushes', async () => {
    const dir = tempDir();
    const { registry } = newRegistry();
    const c = registry.counter('jobs', { labels: ['i'] });
    const g = registry.gauge('depth', { labels: ['i'] });
    for (let i = 0; i < 10; i++) {
      c.inc({ i: String(i) }, i + 1);
      g.set({ i: String(i) }, -i);
    }
    const keys = [...Array.from({ length: 10 }, (_, i) => `jobs{i="${i}"}`), ...Array.from({ length: 10 }, (_, i) => `depth{i="${i}"}`)];
    const value = (key: string): number => (key.startsWith('jobs') ? Number(/\d+/.exec(key)![0]) + 1 : -Number(/\d+/.exec(key)![0]));
    const storedKeys = () => durable(dir, (store) => keys.filter((k) => store.seriesId(k) !== undefined && store.latest(store.seriesId(k)!) !== undefined));

    expect(await flushOnce(dir, registry, 1_000, 7)).toMatchObject({ series: 7, pending: 13, deferred: 0, points: 7 });
    expect(await storedKeys()).toEqual(keys.slice(0, 7));
    expect(await flushOnce(dir, registry, 2_000, 7)).toMatchObject({ series: 7, pending: 6 });
    expect(await storedKeys()).toEqual(keys.slice(0, 14));
    expect(await flushOnce(dir, registry, 3_000, 7)).toMatchObject({ series: 6, pending: 0 });
    expect(await storedKeys()).toEqual(keys);
    const stored = await durable(dir, (store) => keys.map((k) => store.latest(store.seriesId(k)!)![1]));
    expect(stored).toEqual(keys.map(value));
    // Everything written: an unchanged table writes nothing.
    expect(await flushOnce(dir, registry, 4_000, 7)).toMatchObject({ series: 0, pending: 0 });
  });

  it('starves no series: three sets changing before every flush are each written within ceil(total / budget) flushes', async () => {
    const dir = tempDir();
    const { registry } = newRegistry();
    const sets = ['a', 'b', 'c'].map((name) => registry.counter(name, { labels: ['i'] }));
    const perSet = 5;
    const total = sets.length * perSet;
    const budget = 4;
    const rounds = 12;
    const keys = sets.flatMap((m) => Array.from({ length: perSet }, (_, i) => `${m.name}{i="${i}"}`));
    const lastWritten = new Map(keys.map((k) => [k, 0]));
    for (let round = 1; round <= rounds; round++) {
      for (const m of sets) for (let i = 0; i < perSet; i++) m.inc({ i: String(i) });
      const at = round * 1_000;
      const summary = await flushOnce(dir, registry, at, budget);
      expect(summary).toMatchObject({ series: budget, pending: total - budget });
      const writtenNow = await durable(dir, (store) => keys.filter((k) => store.seriesId(k) !== undefined && store.latest(store.seriesId(k)!)?.[0] === at));
      expect(writtenNow).toHaveLength(budget);
      for (const k of writtenNow) lastWritten.set(k, round);
      // From the flush where every series could have had its turn on, none waits longer than that.
      if (round >= Math.ceil(total / budget)) {
        for (const k of keys) expect(round - lastWritten.get(k)!, `${k} at round ${round}`).toBeLessThan(Math.ceil(total / budget));
      }
    }
  });

  it('counts a histogram series as 6 (its state and derived points) and still writes one per flush when the budget is smaller', async () => {
    const dir = tempDir();
    const { registry } = newRegistry();
    const h = registry.histogram('latency', { labels: ['route'], buckets: [10, 100] });
    for (const route of ['a', 'b', 'c']) h.observe({ route }, 5);
    const c = registry.counter('hits');
    c.inc();
    expect(await flushOnce(dir, registry, 1_000, 13)).toMatchObject({ series: 2, pending: 2 });
    expect(await flushOnce(dir, registry, 2_000, 3)).toMatchObject({ series: 1, pending: 1 });
    expect(await flushOnce(dir, registry, 3_000, 7)).toMatchObject({ series: 1, pending: 0 });
    const counts = await durable(dir, (store) => ['a', 'b', 'c'].map((route) => store.latest(store.seriesId(derivedKey(`latency{route="${route}"}`, 'count'))!)));
    expect(counts).toEqual([
      [1_000, 1],
      [1_000, 1],
      [2_000, 1],
    ]);
    expect(await durable(dir, (store) => store.latest(store.seriesId('hits')!))).toEqual([3_000, 1]);
  });
});
