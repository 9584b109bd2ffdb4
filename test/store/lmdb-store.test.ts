import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { MetricStore, PRUNE_CHUNK } from '../../src/store/lmdb-store.js';
import type { PointRecord } from '../../src/store/types.js';
import { expectMonitorError, expectMonitorRejection, seededRandom, tempStores } from './store-fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** A minute-aligned base time, so bucket arithmetic in the tests stays readable. */
const T0 = 28_333_334 * MIN;

let stores: ReturnType<typeof tempStores>;

beforeEach(() => {
  stores = tempStores();
});

afterEach(async () => {
  await stores.cleanup();
});

function gauge(store: MetricStore, key: string): number {
  return store.defineSeries(key, { name: key, type: 'gauge' });
}

describe('MetricStore series definitions', () => {
  it('assigns ids 1, 2, ... and returns the same id for the same key', () => {
    const store = stores.open();
    const a = store.defineSeries('requests.total{method="GET"}', {
      name: 'requests.total',
      type: 'counter',
      labels: { method: 'GET' },
    });
    const b = store.defineSeries('requests.total{method="POST"}', {
      name: 'requests.total',
      type: 'counter',
      labels: { method: 'POST' },
    });
    expect([a, b]).toEqual([1, 2]);
    expect(
      store.defineSeries('requests.total{method="GET"}', {
        name: 'requests.total',
        type: 'counter',
        labels: { method: 'GET' },
      }),
    ).toBe(1);
    expect(store.seriesId('requests.total{method="POST"}')).toBe(2);
    expect(store.seriesId('nope')).toBeUndefined();
  });

  it('keeps ids, definitions and current values across close and reopen', async () => {
    const first = stores.open();
    const reqs = first.defineSeries('requests.total', {
      name: 'requests.total',
      type: 'counter',
      help: 'Requests served',
    });
    const rt = first.defineSeries('response_time', {
      name: 'response_time',
      type: 'histogram',
      unit: 'ms',
      labels: { route: '/api' },
    });
    const p95 = first.defineSeries('response_time.p95', { name: 'response_time.p95', type: 'gauge', unit: 'ms' });
    const histogramState = {
      b: [1, 2, 3],
      s: 120.5,
      c: 6,
      mn: Infinity,
      mx: -Infinity,
      sk: { v: 1, pos: { offset: 3, counts: [1, 0, 2] } },
    };
    await first.flush({
      current: [
        [reqs, { v: 42 }],
        [rt, histogramState],
      ],
    });
    await first.close();

    const second = stores.open();
    expect(second.seriesDefs()).toEqual([
      {
        id: reqs,
        key: 'requests.total',
        name: 'requests.total',
        type: 'counter',
        help: 'Requests served',
        unit: '',
        labels: {},
      },
      {
        id: rt,
        key: 'response_time',
        name: 'response_time',
        type: 'histogram',
        help: '',
        unit: 'ms',
        labels: { route: '/api' },
      },
      { id: p95, key: 'response_time.p95', name: 'response_time.p95', type: 'gauge', help: '', unit: 'ms', labels: {} },
    ]);
    expect(second.seriesId('response_time')).toBe(rt);
    expect(
      second.defineSeries('requests.total', { name: 'requests.total', type: 'counter', help: 'Requests served' }),
    ).toBe(reqs);
    expect(second.defineSeries('errors.total', { name: 'errors.total', type: 'counter' })).toBe(4);
    expect(second.loadCurrent()).toEqual(
      new Map<number, unknown>([
        [reqs, { v: 42 }],
        [rt, histogramState],
      ]),
    );
  });

  it('opens a data dir whose name has a dot as a directory, like any other (lmdb-js guessed a file)', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'erlmcp-dotted-'));
    try {
      for (const name of ['my.app', 'tmp.Ab3xYz', 'store.v2']) {
        const dataDir = path.join(parent, name);
        fs.mkdirSync(dataDir);
        const first = MetricStore.open({ dataDir });
        const id = first.defineSeries('jobs', { name: 'jobs', type: 'counter' });
        await first.flush({ current: [[id, { v: 7 }]] });
        await first.close();
        expect(fs.statSync(path.join(dataDir, 'data.mdb')).isFile()).toBe(true);
        const second = MetricStore.open({ dataDir, readOnly: true });
        expect(second.loadCurrent().get(id)).toEqual({ v: 7 });
        await second.close();
      }
    } finally {
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it('persists a definition that was never followed by a flush (close commits it)', async () => {
    const first = stores.open();
    gauge(first, 'lonely');
    await first.close();
    expect(stores.open().seriesId('lonely')).toBe(1);
  });

  it('replaces the definition when help/unit/labels change', async () => {
    const store = stores.open();
    const id = store.defineSeries('queue.depth', { name: 'queue.depth', type: 'gauge', help: 'old' });
    expect(store.defineSeries('queue.depth', { name: 'queue.depth', type: 'gauge', help: 'new', unit: 'jobs' })).toBe(
      id,
    );
    expect(store.seriesDefs()[0]).toMatchObject({ help: 'new', unit: 'jobs' });
    await store.close();
    expect(stores.open().seriesDefs()[0]).toMatchObject({ help: 'new', unit: 'jobs' });
  });

  it('takes another type for a known key (a redeclared metric), keeping the id and dropping the old current value', async () => {
    const store = stores.open();
    const id = store.defineSeries('jobs', { name: 'jobs', type: 'counter' });
    await store.flush({ current: [[id, { v: 7 }]], points: [{ id, ts: 1, value: 7 }] });
    expect(store.defineSeries('jobs', { name: 'jobs', type: 'gauge' })).toBe(id);
    await store.flush({ points: [{ id, ts: 2, value: 3 }] });
    await store.close();
    const again = stores.open();
    expect(again.seriesDefs()[0]).toMatchObject({ id, type: 'gauge' });
    expect(again.loadCurrent().has(id)).toBe(false);
    expect(again.queryRange(id, 0, 10, 10)).toEqual([
      [1, 7],
      [2, 3],
    ]);
  });

  it('returns copies from seriesDefs', () => {
    const store = stores.open();
    store.defineSeries('a', { name: 'a', type: 'gauge', labels: { x: '1' } });
    store.seriesDefs()[0]!.labels.x = 'changed';
    expect(store.seriesDefs()[0]!.labels).toEqual({ x: '1' });
  });
});

