/**
 * Layout 2 -> 3 conversion (`migrate-layout2.ts`): the committed fixture (a data.mdb written by the
 * layout-2 release itself, see fixtures/write-layout2-fixture.ts) converts with every series,
 * point, rollup, current value and record equal; reads during the conversion see everything; other
 * layouts are refused; and steps stay bounded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { ENV_OPTIONS } from '../../src/store/store-env.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { SMALL_FLUSH_PUTS } from '../../src/store/lmdb-store.js';
import { CONVERT_STEP_ENTRIES } from '../../src/store/migrate-layout2.js';
import { writeSeriesTimeKey } from '../../src/store/point-codec.js';
import { toRollup } from '../../src/store/rollup.js';
import { readContent, type StoreContent } from './fixtures/layout2-content.js';
import { type Layout2Series, writeLayout2Store } from './fixtures/layout2-generator.js';
import { expectMonitorError, expectMonitorRejection, tempStores } from './store-fixture.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const ALL = Number.MAX_SAFE_INTEGER;

/** The content the layout-2 store served (written with the fixture). */
function expectedContent(): StoreContent & { counts: { points: number; rollups: number } } {
  return JSON.parse(gunzipSync(fs.readFileSync(path.join(FIXTURES, 'layout2.expected.json.gz'))).toString('utf8'));
}

/** A temp data dir holding a copy of the layout-2 fixture env. */
function fixtureStores() {
  const stores = tempStores();
  fs.writeFileSync(
    path.join(stores.dir, 'data.mdb'),
    gunzipSync(fs.readFileSync(path.join(FIXTURES, 'layout2.data.mdb.gz'))),
  );
  return stores;
}

/**
 * What the converted store serves: the same, except the one cell whose sum overflowed to Infinity
 * in layout 2 (two points of 1.8e308 in a minute), whose sum is kept as Number.MAX_VALUE: chunks
 * hold finite numbers (migrate-layout2.ts `finiteCell`). Layout 2 served its average as Infinity.
 */
function expectedAfterConversion(expected: StoreContent): StoreContent {
  const copy = structuredClone(expected);
  const cell = copy.rollups['edge.overflow']![0] as { start: number; avg: unknown; count: number };
  expect(cell.avg).toEqual({ $num: 'Infinity' });
  cell.avg = Number.MAX_VALUE / cell.count;
  const point = copy.points['edge.overflow']![0] as [number, unknown];
  expect(point).toEqual([cell.start, { $num: 'Infinity' }]);
  point[1] = Number.MAX_VALUE / cell.count;
  return copy;
}

function expectContent(store: MetricStore, expected: StoreContent): void {
  const actual = readContent(store);
  expect(actual.series).toEqual(expected.series);
  expect(actual.points).toEqual(expected.points);
  expect(actual.rollups).toEqual(expected.rollups);
  expect(actual.latest).toEqual(expected.latest);
  expect(actual.current).toEqual(expected.current);
  expect(actual.records).toEqual(expected.records);
}

/** Every generated series reads back exactly: raw points, rollups, latest. */
function expectGenerated(store: MetricStore, generated: Layout2Series[]): void {
  for (const s of generated) {
    expect(store.seriesId(s.key)).toBe(s.id);
    const raw = store.queryRange(s.id, s.ts[0]!, ALL, ALL);
    expect(raw.map((p) => p[0])).toEqual(s.ts);
    expect(raw.map((p) => p[1])).toEqual(s.values);
    expect(store.rollups(s.id, 0, ALL)).toEqual(s.cells.map(([start, cell]) => toRollup(start, cell)));
    expect(store.latest(s.id)).toEqual([s.ts[s.ts.length - 1], s.values[s.values.length - 1]]);
  }
}

/** Writes an env whose meta says `layout` (and nothing else a store needs). */
async function writeEnvOfLayout(dir: string, layout: number): Promise<void> {
  const env = open({ path: dir, ...ENV_OPTIONS });
  for (const name of ['series', 'series_key', 'current', 'points', 'rollup_1m']) env.openDB(name, {});
  await env.openDB<unknown, string>('meta', {}).put('layout', layout);
  await env.close();
}

let stores: ReturnType<typeof tempStores> | undefined;

afterEach(async () => {
  await stores?.cleanup();
  stores = undefined;
});

