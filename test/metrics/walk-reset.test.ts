/**
 * A resumable walk is bound to one generation of a metric: a `reset` between two steps (or from
 * inside one) ends it, so readers that took the table once never pair a new series' key with an
 * old table's value, nor skip the new series' values into the wrong slots.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderChunks } from '../../src/exposition/exposition-chunks.js';
import { prometheusTextFormat } from '../../src/exposition/prometheus-text.js';
import { WALK_DONE } from '../../src/metrics/label-map.js';
import { flushTable } from '../../src/store/table-store.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from './table-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

/** Every `c_total{k="..."} v` line of an exposition, as [label value, value]. */
function samples(text: string): [string, number][] {
  return [...text.matchAll(/^c_total\{k="([^"]+)"\} (\S+)$/gm)].map((m) => [m[1]!, Number(m[2])]);
}

describe('walk across reset', () => {
  it('Metric.walk with the generation taken before a reset visits nothing after it', () => {
    const { registry } = newRegistry();
    const c = registry.counter('c', { labels: ['k'] });
    for (let i = 0; i < 10; i++) c.inc({ k: `old${i}` });
    const generation = c.generation;
    const seen: number[] = [];
    const pos = c.walk(0, 4, (slot) => seen.push(slot), generation);
    expect(pos).toBe(4);
    c.reset();
    for (let i = 0; i < 10; i++) c.inc({ k: `new${i}` });
    expect(c.walk(pos, 100, (slot) => seen.push(slot), generation)).toBe(WALK_DONE);
    expect(seen).toEqual([0, 1, 2, 3]);
    // A walk started after the reset sees the new series.
    const fresh: string[] = [];
    c.walk(0, 100, (slot) => fresh.push(c.keyAt(slot)), c.generation);
    expect(fresh).toEqual(Array.from({ length: 10 }, (_, i) => `c{k="new${i}"}`));
  });

  it('an exposition stream reset between chunks prints only values that belong to their keys', () => {
    const { registry } = newRegistry();
    const c = registry.counter('c', { labels: ['k'] });
    for (let i = 0; i < 3_000; i++) c.inc({ k: `old${i}` }, i + 1000);
    const chunks = renderChunks(registry, prometheusTextFormat, 500);
    let text = chunks.next().value as string;
    c.reset();
    for (let i = 0; i < 3_000; i++) c.inc({ k: `new${i}` }, 1);
    for (const chunk of chunks) text += chunk;
    const lines = samples(text);
    expect(lines.length).toBeGreaterThan(0);
    for (const [k, v] of lines) {
      // Before the fix the rest of the stream printed new1000 with old1000's value (2000).
      if (k.startsWith('old')) expect(v).toBe(Number(k.slice(3)) + 1000);
      else expect(v).toBe(1);
    }
    expect(new Set(lines.map(([k]) => k)).size).toBe(lines.length);
    // The next scrape has the whole new set.
    const next = samples([...renderChunks(registry, prometheusTextFormat, 500)].join(''));
    expect(next).toHaveLength(3_000);
    expect(next.every(([k, v]) => k.startsWith('new') && v === 1)).toBe(true);
  });

  it('flushTable with a reset during the walk stores each value under its own key and no id in the new table', async () => {
    const { registry } = newRegistry();
    const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-walk-reset-'));
    const store = MetricStore.open({ dataDir: dir });
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    cleanups.push(() => store.close());
    const c = registry.counter('c', { labels: ['k'] });
    for (let i = 0; i < 3_000; i++) c.inc({ k: `old${i}` }, i + 1000);
    // The reset happens while the walk is in progress: at the 1,001st definition of a series.
    const define = store.defineSeries.bind(store);
    let defined = 0;
    store.defineSeries = (...args: Parameters<MetricStore['defineSeries']>) => {
      if (++defined === 1_001) {
        c.reset();
        for (let i = 0; i < 3_000; i++) c.inc({ k: `new${i}` }, 1);
      }
      return define(...args);
    };
    await flushTable(registry, store, 1_000, memoryLogger(), { defineBudgetMs: 60_000 });
    store.defineSeries = define;
    const keyOf = (id: number): string => keys.get(id)!;
    let keys = new Map(store.seriesDefs().map((d) => [d.id, d.key]));
    const stored = store.loadCurrent();
    expect(stored.size).toBeGreaterThan(1_000);
    for (const [id, state] of stored) {
      const k = /k="([^"]+)"/.exec(keyOf(id))![1]!;
      expect((state as { v: number }).v).toBe(k.startsWith('old') ? Number(k.slice(3)) + 1000 : 1);
    }
    // No storeId of an old series landed in the new table: the next flush defines and writes every new series.
    const next = await flushTable(registry, store, 2_000, memoryLogger(), { defineBudgetMs: 60_000 });
    expect(next.series).toBe(3_000);
    keys = new Map(store.seriesDefs().map((d) => [d.id, d.key]));
    for (const [id, state] of store.loadCurrent()) {
      const k = /k="([^"]+)"/.exec(keyOf(id))![1]!;
      if (k.startsWith('new')) expect((state as { v: number }).v).toBe(1);
    }
  });
});