describe('MetricStore flush and queryRange', () => {
  it('writes points and current values together and reads points back in time order', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    const b = gauge(store, 'b');
    const result = await store.flush({
      current: [
        [a, { v: 3 }],
        [b, { v: 30 }],
      ],
      points: [
        { id: b, ts: T0 + 2000, value: 20 },
        { id: a, ts: T0 + 3000, value: 3 },
        { id: a, ts: T0 + 1000, value: 1 },
        { id: b, ts: T0 + 1000, value: 10 },
        { id: a, ts: T0 + 2000, value: 2 },
      ],
    });
    expect(result).toMatchObject({ points: 5, current: 2 });
    expect(result.syncMs).toBeGreaterThanOrEqual(0);
    expect(store.queryRange(a, T0, T0 + 10_000, 100)).toEqual([
      [T0 + 1000, 1],
      [T0 + 2000, 2],
      [T0 + 3000, 3],
    ]);
    expect(store.queryRange(b, T0, T0 + 10_000, 100)).toEqual([
      [T0 + 1000, 10],
      [T0 + 2000, 20],
    ]);
    expect(store.loadCurrent()).toEqual(
      new Map([
        [a, { v: 3 }],
        [b, { v: 30 }],
      ]),
    );
    expect(store.latest(a)).toEqual([T0 + 3000, 3]);
  });

  it('includes both ends of the range, and returns [] for an empty range or a series without history', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    const empty = gauge(store, 'empty');
    await store.flush({ points: [1000, 2000, 3000, 4000].map((ts) => ({ id: a, ts, value: ts / 1000 })) });
    expect(store.queryRange(a, 2000, 3000, 10)).toEqual([
      [2000, 2],
      [3000, 3],
    ]);
    expect(store.queryRange(a, 2001, 2999, 10)).toEqual([]);
    expect(store.queryRange(a, 5000, 9000, 10)).toEqual([]);
    expect(store.queryRange(empty, 0, 9000, 10)).toEqual([]);
    expect(store.latest(empty)).toBeUndefined();
  });

  it('replaces a point flushed again with the same timestamp', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    await store.flush({ points: [{ id: a, ts: 1000, value: 1 }] });
    await store.flush({ points: [{ id: a, ts: 1000, value: 5 }] });
    expect(store.queryRange(a, 0, 2000, 10)).toEqual([[1000, 5]]);
  });

  it('downsamples to at most maxPoints, averaging each time bucket', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    // 1,000 points, one per second, value = index.
    await store.flush({ points: Array.from({ length: 1000 }, (_, i) => ({ id: a, ts: T0 + i * 1000, value: i })) });
    // Range of 1,000,000 ms in 10 buckets of 100 s: bucket k holds indexes 100k..100k+99.
    const out = store.queryRange(a, T0, T0 + 999_999, 10);
    expect(out).toEqual(Array.from({ length: 10 }, (_, k) => [T0 + (100 * k + 99) * 1000, 100 * k + 49.5]));
    expect(store.queryRange(a, T0, T0 + 999_999, 7).length).toBeLessThanOrEqual(7);
    expect(store.queryRange(a, T0, T0 + 999_999, 1)).toEqual([[T0 + 999_000, 499.5]]);
    expect(store.queryRange(a, T0, T0 + 999_999, 1000)).toHaveLength(1000);
  });

  it('rejects a whole batch with nothing written when one entry is bad', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    const good: PointRecord[] = [{ id: a, ts: 1000, value: 1 }];
    await expectMonitorRejection(
      store.flush({ current: [[a, { v: 1 }]], points: [...good, { id: a, ts: 2000, value: Number.NaN }] }),
      ErrorCode.InvalidRecord,
      'flush: batch.points[1] (series 1) has invalid value NaN (expected a finite number)',
    );
    await expectMonitorRejection(
      store.flush({
        current: [
          [a, { v: 1 }],
          [a, { huge: 2n ** 70n }],
        ],
        points: good,
      }),
      ErrorCode.InvalidRecord,
      /^flush: the current value of series 1 cannot be encoded \(.+\); snapshots must be msgpack\/JSON-able$/,
    );
    expect(store.queryRange(a, 0, 10_000, 10)).toEqual([]);
    expect(store.loadCurrent().size).toBe(0);
  });

  it('rejects malformed points, naming the entry and what is allowed', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    await expectMonitorRejection(
      store.flush({ points: [{ id: 7, ts: 1, value: 1 }] }),
      ErrorCode.InvalidRecord,
      'flush: batch.points[0] has unknown series id 7 (defined ids are 1..1)',
    );
    await expectMonitorRejection(
      store.flush({ points: [{ id: a, ts: -5, value: 1 }] }),
      ErrorCode.InvalidRecord,
      'flush: batch.points[0] (series 1) has invalid ts -5 (expected a non-negative integer timestamp in ms)',
    );
    await expectMonitorRejection(
      store.flush({ points: [{ id: a, ts: 1.5, value: 1 }] }),
      ErrorCode.InvalidRecord,
      'flush: batch.points[0] (series 1) has invalid ts 1.5 (expected a non-negative integer timestamp in ms)',
    );
    await expectMonitorRejection(
      store.flush({ points: [{ id: a, ts: 1, value: '3' as unknown as number }] }),
      ErrorCode.InvalidRecord,
      'flush: batch.points[0] (series 1) has invalid value "3" (expected a finite number)',
    );
    await expectMonitorRejection(
      store.flush({ current: [[0, {}]] }),
      ErrorCode.InvalidRecord,
      'flush: batch.current[0] has unknown series id 0 (defined ids are 1..1)',
    );
    await expectMonitorRejection(
      store.flush({ current: [{ id: a } as unknown as [number, unknown]] }),
      ErrorCode.InvalidRecord,
      'flush: batch.current[0] must be an [id, snapshot] pair, got an object (Object)',
    );
    await expectMonitorRejection(
      store.flush(null as unknown as { points: [] }),
      ErrorCode.InvalidRecord,
      'flush: batch must be an object { current?, points? }, got null',
    );
  });

  it('keeps series apart and in time order across ids of different byte lengths and timestamps spanning years', async () => {
    const until = Date.UTC(2200, 0, 1);
    const store = stores.open({ retentionMs: DAY, rollupRetentionMs: until + DAY });
    for (let i = 1; i <= 65_536; i++) gauge(store, `s${i}`);
    const ids = [1, 255, 256, 65_536];
    const times = [
      0,
      1,
      255,
      256,
      65_536,
      2 ** 32,
      Date.UTC(1999, 11, 31),
      Date.UTC(2038, 0, 19, 3, 14, 8),
      Date.UTC(2100, 0, 1),
      Number.MAX_SAFE_INTEGER,
    ];
    const random = seededRandom(0x1d5);
    const points = ids.flatMap((id) => times.map((ts, k) => ({ id, ts, value: id * 100 + k })));
    const shuffled = points
      .map((p) => ({ p, r: random() }))
      .sort((a, b) => a.r - b.r)
      .map((e) => e.p);
    await store.flush({ points: shuffled });

    for (const id of ids) {
      const own = times.map((ts, k): [number, number] => [ts, id * 100 + k]);
      expect(store.queryRange(id, 0, Number.MAX_SAFE_INTEGER, 1000)).toEqual(own);
      expect(store.latest(id)).toEqual([Number.MAX_SAFE_INTEGER, id * 100 + 9]);
      expect(store.queryRange(id, 256, 2 ** 32, 1000)).toEqual(own.filter(([ts]) => ts >= 256 && ts <= 2 ** 32));
      expect(store.queryRange(id, -5, 0, 1000)).toEqual([[0, id * 100]]);
      expect(store.queryRange(id, -5, -1, 1000)).toEqual([]);
    }
    for (const empty of [2, 254, 257, 65_535]) expect(store.latest(empty)).toBeUndefined();

    // prune walks the series in key order: every old point of every series is folded, nothing else
    // (6 buckets per series: 0, 60,000, 2^32, and one each in 1999, 2038 and 2100).
    expect(await store.prune(until)).toEqual({
      deletedRaw: ids.length * (times.length - 1),
      rolledUp: ids.length * 6,
      deletedRollups: 0,
    });
    for (const id of ids) {
      expect(store.rollups(id, 0, until).reduce((sum, r) => sum + r.count, 0)).toBe(times.length - 1);
      expect(store.queryRange(id, until, Number.MAX_SAFE_INTEGER, 10)).toEqual([
        [Number.MAX_SAFE_INTEGER, id * 100 + 9],
      ]);
    }
  });

  it('keeps the later of two points with the same (id, ts) in one batch', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    const b = gauge(store, 'b');
    await store.flush({
      points: [
        { id: b, ts: 1000, value: 1 },
        { id: a, ts: 1000, value: 2 },
        { id: b, ts: 1000, value: 3 },
      ],
    });
    expect(store.queryRange(a, 0, 2000, 10)).toEqual([[1000, 2]]);
    expect(store.queryRange(b, 0, 2000, 10)).toEqual([[1000, 3]]);
  });

  it('commits flushes in call order, each after the definitions made before it', async () => {
    const first = stores.open();
    const a = gauge(first, 'a');
    const flushes = [1, 2, 3].map((v) =>
      first.flush({ current: [[a, { v }]], points: [{ id: a, ts: 1000, value: v }] }),
    );
    const b = gauge(first, 'b');
    flushes.push(first.flush({ points: [{ id: b, ts: 1000, value: 4 }] }));
    await Promise.all(flushes);
    expect(first.queryRange(a, 0, 2000, 10)).toEqual([[1000, 3]]);
    expect(first.loadCurrent().get(a)).toEqual({ v: 3 });
    await first.close();
    const second = stores.open();
    expect(second.seriesId('b')).toBe(b);
    expect(second.queryRange(b, 0, 2000, 10)).toEqual([[1000, 4]]);
  });

  it('resolves an empty flush', async () => {
    const store = stores.open();
    await expect(store.flush({})).resolves.toMatchObject({ points: 0, current: 0 });
  });
});

