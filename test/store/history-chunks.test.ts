/**
 * The chunked history (layout 3) through the store and through the functions the layout 2 → 3
 * migration calls: chunk seals, out-of-order points merged into sealed chunks, ranges that start
 * and end inside chunks, prune splitting a chunk at the cutoff, prune racing flushes.
 */
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkInfo } from '../../src/store/chunk-codec.js';
import {
  MERGE_SLACK,
  openChunkDatabases,
  SEAL_BYTES,
  SEAL_ROWS,
  writeSeriesHistory,
  writeSeriesRollups,
} from '../../src/store/history-chunks.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import type { SeriesTimeKey } from '../../src/store/point-codec.js';
import type { PointRecord } from '../../src/store/types.js';
import { seededRandom, tempStores } from './store-fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = 28_333_334 * MIN;

let stores: ReturnType<typeof tempStores>;

beforeEach(() => {
  stores = tempStores();
});

afterEach(async () => {
  await stores.cleanup();
});

function historyChunks(store: MetricStore): number {
  return store.stats().databases.find((d) => d.name === 'history')!.entries;
}

/** Every stored point of `id`, straight from the store. */
function allPoints(store: MetricStore, id: number): [number, number][] {
  return store.queryRange(id, 0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
}

describe('chunked history', () => {
  it('seals full chunks and reads every point back, across flushes and series', async () => {
    const store = stores.open();
    const ids = [1, 2, 3].map((k) => store.defineSeries(`s${k}`, { name: `s${k}`, type: 'gauge' }));
    const random = seededRandom(7);
    const model = new Map<number, [number, number][]>(ids.map((id) => [id, []]));
    let walk = 50;
    for (let flush = 0; flush < 20; flush++) {
      const points: PointRecord[] = [];
      for (let i = 0; i < 300; i++) {
        for (const id of ids) {
          walk = Math.round((walk + (random() - 0.5) * 2) * 100) / 100;
          const ts = T0 + (flush * 300 + i) * 10_000;
          points.push({ id, ts, value: walk });
          model.get(id)!.push([ts, walk]);
        }
      }
      await store.flush({ points });
    }
    // 6,000 points per series cannot fit in one chunk: several were sealed.
    expect(historyChunks(store)).toBeGreaterThan(3 * Math.ceil(6000 / SEAL_ROWS));
    for (const id of ids) expect(allPoints(store, id)).toEqual(model.get(id));
    expect(store.stats().points).toBe(18_000);
    // Ranges starting and ending inside chunks, at and between points.
    for (const [from, to] of [
      [T0 + 12_345, T0 + 987_654],
      [T0 + 2 * HOUR, T0 + 2 * HOUR + 10_000],
      [T0 + 5 * HOUR + 1, T0 + 16 * HOUR + 5],
    ] as const) {
      const want = model.get(ids[1]!)!.filter(([ts]) => ts >= from && ts <= to);
      expect(store.queryRange(ids[1]!, from, to, 1_000_000)).toEqual(want);
    }
    await store.close();
    const again = stores.open();
    for (const id of ids) expect(allPoints(again, id)).toEqual(model.get(id));
    expect(again.latest(ids[2]!)).toEqual(model.get(ids[2]!)!.at(-1));
  });

  it('merges out-of-order and repeated timestamps into sealed chunks, the later value winning', async () => {
    const store = stores.open();
    const id = store.defineSeries('g', { name: 'g', type: 'gauge' });
    const random = seededRandom(11);
    const model = new Map<number, number>();
    const flushRandom = async (count: number, span: number): Promise<void> => {
      const points: PointRecord[] = [];
      for (let i = 0; i < count; i++) {
        const ts = T0 + Math.floor(random() * span) * 1000;
        const value = Math.floor(random() * 1000) / 8;
        points.push({ id, ts, value });
        model.set(ts, value);
      }
      await store.flush({ points });
    };
    const inOrder: PointRecord[] = Array.from({ length: 8000 }, (_, i) => ({ id, ts: T0 + i * 1000, value: i % 17 }));
    for (const p of inOrder) model.set(p.ts, p.value);
    await store.flush({ points: inOrder });
    for (let round = 0; round < 6; round++) await flushRandom(200, 10_000);
    const want = [...model.entries()].sort((a, b) => a[0] - b[0]);
    expect(allPoints(store, id)).toEqual(want);
    expect(store.stats().points).toBe(model.size);
    expect(store.latestAt(id, T0 + 4321_500)).toEqual(want.filter(([ts]) => ts <= T0 + 4321_500).at(-1));
  });

  it('prune splits the chunk that straddles the cutoff exactly: older points rolled up, newer ones kept raw', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const id = store.defineSeries('g', { name: 'g', type: 'gauge' });
    // 30 minutes at 1 s, one flush: the cutoff at T0 + 10 min falls inside a chunk.
    const points = Array.from({ length: 1800 }, (_, i) => ({ id, ts: T0 + i * 1000, value: i }));
    await store.flush({ points });
    const result = await store.prune(T0 + 10 * MIN + HOUR);
    expect(result).toEqual({ deletedRaw: 600, rolledUp: 10, deletedRollups: 0 });
    const raw = store.queryRange(id, T0 + 10 * MIN, T0 + HOUR, 1_000_000);
    expect(raw).toEqual(points.slice(600).map((p) => [p.ts, p.value]));
    expect(store.rollups(id, T0, T0 + 9 * MIN).map((r) => [r.count, r.min, r.max])).toEqual(
      Array.from({ length: 10 }, (_, k) => [60, 60 * k, 60 * k + 59]),
    );
    // The rest still takes appends.
    await store.flush({ points: [{ id, ts: T0 + HOUR, value: -1 }] });
    expect(store.latest(id)).toEqual([T0 + HOUR, -1]);
  });
});

