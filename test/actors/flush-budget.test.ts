import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { flushTable } from '../../src/store/table-store.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function tempStore(): MetricStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-flush-budget-'));
  const store = MetricStore.open({ dataDir: dir });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => store.close());
  return store;
}

describe('flushTable define budget', () => {
  it('defines new series within its budget, leaves the rest changed, and later flushes write every one', async () => {
    const { registry } = newRegistry();
    const store = tempStore();
    const c = registry.counter('jobs', { labels: ['id'] });
    const h = registry.histogram('wait', { labels: ['id'], buckets: [1, 10] });
    for (let i = 0; i < 20; i++) {
      c.inc({ id: String(i) }, i + 1);
      h.observe({ id: String(i) }, i);
    }
    const log = memoryLogger();
    // A budget of 0 ms still defines one series per flush (progress), and defers the others.
    const first = await flushTable(registry, store, 1_000, log, { defineBudgetMs: 0 });
    expect(first.series).toBe(1);
    expect(first.deferred).toBe(39);
    expect(log.records.some((r) => r.msg.startsWith('new series left for the next flush'))).toBe(true);
    let deferred = first.deferred;
    let flushes = 1;
    while (deferred > 0 && flushes < 100) {
      const summary = await flushTable(registry, store, 1_000 + flushes, log, { defineBudgetMs: 0 });
      expect(summary.deferred).toBe(deferred - 1);
      deferred = summary.deferred;
      flushes++;
    }
    expect(flushes).toBe(40);
    // Every value reached the store, with a history point, and nothing is written twice.
    const current = store.loadCurrent();
    for (let i = 0; i < 20; i++) {
      const id = store.seriesId(c.find({ id: String(i) })!.key)!;
      expect(current.get(id)).toEqual(c.find({ id: String(i) })!.snapshot());
      expect(store.latestAt(id, 2_000)?.[1]).toBe(i + 1);
    }
    expect((await flushTable(registry, store, 5_000, log, { defineBudgetMs: 0 })).series).toBe(0);
  });

  it('writes every changed series of a known set in one flush: the budget only bounds new definitions', async () => {
    const { registry } = newRegistry();
    const store = tempStore();
    const c = registry.counter('jobs', { labels: ['id'] });
    for (let i = 0; i < 50; i++) c.inc({ id: String(i) });
    await flushTable(registry, store, 1_000);
    for (let i = 0; i < 50; i++) c.inc({ id: String(i) });
    const again = await flushTable(registry, store, 2_000, undefined, { defineBudgetMs: 0 });
    expect(again).toMatchObject({ series: 50, points: 50, deferred: 0 });
  });
});