describe('MetricStore stats', () => {
  it('counts series, points and rollup cells, and sizes the file and each database', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const a = gauge(store, 'a');
    const b = gauge(store, 'b');
    const points = Array.from({ length: 600 }, (_, i) => ({
      id: i % 2 === 0 ? a : b,
      ts: T0 + Math.floor(i / 2) * 10_000,
      value: i,
    }));
    await store.flush({ points, current: [[a, 1]] });
    let stats = store.stats();
    expect(stats).toMatchObject({ dataDir: stores.dir, series: 2, points: 600, rollupCells: 0, pageSize: 4096 });
    expect(stats.usedBytes).toBeGreaterThan(0);
    expect(stats.fileBytes).toBeGreaterThanOrEqual(stats.usedBytes);
    const byName = new Map(stats.databases.map((d) => [d.name, d]));
    expect(byName.get('series')).toMatchObject({ entries: 2 });
    expect(byName.get('current')).toMatchObject({ entries: 1 });
    for (const d of stats.databases) expect(d.bytes).toBe(d.pages * stats.pageSize);
    // 300 points per series, 10 s apart: 50 minutes. Pruning 20 minutes leaves 2 x 180 raw points.
    await store.prune(T0 + 20 * MIN + HOUR);
    stats = store.stats();
    expect(stats).toMatchObject({ points: 360, rollupCells: 40 });
  });
});

