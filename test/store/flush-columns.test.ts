/**
 * A flush built as `FlushColumns` (flushTable's) writes what the same batch given to
 * `store.flush` as arrays writes: the same bytes in `current` (read back raw), the same points;
 * both on the main thread and through the writer thread. A bad entry rejects the whole batch with
 * the coded error, and nothing of it is written.
 */
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { FlushColumns } from '../../src/store/flush-columns.js';
import { flushColumns, SMALL_FLUSH_PUTS } from '../../src/store/lmdb-store.js';
import { ENV_OPTIONS } from '../../src/store/store-env.js';
import { expectMonitorRejection, tempStores } from './store-fixture.js';

const T0 = 1_700_000_000_000;
let stores: ReturnType<typeof tempStores>;
beforeEach(() => {
  stores = tempStores();
});
afterEach(async () => {
  await stores.cleanup();
});

/**
 * The raw bytes stored in `current` for each id, and `expected`'s values as lmdb's own encoder of
 * that database encodes them with no buffer mode (what the store wrote before it used msgpackr's
 * reuse mode). The store must be closed.
 */
function rawCurrent(
  dir: string,
  ids: number[],
  expected: unknown[],
): { raw: (number[] | undefined)[]; plain: number[][] } {
  const env = open({ path: dir, ...ENV_OPTIONS });
  try {
    const current = env.openDB<Uint8Array, number>('current', { keyEncoding: 'uint32', encoding: 'binary' });
    const decoded = env.openDB<unknown, number>('current', { keyEncoding: 'uint32' });
    decoded.get(ids[0]!); // loads the shared structures
    const encoder = (decoded as unknown as { encoder: { encode(v: unknown): Uint8Array } }).encoder;
    return {
      raw: ids.map((id) => {
        const bytes = current.getBinary(id);
        return bytes === undefined ? undefined : Array.from(bytes);
      }),
      plain: expected.map((v) => Array.from(encoder.encode(v))),
    };
  } finally {
    void env.close();
  }
}

const VALUES = [0, 1, -1, 127, 128, 65_536, 2 ** 31, 2 ** 40 + 1, 0.5, -0.1, 1e300, -0, Infinity];

describe.each([
  { path: 'the main thread', series: 10 },
  { path: 'the writer thread', series: SMALL_FLUSH_PUTS },
])('a FlushColumns flush, written by $path', ({ series }) => {
  it('stores the bytes and points that the same batch as arrays stores', async () => {
    const store = stores.open();
    const pairs: [number, number][] = [];
    for (let i = 0; i < series; i++) {
      const a = store.defineSeries(`a${i}`, { name: 'a', type: 'gauge', labels: { i: String(i) } });
      const b = store.defineSeries(`b${i}`, { name: 'b', type: 'gauge', labels: { i: String(i) } });
      pairs.push([a, b]);
    }
    const valueOf = (i: number): number => VALUES[i % VALUES.length]!;
    const snapshot = { bounds: [1, 2], b: [3, 0, 1], s: 4.5, c: 4, mn: 0.5, mx: 3, sk: null };
    // In reverse id order: the store sorts the columns' points as it sorts the arrays'.
    const columns = new FlushColumns(4);
    for (let i = series - 1; i >= 0; i--) {
      const [, b] = pairs[i]!;
      if (i === 0) columns.object(b, snapshot);
      else columns.scalar(b, valueOf(i));
      if (Number.isFinite(valueOf(i))) columns.point(b, T0, valueOf(i));
    }
    await flushColumns(store, columns);
    await store.flush({
      current: pairs.map(([a], i) => [a, i === 0 ? snapshot : { v: valueOf(i) }] as const),
      points: pairs.flatMap(([a], i) => (Number.isFinite(valueOf(i)) ? [{ id: a, ts: T0, value: valueOf(i) }] : [])),
    });
    for (const [a, b] of pairs) expect(store.queryRange(b, T0, T0, 10)).toEqual(store.queryRange(a, T0, T0, 10));
    expect(store.queryRange(pairs[1]![1], T0, T0, 10)).toEqual([[T0, 1]]);
    await store.close();
    const expected = pairs.map((_, i) => (i === 0 ? snapshot : { v: valueOf(i) }));
    const { raw, plain } = rawCurrent(
      stores.dir,
      pairs.flatMap((p) => p),
      expected,
    );
    for (let i = 0; i < series; i++) {
      expect(raw[2 * i], `series ${i}`).toEqual(plain[i]);
      expect(raw[2 * i + 1], `series ${i}`).toEqual(plain[i]);
    }
    const reopened = stores.open();
    const current = reopened.loadCurrent();
    expect(current.get(pairs[0]![1])).toEqual(snapshot);
    expect(current.get(pairs[2]![1])).toEqual({ v: valueOf(2) });
  });
});

describe('a FlushColumns flush with a bad entry', () => {
  it.each([
    ['an unknown id in a current value', (c: FlushColumns, id: number) => c.scalar(id + 1, 1), /unknown series id/],
    [
      'an unknown id in a point',
      (c: FlushColumns, id: number) => c.point(id + 1, T0, 1),
      /point 1 has unknown series id/,
    ],
    ['a fractional ts', (c: FlushColumns, id: number) => c.point(id, T0 + 0.5, 1), /invalid ts/],
    ['a NaN value', (c: FlushColumns, id: number) => c.point(id, T0, Number.NaN), /invalid value NaN/],
  ] as const)('rejects %s with EMON_INVALID_RECORD and writes nothing of it', async (_name, bad, message) => {
    const store = stores.open();
    const id = store.defineSeries('g', { name: 'g', type: 'gauge' });
    const columns = new FlushColumns();
    columns.scalar(id, 7);
    columns.point(id, T0 - 1000, 7);
    bad(columns, id);
    await expectMonitorRejection(flushColumns(store, columns), ErrorCode.InvalidRecord, message);
    expect(store.loadCurrent().size).toBe(0);
    expect(store.queryRange(id, 0, T0 + 1000, 10)).toEqual([]);
  });
});
