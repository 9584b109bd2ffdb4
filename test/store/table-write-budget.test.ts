/**
 * flushTable's write budget: one flush writes at most `maxSeriesPerFlush` changed series (a
 * histogram counting 6, a series still to define 5 times as much), leaves the rest changed and says how many (`pending`), and the next
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
    const keys = [
      ...Array.from({ length: 10 }, (_, i) => `jobs{i="${i}"}`),
      ...Array.from({ length: 10 }, (_, i) => `depth{i="${i}"}`),
    ];
    const value = (key: string): number =>
      key.startsWith('jobs') ? Number(/\d+/.exec(key)![0]) + 1 : -Number(/\d+/.exec(key)![0]);
    const storedKeys = () =>
      durable(dir, (store) =>
        keys.filter((k) => store.seriesId(k) !== undefined && store.latest(store.seriesId(k)!) !== undefined),
      );

    // New series cost 5 each (their definition): a budget of 11 defines and writes two.
    expect(await flushOnce(dir, registry, 1_000, 11)).toMatchObject({ series: 2, pending: 18, deferred: 0, points: 2 });
    expect(await storedKeys()).toEqual(keys.slice(0, 2));
    expect(await flushOnce(dir, registry, 2_000, 100)).toMatchObject({ series: 18, pending: 0 });
    const stored = await durable(dir, (store) => keys.map((k) => store.latest(store.seriesId(k)!)![1]));
    expect(stored).toEqual(keys.map(value));

    // Known series cost 1: every one changed, a budget of 7 writes 7, from where the last flush
    // stopped (it had nothing left: where the one before stopped, the third key).
    for (let i = 0; i < 10; i++) {
      c.inc({ i: String(i) }, 10);
      g.set({ i: String(i) }, 10 * i + 1);
    }
    const writtenAt = (at: number) =>
      durable(dir, (store) => keys.filter((k) => store.latest(store.seriesId(k)!)![0] === at));
    expect(await flushOnce(dir, registry, 3_000, 7)).toMatchObject({ series: 7, pending: 13, deferred: 0, points: 7 });
    expect(await writtenAt(3_000)).toEqual(keys.slice(2, 9));
    expect(await flushOnce(dir, registry, 4_000, 7)).toMatchObject({ series: 7, pending: 6 });
    expect(await writtenAt(4_000)).toEqual(keys.slice(9, 16));
    expect(await flushOnce(dir, registry, 5_000, 7)).toMatchObject({ series: 6, pending: 0 });
    expect(await writtenAt(5_000)).toEqual([...keys.slice(0, 2), ...keys.slice(16)]);
    const again = await durable(dir, (store) => keys.map((k) => store.latest(store.seriesId(k)!)![1]));
    expect(again).toEqual(keys.map((k) => (k.startsWith('jobs') ? value(k) + 10 : -10 * value(k) + 1)));
    // Everything written: an unchanged table writes nothing.
    expect(await flushOnce(dir, registry, 6_000, 7)).toMatchObject({ series: 0, pending: 0 });
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
    for (const m of sets) for (let i = 0; i < perSet; i++) m.inc({ i: String(i) });
    expect(await flushOnce(dir, registry, 0, 1_000)).toMatchObject({ series: total, pending: 0 });
    for (let round = 1; round <= rounds; round++) {
      for (const m of sets) for (let i = 0; i < perSet; i++) m.inc({ i: String(i) });
      const at = round * 1_000;
      const summary = await flushOnce(dir, registry, at, budget);
      expect(summary).toMatchObject({ series: budget, pending: total - budget });
      const writtenNow = await durable(dir, (store) =>
        keys.filter((k) => store.seriesId(k) !== undefined && store.latest(store.seriesId(k)!)?.[0] === at),
      );
      expect(writtenNow).toHaveLength(budget);
      for (const k of writtenNow) lastWritten.set(k, round);
      // From the flush where every series could have had its turn on, none waits longer than that.
      if (round >= Math.ceil(total / budget)) {
        for (const k of keys)
          expect(round - lastWritten.get(k)!, `${k} at round ${round}`).toBeLessThan(Math.ceil(total / budget));
      }
    }
  });

  it('counts a histogram series as 6 (its state and derived points), 30 while still to define, and still writes one per flush when the budget is smaller', async () => {
    const dir = tempDir();
    const { registry } = newRegistry();
    const h = registry.histogram('latency', { labels: ['route'], buckets: [10, 100] });
    for (const route of ['a', 'b', 'c']) h.observe({ route }, 5);
    const c = registry.counter('hits');
    c.inc();
    // Still to define: 30 each (6 series defined).
    expect(await flushOnce(dir, registry, 500, 61)).toMatchObject({ series: 2, pending: 2 });
    expect(await flushOnce(dir, registry, 600, 1_000)).toMatchObject({ series: 2, pending: 0 });
    for (const route of ['a', 'b', 'c']) h.observe({ route }, 5);
    c.inc();
    // The cursor is still at route c, where the flush at 500 stopped: c (6), hits (1), then a (6).
    expect(await flushOnce(dir, registry, 1_000, 13)).toMatchObject({ series: 3, pending: 1 });
    // A budget smaller than a histogram still writes one.
    expect(await flushOnce(dir, registry, 2_000, 3)).toMatchObject({ series: 1, pending: 0 });
    const counts = await durable(dir, (store) =>
      ['a', 'b', 'c'].map((route) => store.latest(store.seriesId(derivedKey(`latency{route="${route}"}`, 'count'))!)),
    );
    expect(counts).toEqual([
      [1_000, 2],
      [2_000, 2],
      [1_000, 2],
    ]);
    expect(await durable(dir, (store) => store.latest(store.seriesId('hits')!))).toEqual([1_000, 2]);
  });
});