describe('MetricStore prune', () => {
  /** 10 minutes of one point per 10 s (value = index) from T0, plus one point at T0 + 11 min. */
  async function tenMinutes(store: MetricStore): Promise<number> {
    const id = gauge(store, 'a');
    const points = Array.from({ length: 60 }, (_, i) => ({ id, ts: T0 + i * 10_000, value: i }));
    points.push({ id, ts: T0 + 11 * MIN, value: 1000 });
    await store.flush({ points });
    return id;
  }

  it('folds raw points older than the retention into 1-minute rollups and deletes them', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const id = await tenMinutes(store);
    // Raw cutoff = T0 + 10 min: the 60 points before it go, the one at T0 + 11 min stays.
    const result = await store.prune(T0 + 10 * MIN + HOUR);
    expect(result).toEqual({ deletedRaw: 60, rolledUp: 10, deletedRollups: 0 });
    expect(store.rollups(id, T0, T0 + 20 * MIN)).toEqual(
      Array.from({ length: 10 }, (_, k) => ({
        start: T0 + k * MIN,
        avg: 6 * k + 2.5,
        min: 6 * k,
        max: 6 * k + 5,
        count: 6,
        last: 6 * k + 5,
        lastTs: T0 + (6 * k + 5) * 10_000,
      })),
    );
    // The old part now comes from rollups ([bucketStart, avg]); the newer raw point is intact.
    expect(store.queryRange(id, T0, T0 + 20 * MIN, 100)).toEqual([
      ...Array.from({ length: 10 }, (_, k) => [T0 + k * MIN, 6 * k + 2.5]),
      [T0 + 11 * MIN, 1000],
    ]);
    // Nothing raw is left before the cutoff: a second prune at the same time finds nothing.
    expect(await store.prune(T0 + 10 * MIN + HOUR)).toEqual({ deletedRaw: 0, rolledUp: 0, deletedRollups: 0 });
  });

  it('cuts at a whole minute, so a bucket is never split between raw and rollup', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const id = await tenMinutes(store);
    // now - retention = T0 + 5.5 min: the cutoff is T0 + 5 min, so minutes 0..4 roll up.
    expect(await store.prune(T0 + 5.5 * MIN + HOUR)).toEqual({ deletedRaw: 30, rolledUp: 5, deletedRollups: 0 });
    expect(store.queryRange(id, T0 + 5 * MIN, T0 + 6 * MIN - 1, 100)).toHaveLength(6);
  });

  it('averages rollups by their point counts when downsampling across rollups and raw points', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const id = await tenMinutes(store);
    await store.prune(T0 + 5 * MIN + HOUR);
    // One bucket over minutes 0..9: 5 rollups of 6 points each and 30 raw points = mean of 0..59.
    expect(store.queryRange(id, T0, T0 + 10 * MIN - 1, 1)).toEqual([[T0 + 59 * 10_000, 29.5]]);
  });

  it('merges a late point into an existing rollup bucket', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const id = await tenMinutes(store);
    await store.prune(T0 + 10 * MIN + HOUR);
    await store.flush({ points: [{ id, ts: T0 + 7_000, value: 100 }] });
    expect(await store.prune(T0 + 10 * MIN + HOUR)).toEqual({ deletedRaw: 1, rolledUp: 1, deletedRollups: 0 });
    expect(store.rollups(id, T0, T0)).toEqual([
      { start: T0, avg: (15 + 100) / 7, min: 0, max: 100, count: 7, last: 5, lastTs: T0 + 50_000 },
    ]);
  });

  it('deletes rollups older than the rollup retention', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const id = await tenMinutes(store);
    await store.prune(T0 + 10 * MIN + HOUR);
    // Rollup cutoff = T0 + 3 min: buckets starting at T0 .. T0 + 2 min go.
    expect(await store.prune(T0 + 3 * MIN + DAY)).toEqual({ deletedRaw: 1, rolledUp: 1, deletedRollups: 3 });
    expect(store.rollups(id, 0, T0 + DAY).map((r) => r.start - T0)).toEqual(
      [3, 4, 5, 6, 7, 8, 9, 11].map((m) => m * MIN),
    );
    expect(store.latest(id)).toEqual([T0 + 11 * MIN, 1000]);
  });

  it('finds the newest point at or before a time, in raw points and in rollups', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const id = await tenMinutes(store);
    const empty = gauge(store, 'empty');
    expect(store.latestAt(id, T0 + 25_000)).toEqual([T0 + 20_000, 2]);
    expect(store.latestAt(id, T0 + 20_000)).toEqual([T0 + 20_000, 2]);
    expect(store.latestAt(id, T0 - 1)).toBeUndefined();
    expect(store.latestAt(empty, T0 + DAY)).toBeUndefined();
    await store.prune(T0 + 10 * MIN + HOUR);
    // Raw points before T0 + 10 min are rollups now: each bucket's last point answers.
    // Inside the first bucket a rollup only knows its last point (T0 + 50 s), which is too new.
    expect(store.latestAt(id, T0 + 25_000)).toBeUndefined();
    expect(store.latestAt(id, T0 + MIN + 5_000)).toEqual([T0 + 50_000, 5]);
    expect(store.latestAt(id, T0 + 9 * MIN + 55_000)).toEqual([T0 + 9 * MIN + 50_000, 59]);
    expect(store.latestAt(id, T0 + 12 * MIN)).toEqual([T0 + 11 * MIN, 1000]);
    expect(() => store.latestAt(id, Number.NaN)).toThrow(/latestAt: invalid fromMs NaN/);
  });

  it('works through more points than one step, yielding to the event loop between steps', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const a = gauge(store, 'a');
    const b = gauge(store, 'b');
    const n = PRUNE_CHUNK * 2 + 500;
    const points: PointRecord[] = [];
    for (let i = 0; i < n; i++)
      points.push({ id: a, ts: T0 + i * 1000, value: 1 }, { id: b, ts: T0 + i * 1000, value: 2 });
    await store.flush({ points });
    let turns = 0;
    let ticking = true;
    const tick = (): void => {
      turns++;
      if (ticking) setImmediate(tick);
    };
    setImmediate(tick);
    const result = await store.prune(T0 + DAY);
    ticking = false;
    expect(result).toEqual({ deletedRaw: 2 * n, rolledUp: 2 * Math.ceil(n / 60), deletedRollups: 0 });
    expect(turns).toBeGreaterThanOrEqual(3); // the event loop ran between steps (about 6 steps here)
    const rollups = store.rollups(a, 0, T0 + DAY);
    expect(rollups.reduce((sum, r) => sum + r.count, 0)).toBe(n);
    expect(rollups.every((r) => r.avg === 1 && r.min === 1 && r.max === 1)).toBe(true);
    expect(store.queryRange(b, 0, T0 + DAY, 1_000_000)).toHaveLength(Math.ceil(n / 60));
  });

  it('stops a running prune at a step boundary when the store closes, leaving consistent data', async () => {
    const first = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const ids = ['a', 'b', 'c', 'd'].map((key) => gauge(first, key));
    const n = PRUNE_CHUNK * 3;
    const points: PointRecord[] = [];
    for (const id of ids) for (let i = 0; i < n; i++) points.push({ id, ts: T0 + i * 1000, value: 1 });
    await first.flush({ points });
    const pruning = first.prune(T0 + DAY);
    await first.close();
    const partial = await pruning;
    expect(partial.deletedRaw).toBeLessThan(ids.length * n);

    const second = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    for (const id of ids) {
      const raw = second.queryRange(id, 0, T0 + DAY, Number.MAX_SAFE_INTEGER).length;
      const rolled = second.rollups(id, 0, T0 + DAY).reduce((sum, r) => sum + r.count, 0);
      expect(raw + rolled).toBe(n);
    }
    expect(await second.prune(T0 + DAY)).toMatchObject({ deletedRaw: ids.length * n - partial.deletedRaw });
  });

  it('runs concurrent prunes one after another', async () => {
    const store = stores.open({ retentionMs: HOUR, rollupRetentionMs: DAY });
    const id = await tenMinutes(store);
    const [first, second] = await Promise.all([store.prune(T0 + 10 * MIN + HOUR), store.prune(T0 + 10 * MIN + HOUR)]);
    expect(first.deletedRaw + second.deletedRaw).toBe(60);
    expect(store.rollups(id, T0, T0 + 10 * MIN).every((r) => r.count === 6)).toBe(true);
  });
});

