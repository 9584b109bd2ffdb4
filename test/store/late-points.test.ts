/**
 * Late points (at or before a series' stored last ts) take the slow path of history-chunks.ts:
 * decode, merge, re-encode the chunks they overlap. A small flush holding one is written by the
 * writer thread, not the main thread (1,000 series x one late point held the loop 0.7-0.84 s);
 * and a late point into a full chunk keeps it one chunk (it used to split into a full chunk and
 * a chunk of a few rows, never merged again).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PointRecord } from '../../src/store/types.js';
import { countWriterThreadWrites, seededRandom, tempStores } from './store-fixture.js';

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

describe('a small flush with a late point', () => {
  it('is written by the writer thread, appends stay on the main thread, and the points are exact', async () => {
    const store = stores.open();
    const ids = Array.from({ length: 50 }, (_, i) => store.defineSeries(`s${i}`, { name: `s${i}`, type: 'gauge' }));
    const model = new Map<number, Map<number, number>>(ids.map((id) => [id, new Map()]));
    const flush = async (pts: PointRecord[]) => {
      for (const p of pts) model.get(p.id)!.set(p.ts, p.value);
      return store.flush({ points: pts });
    };
    for (let k = 0; k < 300; k += 10) {
      const pts: PointRecord[] = [];
      for (let j = 0; j < 10; j++)
        for (const id of ids) pts.push({ id, ts: T0 + (k + j) * 10_000, value: (k + j) * 0.25 + id });
      expect((await flush(pts)).writer).toBe('main');
    }
    expect(writerCalls.count).toBe(0);

    // One series late (between stored points), the rest appending.
    const mixed = ids.map((id, i) => ({ id, ts: i === 7 ? T0 + 5_000 : T0 + 300 * 10_000, value: -1.5 - i }));
    expect((await flush(mixed)).writer).toBe('thread');
    expect(writerCalls.count).toBe(1);
    // A duplicate of a stored ts replaces it: also the slow path.
    expect((await flush([{ id: ids[3]!, ts: T0 + 100 * 10_000, value: 42 }])).writer).toBe('thread');
    expect(writerCalls.count).toBe(2);
    // Appends only: main thread again.
    expect((await flush(ids.map((id) => ({ id, ts: T0 + 301 * 10_000, value: 1 })))).writer).toBe('main');
    expect(writerCalls.count).toBe(2);

    const check = (s: typeof store) => {
      for (const id of ids) {
        const want = [...model.get(id)!].sort((a, b) => a[0] - b[0]);
        expect(s.queryRange(id, T0, T0 + 400 * 10_000, 10_000)).toEqual(want);
      }
    };
    check(store);
    await store.close();
    const reopened = stores.open();
    check(reopened);
  });
});

describe('late points into full chunks', () => {
  it('keep the chunk count bounded and every point exact', async () => {
    const store = stores.open({ retentionMs: 1e12, rollupRetentionMs: 1e12 });
    const id = store.defineSeries('a', { name: 'a', type: 'gauge' });
    const random = seededRandom(15);
    const model = new Map<number, number>();
    const pts: PointRecord[] = [];
    let v = 50;
    for (let i = 0; i < 5000; i++) {
      v = Math.round((v + random() - 0.5) * 100) / 100;
      pts.push({ id, ts: i * 10_000, value: v });
      model.set(i * 10_000, v);
    }
    await store.flush({ points: pts });
    const entries = () => store.stats().databases.find((d) => d.name === 'history')!.entries;
    const before = entries();
    for (let k = 0; k < 200; k++) {
      const ts = Math.floor(random() * 5000) * 10_000 + 5000;
      const value = Math.round(random() * 10_000) / 100;
      model.set(ts, value);
      await store.flush({ points: [{ id, ts, value }] });
    }
    // Splitting each hit chunk left 102 entries from 6; merged chunks may grow to 1.5x the seal size.
    expect(entries()).toBeLessThanOrEqual(before * 2);
    const want = [...model].sort((a, b) => a[0] - b[0]);
    expect(store.queryRange(id, 0, 5000 * 10_000, 10_000)).toEqual(want);
  });
});
