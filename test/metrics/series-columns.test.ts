/**
 * Counter and gauge series live in columns indexed by slot, with handles made on demand: handles
 * made at different times share one series' state, reset leaves old handles working but
 * unreported, and the state survives a flush and a restore through a real store at many series.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { flushTable, restoreTable } from '../../src/store/table-store.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from './table-fixture.js';

const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];
const labelsAt = (i: number) => ({
  route: `/api/r${Math.floor(i / 40)}`,
  method: METHODS[i % 4]!,
  status: String(200 + (Math.floor(i / 4) % 10)),
});

describe('series in columns', () => {
  it('gives handles made at different times one shared state, over every chunk size', () => {
    const { registry } = newRegistry(20_000);
    const c = registry.counter('req_total', { labels: ['route', 'method', 'status'] });
    const n = 12_000; // past the doubling chunks (8,184 slots) into the fixed ones
    const bound = Array.from({ length: n }, (_, i) => c.bind(labelsAt(i)));
    for (let i = 0; i < n; i++) bound[i]!.inc(i);
    for (let i = 0; i < n; i += 7) c.inc(labelsAt(i), 0.5);
    for (let i = 0; i < n; i++) expect(c.get(labelsAt(i))).toBe(i + (i % 7 === 0 ? 0.5 : 0));
    const listed = c.series();
    expect(listed).toHaveLength(n);
    expect(listed[4_321]!.labels).toEqual(labelsAt(4_321));
    expect(listed[4_321]!.value).toBe(4_321);
    expect(c.find(labelsAt(9_999))!.key).toBe(`req_total{route="/api/r249",method="DELETE",status="209"}`);
  });

  it('interns label values: a number and its decimal string name one series', () => {
    const { registry } = newRegistry();
    const g = registry.gauge('temp', { labels: ['room', 'floor'] });
    g.set({ room: 'a', floor: 1 }, 20);
    g.inc({ room: 'a', floor: '1' }, 2);
    g.set({ room: 'b', floor: 1 }, 5);
    expect(g.series().map((s) => [s.labels, s.value])).toEqual([
      [{ room: 'a', floor: '1' }, 22],
      [{ room: 'b', floor: '1' }, 5],
    ]);
  });

  it('reset forgets every series; a handle made before keeps working, unreported, with its labels', () => {
    const { registry } = newRegistry();
    const c = registry.counter('jobs_total', { labels: ['queue'] });
    const old = c.bind({ queue: 'mail' });
    old.inc(3);
    c.reset();
    expect(c.series()).toEqual([]);
    old.inc(2);
    expect(old.value).toBe(5);
    expect(old.labels).toEqual({ queue: 'mail' });
    expect(c.get({ queue: 'mail' })).toBeUndefined();
    c.inc({ queue: 'sms' });
    expect(c.series().map((s) => [s.labels.queue, s.value])).toEqual([['sms', 1]]);
    expect(old.value).toBe(5);
  });

  it('flushes 30,000 counter and gauge series to a real store and restores them, values, versions and store ids', async () => {
    const n = 15_000;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-series-columns-'));
    const store = MetricStore.open({ dataDir: dir });
    try {
      const a = newRegistry(n);
      const c = a.registry.counter('req_total', { labels: ['route', 'method', 'status'] });
      const g = a.registry.gauge('inflight', { labels: ['route', 'method', 'status'] });
      for (let i = 0; i < n; i++) {
        c.inc(labelsAt(i), i + 1);
        g.set(labelsAt(i), -i - 0.5);
      }
      // No define or write budget: this flush must define and write all of them whatever the machine's load.
      const first = await flushTable(a.registry, store, 1_000, undefined, {
        defineBudgetMs: Infinity,
        maxSeriesPerFlush: Infinity,
      });
      expect(first).toMatchObject({ series: 2 * n, deferred: 0, pending: 0 });
      // Nothing changed: the versions flushed say so.
      expect(c.series().every((s) => !s.changedSinceFlush())).toBe(true);
      c.inc(labelsAt(77));
      expect(
        c
          .series()
          .filter((s) => s.changedSinceFlush())
          .map((s) => s.labels),
      ).toEqual([labelsAt(77)]);
      await flushTable(a.registry, store, 2_000);

      const b = newRegistry(n);
      expect(restoreTable(b.registry, store, memoryLogger())).toEqual({ restored: 2 * n, skipped: 0 });
      const c2 = b.registry.counter('req_total', { labels: ['route', 'method', 'status'] });
      const g2 = b.registry.gauge('inflight', { labels: ['route', 'method', 'status'] });
      for (let i = 0; i < n; i += 13) {
        expect(c2.get(labelsAt(i))).toBe(i + 1 + (i === 77 ? 1 : 0));
        expect(g2.get(labelsAt(i))).toBe(-i - 0.5);
      }
      expect(c2.get(labelsAt(77))).toBe(79);
      const restored = c2.find(labelsAt(5))!;
      expect(restored.storeId).toBe(c.find(labelsAt(5))!.storeId);
      expect(restored.changedSinceFlush()).toBe(false);
      restored.inc();
      expect(c2.find(labelsAt(5))!.changedSinceFlush()).toBe(true);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
