import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RESTORED_BUCKETS, SMALL_KEYS } from '../../src/metrics/histogram-table.js';
import { type HistogramSeries, WINDOWS } from '../../src/metrics/histogram.js';
import { Sketch, SlidingSketch } from '../../src/metrics/sketch.js';
import { flushTable, restoreTable } from '../../src/store/table-store.js';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import type { SliceClock } from '../../src/metrics/slice-clock.js';
import { memoryLogger, mulberry32 } from '../helpers.js';
import { newRegistry } from './table-fixture.js';

/** What the series' sketches would hold had they been objects from the start. */
class Reference {
  readonly sketch = new Sketch();
  readonly window: SlidingSketch;
  constructor(clock: SliceClock) {
    this.window = new SlidingSketch(clock, Math.ceil(WINDOWS['5m'] / clock.sliceMs));
  }
  observe(v: number): void {
    this.sketch.add(v);
    this.window.add(v);
  }
  view() {
    const qs = [0, 0.5, 0.95, 0.99, 0.999, 1];
    return {
      all: qs.map((q) => this.sketch.quantile(q)),
      count: this.sketch.count,
      windows: Object.values(WINDOWS).map((ms) => [
        this.window.count(ms),
        ...qs.map((q) => this.window.quantile(q, ms)),
      ]),
    };
  }
}

function viewOf(series: { sketch: Sketch; window: SlidingSketch }) {
  const qs = [0, 0.5, 0.95, 0.99, 0.999, 1];
  return {
    all: qs.map((q) => series.sketch.quantile(q)),
    count: series.sketch.count,
    windows: Object.values(WINDOWS).map((ms) => [
      series.window.count(ms),
      ...qs.map((q) => series.window.quantile(q, ms)),
    ]),
  };
}