describe('MetricStore argument and state errors', () => {
  it('rejects bad query arguments, naming the argument and what is allowed', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    await store.flush({ points: [{ id: a, ts: 1000, value: 1 }] });
    const cases: [() => unknown, string][] = [
      [
        () => store.queryRange(0, 0, 1, 10),
        'queryRange: invalid series id 0 (expected a positive integer id from defineSeries)',
      ],
      [
        () => store.queryRange(1.5, 0, 1, 10),
        'queryRange: invalid series id 1.5 (expected a positive integer id from defineSeries)',
      ],
      [
        () => store.queryRange('1' as unknown as number, 0, 1, 10),
        'queryRange: invalid series id "1" (expected a positive integer id from defineSeries)',
      ],
      [() => store.queryRange(9, 0, 1, 10), 'queryRange: unknown series id 9 (no series with this id is defined)'],
      [
        () => store.queryRange(a, Number.NaN, 1, 10),
        'queryRange: invalid fromMs NaN (expected a finite timestamp in ms)',
      ],
      [
        () => store.queryRange(a, 0, Infinity, 10),
        'queryRange: invalid toMs Infinity (expected a finite timestamp in ms)',
      ],
      [
        () => store.queryRange(a, 10, 5, 10),
        'queryRange: invalid range: toMs 5 is before fromMs 10 (expected fromMs <= toMs)',
      ],
      [() => store.queryRange(a, 0, 5, 0), 'queryRange: invalid maxPoints 0 (expected an integer >= 1)'],
      [() => store.queryRange(a, 0, 5, 2.5), 'queryRange: invalid maxPoints 2.5 (expected an integer >= 1)'],
      [() => store.latest(-1), 'latest: invalid series id -1 (expected a positive integer id from defineSeries)'],
      [() => store.rollups(a, 5, 1), 'rollups: invalid range: toMs 1 is before fromMs 5 (expected fromMs <= toMs)'],
    ];
    for (const [call, message] of cases) expectMonitorError(call, ErrorCode.InvalidQuery, message);
    await expectMonitorRejection(
      store.prune(Number.NaN),
      ErrorCode.InvalidQuery,
      'prune: invalid nowMs NaN (expected a finite timestamp in ms)',
    );
  });

  it('rejects bad series definitions', () => {
    const store = stores.open();
    expectMonitorError(
      () => store.defineSeries('', { name: 'a', type: 'gauge' }),
      ErrorCode.InvalidRecord,
      'defineSeries: invalid series key "" (expected a non-empty string)',
    );
    expectMonitorError(
      () => store.defineSeries('k'.repeat(2000), { name: 'a', type: 'gauge' }),
      ErrorCode.InvalidRecord,
      /^defineSeries: series key "k+\.\.\." is 2000 bytes \(at most 1024 UTF-8 bytes allowed\)$/,
    );
    expectMonitorError(
      () => store.defineSeries('a', { name: 'a', type: 'summary' as 'gauge' }),
      ErrorCode.InvalidRecord,
      'defineSeries("a"): invalid type "summary" (expected one of counter, gauge, histogram)',
    );
    expectMonitorError(
      () => store.defineSeries('a', { name: '', type: 'gauge' }),
      ErrorCode.InvalidRecord,
      'defineSeries("a"): invalid name "" (expected a non-empty string)',
    );
    expectMonitorError(
      () => store.defineSeries('a', { name: 'a', type: 'gauge', labels: { route: 5 as unknown as string } }),
      ErrorCode.InvalidRecord,
      'defineSeries("a"): label "route" has value 5 (expected a string)',
    );
    expect(store.seriesDefs()).toEqual([]);
  });

  it('rejects bad options', () => {
    const cases: [unknown, string][] = [
      [
        { dataDir: stores.dir, retention: 5 },
        'MetricStore.open: unknown option "retention" (allowed: dataDir, readOnly, retentionMs, rollupRetentionMs, onCorrupt)',
      ],
      [{ dataDir: '' }, 'MetricStore.open: invalid dataDir "" (expected a non-empty path string)'],
      [{ dataDir: stores.dir, readOnly: 'yes' }, 'MetricStore.open: invalid readOnly "yes" (expected true or false)'],
      [
        { dataDir: stores.dir, retentionMs: -1 },
        'MetricStore.open: invalid retentionMs -1 (expected a positive integer number of ms)',
      ],
      [
        { dataDir: stores.dir, retentionMs: DAY, rollupRetentionMs: HOUR },
        `MetricStore.open: rollupRetentionMs (${HOUR}) must be >= retentionMs (${DAY})`,
      ],
      [
        { dataDir: stores.dir, onCorrupt: 'repair' },
        'MetricStore.open: invalid onCorrupt "repair" (expected "fail" or "move_aside")',
      ],
      [null, 'MetricStore.open: options must be an object, got null'],
    ];
    for (const [options, message] of cases) {
      expectMonitorError(() => MetricStore.open(options as never), ErrorCode.InvalidOption, message);
    }
  });

  it('refuses a read-only open where no store exists, and writes on a read-only store', async () => {
    const missing = path.join(stores.dir, 'missing');
    expectMonitorError(
      () => MetricStore.open({ dataDir: missing, readOnly: true }),
      ErrorCode.StoreFailed,
      `no metric store at ${missing} (a writable open creates it; readOnly never does)`,
    );
    expect(fs.existsSync(missing)).toBe(false);
    const writer = stores.open();
    gauge(writer, 'a');
    await writer.close();
    const reader = stores.open({ readOnly: true });
    expect(reader.seriesId('a')).toBe(1);
    expectMonitorError(
      () => gauge(reader, 'b'),
      ErrorCode.StoreFailed,
      `defineSeries: the metric store at ${stores.dir} is open read-only; writes need a writable store`,
    );
    await expectMonitorRejection(reader.flush({}), ErrorCode.StoreFailed, /^flush: .* is open read-only/);
    await expectMonitorRejection(reader.prune(0), ErrorCode.StoreFailed, /^prune: .* is open read-only/);
  });

  it('refuses a store of the old layout, for writing and reading, and says to move it aside', async () => {
    const store = stores.open();
    gauge(store, 'a');
    await store.close();
    const env = open({ path: stores.dir, maxDbs: 8 });
    env.openDB<number, string>('meta', {}).putSync('layout', 1);
    await env.close();
    const message =
      `${stores.dir} holds metric store layout 1; this version reads only layout 3 and does not convert old data: ` +
      'move that directory aside (or delete it) and open again to start a new store there';
    expectMonitorError(() => MetricStore.open({ dataDir: stores.dir }), ErrorCode.StoreFailed, message);
    expectMonitorError(() => MetricStore.open({ dataDir: stores.dir, readOnly: true }), ErrorCode.StoreFailed, message);
  });

  it('refuses a second writable store on the same directory in one process', async () => {
    const first = stores.open();
    expectMonitorError(
      () => MetricStore.open({ dataDir: stores.dir }),
      ErrorCode.StoreLocked,
      `${stores.dir} is already open for writing in this process; close that store first, or read it with MetricStore.open({ dataDir, readOnly: true })`,
    );
    await first.close();
    expect(stores.open().seriesDefs()).toEqual([]);
  });

  it('closes idempotently and then refuses every call', async () => {
    const store = stores.open();
    const a = gauge(store, 'a');
    const closing = store.close();
    expect(store.close()).toBe(closing);
    await closing;
    const closed = `the metric store at ${stores.dir} is closed`;
    expectMonitorError(() => store.queryRange(a, 0, 1, 1), ErrorCode.StoreFailed, `queryRange: ${closed}`);
    expectMonitorError(() => store.seriesDefs(), ErrorCode.StoreFailed, `seriesDefs: ${closed}`);
    expectMonitorError(() => store.loadCurrent(), ErrorCode.StoreFailed, `loadCurrent: ${closed}`);
    expectMonitorError(() => gauge(store, 'b'), ErrorCode.StoreFailed, `defineSeries: ${closed}`);
    await expectMonitorRejection(store.flush({}), ErrorCode.StoreFailed, `flush: ${closed}`);
    await expectMonitorRejection(store.prune(0), ErrorCode.StoreFailed, `prune: ${closed}`);
  });

  it('lets a flush already under way finish when close is called', async () => {
    const first = stores.open();
    const a = gauge(first, 'a');
    const flushing = first.flush({ current: [[a, { v: 1 }]], points: [{ id: a, ts: 1000, value: 1 }] });
    await first.close();
    await expect(flushing).resolves.toMatchObject({ points: 1, current: 1 });
    const second = stores.open();
    expect(second.queryRange(a, 0, 2000, 10)).toEqual([[1000, 1]]);
    expect(second.loadCurrent().get(a)).toEqual({ v: 1 });
  });

  it('creates the data directory, defaulting to ./.erlmcp-monitor', async () => {
    const nested = path.join(stores.dir, 'a', 'b');
    const store = MetricStore.open({ dataDir: nested });
    expect(store.dataDir).toBe(nested);
    expect(fs.existsSync(path.join(nested, 'data.mdb'))).toBe(true);
    await store.close();
    const cwd = process.cwd();
    process.chdir(fs.mkdtempSync(path.join(os.tmpdir(), 'emon-cwd-')));
    try {
      const dflt = MetricStore.open();
      expect(dflt.dataDir).toBe(path.resolve('.erlmcp-monitor'));
      expect([dflt.retentionMs, dflt.rollupRetentionMs, dflt.readOnly]).toEqual([DAY, 7 * DAY, false]);
      await dflt.close();
    } finally {
      const tmpCwd = process.cwd();
      process.chdir(cwd);
      fs.rmSync(tmpCwd, { recursive: true, force: true });
    }
  });
});