describe('layout 2 conversion', () => {
  it('converts the committed layout-2 fixture with every series, point, rollup, current value and record equal', async () => {
    stores = fixtureStores();
    const expected = expectedContent();
    expect(expected.counts.points).toBeGreaterThan(3000);
    expect(expected.counts.rollups).toBeGreaterThan(2000);
    const store = stores.open();
    // Before any step ran: reads see the old databases.
    expect(store.conversionProgress()).toMatchObject({ convertedPoints: 0, convertedCells: 0 });
    expectContent(store, expected);
    await store.converted();
    expect(store.conversionProgress()).toBeUndefined();
    expectContent(store, expectedAfterConversion(expected));
    const stats = store.stats();
    expect(stats.rollupCells).toBe(expected.counts.rollups);
    expect(stats.databases.filter((d) => d.name === 'points' || d.name === 'rollup_1m').map((d) => d.entries)).toEqual([
      0, 0,
    ]);
    await store.close();

    // Reopened (layout 3 now): the same, with nothing left to convert.
    const reopened = stores.open();
    expect(reopened.conversionProgress()).toBeUndefined();
    expectContent(reopened, expectedAfterConversion(expected));
  });

  it('serves every point to reads made between conversion steps', async () => {
    stores = tempStores();
    const generated = await writeLayout2Store(stores.dir, { series: 12, pointsPerSeries: 700, cellsPerSeries: 150 });
    const store = stores.open();
    let done = false;
    const conversion = store.converted().then(() => (done = true));
    let reads = 0;
    let lastConverted = 0;
    let longestStep = 0;
    while (!done) {
      expectGenerated(store, generated);
      reads++;
      const progress = store.conversionProgress();
      // Every entry counted once, old or converted; the progress shown while the marker exists.
      const stats = store.stats();
      expect(stats).toMatchObject({ layout: 3, points: 12 * 700, rollupCells: 12 * 150 });
      expect(stats.conversion).toEqual(progress);
      if (progress !== undefined) {
        const converted = progress.convertedPoints + progress.convertedCells;
        // One turn of the loop never sees more than one step commit: each step is bounded.
        longestStep = Math.max(longestStep, converted - lastConverted);
        lastConverted = converted;
      }
      await nextTurn();
    }
    await conversion;
    expect(reads).toBeGreaterThan(3);
    expect(longestStep).toBeGreaterThan(0);
    expect(longestStep).toBeLessThanOrEqual(CONVERT_STEP_ENTRIES);
    expect(lastConverted).toBe(12 * (700 + 150));
    expectGenerated(store, generated);
    expect(store.stats()).toMatchObject({ layout: 3, points: 12 * 700, rollupCells: 12 * 150 });
    expect(store.stats().conversion).toBeUndefined();
  });

  it('serves a layout-2 store to a read-only opener without converting it', async () => {
    stores = tempStores();
    const generated = await writeLayout2Store(stores.dir, { series: 3, pointsPerSeries: 300, cellsPerSeries: 40 });
    const reader = stores.open({ readOnly: true });
    expectGenerated(reader, generated);
    expect(reader.conversionProgress()).toBeUndefined();
    await reader.converted();
    expect(reader.stats().databases.find((d) => d.name === 'points')?.entries).toBe(3 * 300);
    expect(reader.stats()).toMatchObject({ layout: 2, points: 3 * 300, rollupCells: 3 * 40 });
    expect(reader.stats().conversion).toBeUndefined();
  });

  it('keeps points flushed during the conversion, a replaced point taking the newer value', async () => {
    stores = tempStores();
    const generated = await writeLayout2Store(stores.dir, { series: 6, pointsPerSeries: 1500, cellsPerSeries: 20 });
    const store = stores.open();
    const last = generated[5]!;
    const replacedTs = last.ts[100]!;
    const newTs = last.ts[last.ts.length - 1]! + 10_000;
    // Series 6 is converted last: its old points are still in layout 2 when this flush commits.
    await store.flush({
      points: [
        { id: last.id, ts: replacedTs, value: -42.5 },
        { id: last.id, ts: newTs, value: 7 },
      ],
      current: [[last.id, 7]],
    });
    const expectFlushed = (): void => {
      const points = store.queryRange(last.id, last.ts[0]!, ALL, ALL);
      expect(points).toHaveLength(last.ts.length + 1);
      expect(points[100]).toEqual([replacedTs, -42.5]);
      expect(points[points.length - 1]).toEqual([newTs, 7]);
    };
    expectFlushed();
    await store.converted();
    expectFlushed();
    expectGenerated(store, generated.slice(0, 5));
    expect(store.loadCurrent().get(last.id)).toBe(7);
  });

  it.each([
    ['a small flush (main thread)', 0],
    ['a large flush (writer thread)', SMALL_FLUSH_PUTS],
  ])(
    'folds a point replaced by %s during the conversion into its rollup once, with the newer value, when prune runs first',
    async (_, extra) => {
      stores = tempStores();
      const generated = await writeLayout2Store(stores.dir, { series: 6, pointsPerSeries: 1500, cellsPerSeries: 20 });
      const store = stores.open();
      const last = generated[5]!;
      const replacedTs = last.ts[100]!;
      const bucket = Math.floor(replacedTs / 60_000) * 60_000;
      const before = store.rollups(last.id, bucket, bucket);
      let count = before.reduce((n, r) => n + r.count, 0);
      let sum = before.reduce((n, r) => n + r.avg * r.count, 0);
      last.ts.forEach((t, i) => {
        if (t >= bucket && t < bucket + 60_000) {
          count++;
          sum += t === replacedTs ? 999 : last.values[i]!;
        }
      });
      // Series 6 is converted last: its old point is still in layout 2 when this flush and prune commit.
      const other = generated[4]!;
      const more = Array.from({ length: extra }, (_, i) => ({
        id: other.id,
        ts: other.ts[other.ts.length - 1]! + 1000 * (i + 1),
        value: i,
      }));
      await store.flush({ points: [{ id: last.id, ts: replacedTs, value: 999 }, ...more] });
      const nowMs = last.ts[last.ts.length - 1]! + 48 * 3600_000;
      await store.prune(nowMs);
      expect(store.conversionProgress()).toBeDefined();
      await store.converted();
      await store.prune(nowMs);
      const after = store.rollups(last.id, bucket, bucket);
      expect(after).toHaveLength(1);
      expect(after[0]!.count).toBe(count);
      expect(after[0]!.avg * after[0]!.count).toBeCloseTo(sum, 6);
      expect(store.queryRange(last.id, replacedTs, replacedTs, ALL)).toEqual([]);
    },
  );

  it('stops at a damaged layout-2 entry with a clear error, writing nothing of that step and losing nothing', async () => {
    stores = tempStores();
    const generated = await writeLayout2Store(stores.dir, { series: 3, pointsPerSeries: 300, cellsPerSeries: 10 });
    const env = open({ path: stores.dir, ...ENV_OPTIONS });
    const raw = env.openDB<Uint8Array, Uint8Array>('points', { keyEncoding: 'binary', encoding: 'binary' });
    const key = Buffer.alloc(12);
    writeSeriesTimeKey(key, 0, 2, generated[1]!.ts[7]!);
    await raw.put(key, new Uint8Array([1, 2, 3, 4])); // 4 bytes where layout 2 has an 8-byte float64
    await env.close();

    const store = stores.open();
    await expectMonitorRejection(
      store.converted(),
      ErrorCode.StoreFailed,
      /^layout 2 conversion: reading the old "points" database failed: the metric store holds a 4-byte point value/,
    );
    expect(store.writeStatus()).toMatchObject({ ok: false });
    expect(store.conversionProgress()).toMatchObject({ convertedPoints: 0 });
    expectGenerated(store, [generated[0]!, generated[2]!]);
    await store.flush({ points: [{ id: 3, ts: generated[2]!.ts[299]! + 10_000, value: 1 }] });
    expect(store.latest(3)).toEqual([generated[2]!.ts[299]! + 10_000, 1]);
  });

  it.each([1, 99])('refuses a store of layout %i with what to do, writable and read-only', async (layout) => {
    stores = tempStores();
    await writeEnvOfLayout(stores.dir, layout);
    const message = `${stores.dir} holds metric store layout ${layout}; this version reads only layout 3 and does not convert old data: move that directory aside (or delete it) and open again to start a new store there`;
    expectMonitorError(() => stores!.open(), ErrorCode.StoreFailed, message);
    expectMonitorError(() => stores!.open({ readOnly: true }), ErrorCode.StoreFailed, message);
  });
});