describe('HistogramTable', () => {
  it('keeps a series observed a few times in one slice without sketch objects, answering as the sketches would', () => {
    const { registry, clock } = newRegistry();
    const h = registry.histogram('rt', { labels: ['route'] });
    const ref = new Reference(clock);
    for (let i = 0; i < SMALL_KEYS; i++) {
      h.observe({ route: '/a' }, 3 + i * 40);
      ref.observe(3 + i * 40);
    }
    expect(h.table.sketches[0]).toBeUndefined();
    expect(viewOf(h.find({ route: '/a' })!)).toEqual(ref.view());
    // The window forgets the first-slice keys as the window moves past their slice; all-time keeps them.
    for (const ms of [50_000, 60_000, 290_000, 300_000, 310_000]) {
      clock.tick(ms);
      expect(viewOf(h.find({ route: '/a' })!), `at ${ms} ms`).toEqual(ref.view());
    }
    expect(h.get({ route: '/a' })!.windows['5m'].count).toBe(0);
    expect(h.get({ route: '/a' })!.percentiles.p50).not.toBeNull();
  });

  it.each([
    [
      'one key too many',
      (observe: (v: number) => void) => {
        for (let i = 0; i <= SMALL_KEYS; i++) observe(10 + i);
      },
    ],
    [
      'a later slice',
      (observe: (v: number) => void, clock: SliceClock) => {
        observe(10);
        clock.tick(10_000);
        observe(20);
      },
    ],
    [
      'a zero',
      (observe: (v: number) => void) => {
        observe(10);
        observe(0);
      },
    ],
    [
      'a negative value',
      (observe: (v: number) => void) => {
        observe(-5);
      },
    ],
    [
      'a value past 2^959',
      (observe: (v: number) => void) => {
        observe(7);
        observe(2 ** 1000);
      },
    ],
  ])('moves the keys into sketch objects on %s, losing none', (_what, drive) => {
    const { registry, clock } = newRegistry();
    const h = registry.histogram('rt');
    const ref = new Reference(clock);
    drive((v) => {
      h.observe(v);
      ref.observe(v);
    }, clock);
    expect(h.table.sketches[0]).toBeDefined();
    expect(viewOf(h.find()!)).toEqual(ref.view());
  });

  it('answers exactly as sketch objects would over random series, slices and values', () => {
    const random = mulberry32(7);
    const { registry, clock } = newRegistry();
    const h = registry.histogram('rt', { labels: ['s'] });
    const refs: Reference[] = [];
    const handles = Array.from({ length: 40 }, (_, i) => h.bind({ s: String(i) }));
    for (let i = 0; i < 40; i++) refs.push(new Reference(clock));
    let now = 0;
    for (let step = 0; step < 3000; step++) {
      const i = Math.floor(random() * random() * 40);
      const r = random();
      const v = r < 0.02 ? 0 : r < 0.04 ? -random() * 100 : Math.exp(random() * 8);
      // Some series through their bound handle, the others through the label object.
      if (i % 2 === 0) handles[i]!.observe(v);
      else h.observe({ s: String(i) }, v);
      refs[i]!.observe(v);
      if (random() < 0.01) clock.tick((now += Math.floor(random() * 40_000)));
    }
    let small = 0;
    for (let i = 0; i < 40; i++) {
      if (h.table.sketches[i] === undefined) small++;
      expect(viewOf(handles[i]!), `series ${i}`).toEqual(refs[i]!.view());
    }
    // The mix covers both forms.
    expect(small).toBeGreaterThan(0);
    expect(small).toBeLessThan(40);
  });

  it('lets a handle made before the sketches became objects record into them', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('rt');
    const early = h.bind();
    early.observe(1);
    const other = h.bind();
    for (let i = 0; i < SMALL_KEYS; i++) other.observe(100);
    expect(h.table.sketches[0]).toBeDefined();
    early.observe(1000);
    expect(h.get()!.count).toBe(SMALL_KEYS + 2);
    expect(h.find()!.sketch.count).toBe(SMALL_KEYS + 2);
    expect(h.find()!.window.count(60_000)).toBe(SMALL_KEYS + 2);
    expect(h.get()!.percentiles.p999).toBeCloseTo(1000, -1);
  });

  it('restores a series with first-slice keys: all-time from the store, the window kept', () => {
    const { registry, clock } = newRegistry();
    const h = registry.histogram('rt', { buckets: [10, 100] });
    const saved = (() => {
      const { registry: r2 } = newRegistry();
      const h2 = r2.histogram('rt', { buckets: [10, 100] });
      for (const v of [5, 50, 500, 5000, 50_000, 7]) h2.observe(v);
      return h2.find()!.snapshot();
    })();
    h.observe(42);
    h.find()!.restore(saved);
    const s = h.find()!;
    expect([s.count, s.sum, s.min, s.max, Array.from(s.counts)]).toEqual([6, 55_562, 5, 50_000, [2, 1, 3]]);
    expect(s.flushedVersion).toBe(6);
    expect(s.sketch.count).toBe(6);
    expect(s.window.count(60_000)).toBe(1);
    expect(s.window.quantile(0.5, 60_000)).toBeCloseTo(42, 0);
    clock.tick(10_000);
    s.observe(8);
    expect([s.count, s.sketch.count, s.window.count(60_000)]).toEqual([7, 7, 2]);
  });

  /** A snapshot of a series that observed `values` (in one slice), as the store keeps it. */
  function stored(values: number[]): unknown {
    const h = newRegistry().registry.histogram('rt', { buckets: [10, 100] });
    const s = h.bind();
    for (const v of values) s.observe(v);
    return s.snapshot();
  }

  /** Values in `n` buckets of the sketch, two in each: 1 + i/64 falls in bucket i of the octave [1, 2). */
  function inBuckets(n: number): number[] {
    return Array.from({ length: 2 * n }, (_, i) => 2 ** Math.floor(i / 128) * (1 + (Math.floor(i / 2) % 64) / 64));
  }

  /** Every reading of a series, all-time and per window. */
  function readings(s: HistogramSeries) {
    return { view: viewOf(s), stats: s.stats(), snapshot: s.snapshot() };
  }

  it.each([
    ['observed once', [42], false],
    ['observed SMALL_KEYS times, twice in one bucket', [5, 5, 900, 3e6], false],
    ['never observed', [], false],
    ['with one key too many (as pairs)', [1, 2, 3, 4, 5], false],
    ['with a zero (as pairs)', [0, 7], false],
    ['with a negative value (as pairs)', [-3, -3, 2], false],
    ['with a value past 2^959 (as pairs)', [2 ** 1000], false],
    [`in ${RESTORED_BUCKETS} buckets (as pairs)`, inBuckets(RESTORED_BUCKETS), false],
    [`in ${RESTORED_BUCKETS + 1} buckets`, inBuckets(RESTORED_BUCKETS + 1), true],
  ])(
    'restores a series %s without sketch objects when it fits, reading as the promoted form does',
    (_what, values, promoted) => {
      const state = stored(values);
      const { registry, clock } = newRegistry();
      const h = registry.histogram('rt', { labels: ['r'], buckets: [10, 100] });
      const series = h.bind({ r: 'restored' });
      series.restore(state);
      // What restore gave before quiet series stayed small: sketch objects, made before the restore.
      const reference = h.bind({ r: 'promoted' });
      h.table.promote(1);
      reference.restore(state);
      expect(h.table.sketches[0] !== undefined).toBe(promoted);
      expect(series.count).toBe(values.length);
      expect(readings(series)).toEqual(readings(reference));
      for (const ms of [5_000, 10_000, 300_000, 320_000]) {
        clock.tick(ms);
        expect(readings(series), `at ${ms} ms`).toEqual(readings(reference));
      }
      // Restored keys are in no window, so the next observation makes them objects; a series
      // restored without any keys takes first-slice keys as a new one does (up to the zero).
      for (const v of [8, 80, 0, 800]) {
        series.observe(v);
        reference.observe(v);
        expect(readings(series), `after ${v}`).toEqual(readings(reference));
        if (v === 8) expect(h.table.sketches[0] !== undefined).toBe(values.length > 0);
      }
      expect(h.table.sketches[0]).toBeDefined();
      clock.tick(330_000);
      h.observe({ r: 'restored' }, 9);
      h.observe({ r: 'promoted' }, 9);
      expect(readings(series)).toEqual(readings(reference));
    },
  );

  it('restores over a series with observations of its own by the sketch objects, keeping its window', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('rt', { buckets: [10, 100] });
    h.observe(3);
    h.find()!.restore(stored([42]));
    expect(h.table.sketches[0]).toBeDefined();
    expect([h.find()!.sketch.count, h.find()!.window.count(60_000)]).toEqual([1, 1]);
    expect(h.find()!.window.quantile(0.5, 60_000)).toBeCloseTo(3, 0);
  });

  it('gives a reset metric new columns: handles made before keep their state, unreported', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('rt', { labels: ['r'] });
    const old = h.bind({ r: 'a' });
    old.observe(5);
    const before = h.table;
    h.reset();
    expect(h.table).not.toBe(before);
    old.observe(6);
    expect(old.count).toBe(2);
    expect(h.series()).toEqual([]);
    h.observe({ r: 'a' }, 7);
    expect(h.get({ r: 'a' })!.count).toBe(1);
    expect(h.get({ r: 'a' })!.min).toBe(7);
  });
});

