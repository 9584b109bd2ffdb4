/**
 * Where a flush is written: up to SMALL_FLUSH_PUTS puts from the main thread (no writer thread is
 * started for them), larger ones by the writer thread. Both commit the same data the same way: all
 * or nothing, readable at once and after reopening, the later of two equal keys winning.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SMALL_FLUSH_PUTS } from '../../src/store/lmdb-store.js';
import type { PointRecord } from '../../src/store/types.js';
import { countWriterThreadWrites, tempStores } from './store-fixture.js';

const T0 = 1_700_000_000_000;
let stores: ReturnType<typeof tempStores>;
let writerCalls: ReturnType<typeof countWriterThreadWrites>;

beforeEach(() => {
  stores = tempStores();
  writerCalls = countWriterThreadWrites();
});

afterEach(async () => {
  writerCalls.restore();
  await stores.cleanup();
});

/** `n` points of one series, the last two at the same timestamp (value n-2 then n-1). */
function points(id: number, n: number): PointRecord[] {
  return Array.from({ length: n }, (_, i) => ({ id, ts: T0 + Math.min(i, n - 2) * 1000, value: i }));
}

describe.each([
  { path: 'the main thread', puts: SMALL_FLUSH_PUTS, threadWrites: 0 },
  { path: 'the writer thread', puts: SMALL_FLUSH_PUTS + 1, threadWrites: 1 },
])('a flush of $puts puts, written by $path', ({ puts, threadWrites }) => {
  it('commits current values and points, readable now and after reopening; the later of equal keys wins', async () => {
    const store = stores.open();
    const id = store.defineSeries('g', { name: 'g', type: 'gauge' });
    const n = puts - 1; // one current value, the rest points
    const result = await store.flush({ current: [[id, { value: n - 1 }]], points: points(id, n) });
    expect(result).toMatchObject({ points: n, current: 1 });
    expect(writerCalls.count).toBe(threadWrites);
    const check = (s: typeof store) => {
      const range = s.queryRange(id, T0, T0 + n * 1000, n);
      expect(range).toHaveLength(n - 1);
      expect(range.at(-1)).toEqual([T0 + (n - 2) * 1000, n - 1]);
      expect(s.latest(id)).toEqual([T0 + (n - 2) * 1000, n - 1]);
      expect(s.loadCurrent().get(id)).toEqual({ value: n - 1 });
    };
    check(store);
    await store.close();
    const again = stores.open();
    check(again);
  });
});