describe('prune and flush together', () => {
  it('lose nothing when flushes append to heads that a running prune splits', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const ids = Array.from({ length: 30 }, (_, k) => store.defineSeries(`p${k}`, { name: 'p', type: 'gauge' }));
    // 20 minutes at 2 s per series: the cutoff (T0 + 10 min) splits each series' chunks.
    const old: PointRecord[] = [];
    for (const id of ids) for (let i = 0; i < 600; i++) old.push({ id, ts: T0 + i * 2000, value: i });
    await store.flush({ points: old });
    const pruning = store.prune(T0 + 10 * MIN + HOUR);
    const flushes: Promise<unknown>[] = [];
    for (let r = 0; r < 10; r++)
      flushes.push(store.flush({ points: ids.map((id) => ({ id, ts: T0 + 20 * MIN + r * 1000, value: 1000 + r })) }));
    const [result] = await Promise.all([pruning, ...flushes]);
    expect(result).toMatchObject({ deletedRaw: 30 * 300 });
    for (const id of ids) {
      const raw = store.queryRange(id, T0 + 10 * MIN, T0 + HOUR, 1_000_000);
      expect(raw).toHaveLength(300 + 10);
      expect(raw.slice(-10)).toEqual(Array.from({ length: 10 }, (_, r) => [T0 + 20 * MIN + r * 1000, 1000 + r]));
      expect(store.rollups(id, T0, T0 + 10 * MIN).reduce((n, c) => n + c.count, 0)).toBe(300);
    }
  });
});

describe('writeSeriesHistory / writeSeriesRollups (for the migration)', () => {
  it('write chunks in the caller transaction, merging with stored chunks, readable by the store', async () => {
    const store = stores.open();
    const id = store.defineSeries('m', { name: 'm', type: 'gauge' });
    await store.flush({ points: [{ id, ts: T0 + 5000, value: 5 }] });
    await store.close();

    const env = open({ path: stores.dir, maxDbs: 64, useRecords: false, noSubdir: false } as Parameters<
      typeof open
    >[0] &
      object);
    const { history, rollup } = openChunkDatabases(env);
    const ts = Array.from({ length: 5000 }, (_, i) => T0 + i * 1000);
    const values = ts.map((_, i) => Math.sin(i / 50));
    env.transactionSync(() => {
      writeSeriesHistory(history, id, ts, values);
      writeSeriesRollups(
        rollup,
        id,
        [T0 - 2 * MIN, T0 - MIN],
        [
          [2, 3, 1, 2, 2, T0 - 2 * MIN + 5],
          [1, 7, 7, 7, 7, T0 - MIN + 9],
        ],
      );
      // A second write of the same bucket merges into the stored cell.
      writeSeriesRollups(rollup, id, [T0 - MIN], [[1, 1, 1, 1, 1, T0 - MIN + 10]]);
    });
    let chunks = 0;
    for (const { value } of history.getRange({ start: [id] as unknown as SeriesTimeKey })) {
      chunks++;
      // A merge (these points over stored ones) may fill a chunk up to MERGE_SLACK x the seal size.
      expect(value.length).toBeLessThanOrEqual(SEAL_BYTES * MERGE_SLACK + 64);
      expect(chunkInfo(value).count).toBeGreaterThan(0);
    }
    expect(chunks).toBeGreaterThan(1);
    await env.close();

    const again = stores.open();
    // The stored point at T0 + 5000 (value 5) was replaced by the written one.
    expect(again.queryRange(id, T0, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)).toEqual(
      ts.map((t, i) => [t, values[i]]),
    );
    expect(again.rollups(id, 0, T0)).toEqual([
      { start: T0 - 2 * MIN, avg: 1.5, min: 1, max: 2, count: 2, last: 2, lastTs: T0 - 2 * MIN + 5 },
      { start: T0 - MIN, avg: 4, min: 1, max: 7, count: 2, last: 1, lastTs: T0 - MIN + 10 },
    ]);
  });
});