describe('HistogramTable in the store', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const clean of cleanups.splice(0).reverse()) clean();
  });

  function openStore(dir: string): MetricStore {
    const store = MetricStore.open({ dataDir: dir });
    cleanups.push(() => void store.close());
    return store;
  }

  it('flushes small and promoted series, defines their derived series once, and restores them equal', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-histogram-table-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const a = newRegistry();
    const h = a.registry.histogram('rt', { labels: ['route'], buckets: [10, 100] });
    h.observe({ route: 'small' }, 42);
    for (let i = 1; i <= 50; i++) h.observe({ route: 'busy' }, i * 7);
    const store = openStore(dir);
    const defined: string[] = [];
    const define = store.defineSeries.bind(store);
    store.defineSeries = (key, def) => {
      defined.push(key);
      return define(key, def);
    };
    expect(await flushTable(a.registry, store, 1_000)).toMatchObject({ series: 2, deferred: 0 });
    // Each series and its five derived series (#count, #sum, #p50, #p95, #p99).
    expect(defined).toHaveLength(12);
    expect(h.series().every((s) => s.derivedIds?.length === 5 && !s.changedSinceFlush())).toBe(true);
    h.observe({ route: 'small' }, 43);
    h.observe({ route: 'busy' }, 1);
    expect(await flushTable(a.registry, store, 2_000)).toMatchObject({ series: 2 });
    expect(defined).toHaveLength(12);

    const b = newRegistry();
    expect(restoreTable(b.registry, store, memoryLogger())).toEqual({ restored: 2, skipped: 0 });
    const restored = b.registry.metrics().find((m) => m.name === 'rt')!;
    for (const route of ['small', 'busy']) {
      expect(restored.find({ route })!.snapshot(), route).toEqual(h.find({ route })!.snapshot());
      expect(restored.find({ route })!.changedSinceFlush()).toBe(false);
    }
  });

  it('restores quiet series through an LMDB store without sketch objects, every reading as before the restart', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-histogram-table-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const VALUES: Record<string, number[]> = {
      once: [42],
      four: [5, 5, 900, 3e6],
      quiet: Array.from({ length: 50 }, (_, i) => 1 + i * 7),
      busy: Array.from({ length: 500 }, (_, i) => 1 + i * 7),
      zero: [0, 7],
      negative: [-2.5],
    };
    const a = newRegistry();
    const options = { help: 'Response time', unit: 'ms', labels: ['route'], buckets: [10, 100, 1000] };
    const before = a.registry.histogram('rt', options);
    for (const [route, values] of Object.entries(VALUES)) for (const v of values) before.observe({ route }, v);
    const first = MetricStore.open({ dataDir: dir });
    expect(await flushTable(a.registry, first, 1_000)).toMatchObject({ series: 6, deferred: 0, pending: 0 });
    await first.close();

    const store = openStore(dir);
    const b = newRegistry();
    expect(restoreTable(b.registry, store, memoryLogger())).toEqual({ restored: 6, skipped: 0 });
    const after = b.registry.histogram('rt', options);
    const promoted = (route: string) => after.table.sketches[after.table.map.find({ route })] !== undefined;
    // More buckets than pairs may hold: objects (as before). Every other series stays without.
    expect(Object.keys(VALUES).filter(promoted)).toEqual(['busy']);
    expect(after.table.restored.size).toBe(3);
    const allTime = (h: typeof before, route: string) => {
      const { windows: _windows, ...rest } = h.get({ route })!;
      return { ...rest, all: viewOf(h.find({ route })!).all, snapshot: h.find({ route })!.snapshot() };
    };
    for (const route of Object.keys(VALUES)) {
      expect(allTime(after, route), route).toEqual(allTime(before, route));
      // Windows are not stored: a restored series' windows start empty.
      expect(after.get({ route })!.windows['1m'].count, route).toBe(0);
    }
    // Once the window has moved past what the first process observed, every reading is the same.
    for (const clock of [a.clock, b.clock]) clock.tick(310_000);
    const text = async (registry: typeof a.registry) => (await renderPrometheusText(registry)).split('\n');
    expect(await text(b.registry)).toEqual(await text(a.registry));
    for (const route of Object.keys(VALUES)) expect(after.get({ route }), route).toEqual(before.get({ route }));
    // Observed again, the quiet series take sketch objects and keep reading alike.
    for (const [route, v] of [
      ['once', 8],
      ['four', 80],
      ['once', 3],
      ['busy', 2],
      ['zero', 0],
    ] as const) {
      before.observe({ route }, v);
      after.observe({ route }, v);
    }
    expect(Object.keys(VALUES).filter(promoted)).toEqual(['once', 'four', 'busy', 'zero']);
    expect(after.table.restored.size).toBe(2);
    for (const route of Object.keys(VALUES)) expect(after.get({ route }), route).toEqual(before.get({ route }));
    expect(await text(b.registry)).toEqual(await text(a.registry));
  });
});
