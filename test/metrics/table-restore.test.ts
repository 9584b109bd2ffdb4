/**
 * restoreTable on a store a SIGKILL left half-written: series definitions committed, their
 * current values not (the definition is its own write, ahead of the flush that was killed).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { flushTable, restoreTable } from '../../src/store/table-store.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { newRegistry } from './table-fixture.js';

const GC = {
  help: 'Garbage collection pauses',
  unit: 'ms',
  labels: ['kind'],
  buckets: [0.1, 0.5, 1, 5, 10, 50, 100, 500],
};

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-table-restore-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openStore(dir: string): MetricStore {
  const store = MetricStore.open({ dataDir: dir });
  cleanups.push(() => store.close());
  return store;
}

/** The store key a series of `system.gc.pause` gets, as flushTable would define it. */
function gcKey(kind: string): string {
  return newRegistry().registry.histogram('system.gc.pause', GC).bind({ kind }).key;
}

describe('restoreTable', () => {
  it('lets the first declaration set the buckets of a histogram restored without any value (definitions committed, first flush killed)', async () => {
    const dir = tempDir();
    const killed = MetricStore.open({ dataDir: dir });
    const ids = ['minor', 'major'].map((kind) =>
      killed.defineSeries(gcKey(kind), {
        name: 'system.gc.pause',
        type: 'histogram',
        help: GC.help,
        unit: GC.unit,
        labels: { kind },
      }),
    );
    await killed.close();

    const store = openStore(dir);
    expect(store.loadCurrent().size).toBe(0);
    const { registry, logger } = newRegistry();
    // No value to keep: not recreated, so the source's declaration below decides the buckets.
    expect(restoreTable(registry, store, logger)).toEqual({ restored: 0, skipped: 0 });
    const gc = registry.histogram('system.gc.pause', GC);
    expect(gc.buckets).toEqual(GC.buckets);
    expect(logger.records.filter((r) => r.level === 'warn' || r.level === 'error')).toEqual([]);

    gc.observe({ kind: 'minor' }, 3);
    await flushTable(registry, store, 1_000);
    // The flush found the stored definition by key: same id, no second series.
    expect(gc.find({ kind: 'minor' })!.storeId).toBe(ids[0]);
    expect(store.seriesDefs().filter((d) => d.name === 'system.gc.pause')).toHaveLength(2);
    const again = newRegistry();
    expect(restoreTable(again.registry, store, again.logger)).toEqual({ restored: 2, skipped: 0 });
    const restored = again.registry.histogram('system.gc.pause', GC);
    expect(restored.get({ kind: 'minor' })).toMatchObject({ count: 1, sum: 3 });
  });

  it('takes the buckets from the series that has a value when another series of the histogram has none', async () => {
    const dir = tempDir();
    const first = openStore(dir);
    // A series whose first flush never committed, stored ahead of the one with a value.
    first.defineSeries(gcKey('incremental'), {
      name: 'system.gc.pause',
      type: 'histogram',
      help: GC.help,
      unit: GC.unit,
      labels: { kind: 'incremental' },
    });
    const a = newRegistry();
    a.registry.histogram('system.gc.pause', GC).observe({ kind: 'major' }, 7);
    await flushTable(a.registry, first, 1_000);
    await first.close();

    const store = openStore(dir);
    const { registry, logger } = newRegistry();
    expect(restoreTable(registry, store, logger)).toEqual({ restored: 2, skipped: 0 });
    const gc = registry.histogram('system.gc.pause', GC);
    expect(gc.buckets).toEqual(GC.buckets);
    expect(gc.get({ kind: 'major' })).toMatchObject({ count: 1, sum: 7 });
    expect(gc.find({ kind: 'incremental' })).toBeDefined();
  });

  it('leaves a metric with several stored series to its owner (own() is refused for a name the application declared)', async () => {
    const dir = tempDir();
    const first = openStore(dir);
    const a = newRegistry();
    const declare = (registry: typeof a.registry) =>
      registry.own('instrument.test', ['test.requests'], () =>
        registry.counter('test.requests', { help: 'Requests', labels: ['route'] }),
      );
    const requests = declare(a.registry);
    requests.inc({ route: '/a' }, 2);
    requests.inc({ route: '/b' }, 3);
    await flushTable(a.registry, first, 1_000);
    await first.close();

    const store = openStore(dir);
    const { registry, logger } = newRegistry();
    expect(restoreTable(registry, store, logger)).toEqual({ restored: 2, skipped: 0 });
    const again = declare(registry);
    expect(registry.ownerOf('test.requests')).toBe('instrument.test');
    expect([again.get({ route: '/a' }), again.get({ route: '/b' })]).toEqual([2, 3]);
  });
});
