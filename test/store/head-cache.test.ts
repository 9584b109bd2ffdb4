/**
 * The writer thread's head cache (head-cache.ts): a flush reads each series' head chunk at the
 * start it cached instead of looking it up. A stale start is data loss, so the store tells the
 * thread which heads the main thread wrote (small flushes, prune steps, the layout-2 conversion).
 * These tests interleave every writer of history and compare every stored point with a model.
 */
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChunkEncoder, decodeChunkInto } from '../../src/store/chunk-codec.js';
import { type EncodedFlush, writeFlush } from '../../src/store/flush-apply.js';
import { HeadCache } from '../../src/store/head-cache.js';
import { type ChunkDatabase, openChunkDatabases, writeSeriesHistory } from '../../src/store/history-chunks.js';
import type { PointRecord } from '../../src/store/types.js';
import { countWriterThreadWrites, seededRandom, tempStores } from './store-fixture.js';

/** A whole minute, so prune's cutoff (whole minutes) is exact. */
const T0 = 1_700_000_040_000;
const MINUTE = 60_000;
let stores: ReturnType<typeof tempStores>;

beforeEach(() => {
  stores = tempStores();
});

afterEach(async () => {
  await stores.cleanup();
});

describe('MetricStore with the writer thread caching heads', () => {
  it('keeps every point exact while thread flushes, main-thread flushes, late points and prune steps interleave', async () => {
    const writerCalls = countWriterThreadWrites();
    try {
      const retentionMs = 10 * MINUTE;
      const store = stores.open({ retentionMs });
      const ids = Array.from({ length: 400 }, (_, i) =>
        store.defineSeries(`s${i}`, { name: 's', type: 'gauge', labels: { i: String(i) } }),
      );
      const rand = seededRandom(21);
      const model = new Map<number, Map<number, number>>(ids.map((id) => [id, new Map()]));
      const next = new Map<number, number>(ids.map((id) => [id, T0]));
      let cutoff = 0;
      const point = (id: number, ts: number): PointRecord => {
        // Full-precision values: ~9 B a point, so heads seal every ~110 points.
        const p = { id, ts, value: Math.round(rand() * 1e9) / 7 };
        model.get(id)!.set(ts, p.value);
        return p;
      };
      const appends = (series: number[], each: number): PointRecord[] => {
        const pts: PointRecord[] = [];
        for (const id of series) {
          for (let k = 0; k < each; k++) {
            const ts = next.get(id)!;
            next.set(id, ts + 1000);
            pts.push(point(id, ts));
          }
        }
        return pts;
      };
      const kinds = { thread: 0, late: 0, main: 0, prune: 0 };
      for (let round = 0; round < 40; round++) {
        const r = rand();
        if (r < 0.35) {
          expect((await store.flush({ points: appends(ids, 3 + Math.floor(rand() * 10)) })).writer).toBe('thread');
          kinds.thread++;
        } else if (r < 0.55) {
          const pts = appends(ids, 3);
          // A late point (or a stored ts, replaced) for some series, after the stored head: merged by the thread.
          for (let j = 0; j < 20; j++) {
            const id = ids[Math.floor(rand() * ids.length)]!;
            const from = Math.max(cutoff, T0);
            pts.push(point(id, from + Math.floor(rand() * ((next.get(id)! - from) / 500)) * 500));
          }
          expect((await store.flush({ points: pts })).writer).toBe('thread');
          kinds.late++;
        } else if (r < 0.85) {
          const some = Array.from({ length: 5 }, () => ids[Math.floor(rand() * ids.length)]!);
          expect((await store.flush({ points: appends([...new Set(some)], 40) })).writer).toBe('main');
          kinds.main++;
        } else {
          // Prune up to a few minutes before the newest points: cuts (and rekeys) chunks, heads included.
          const newest = Math.max(...next.values());
          const nowMs = newest - 2 * MINUTE + retentionMs;
          cutoff = Math.floor((nowMs - retentionMs) / MINUTE) * MINUTE;
          await store.prune(nowMs);
          for (const points of model.values()) for (const ts of points.keys()) if (ts < cutoff) points.delete(ts);
          kinds.prune++;
        }
      }
      expect(Object.values(kinds).every((n) => n > 0)).toBe(true);
      expect(writerCalls.count).toBe(kinds.thread + kinds.late);

      const check = (s: typeof store): void => {
        for (const id of ids) {
          const want = [...model.get(id)!].sort((a, b) => a[0] - b[0]);
          expect(s.queryRange(id, Math.max(cutoff, T0), Math.max(...next.values()), 1_000_000)).toEqual(want);
        }
      };
      check(store);
      // And a flush after all of it, by the thread, appends after every series' true head.
      await store.flush({ points: appends(ids, 2) });
      check(store);
      await store.close();
      check(stores.open({ retentionMs }));
    } finally {
      writerCalls.restore();
    }
  });
});

/** One series' points, as a flush. */
function flushOf(id: number, ts: number[], values: number[]): EncodedFlush {
  return {
    currentIds: new Uint32Array(0),
    currentEnds: new Uint32Array(0),
    currentBytes: new Uint8Array(0),
    pointIds: new Uint32Array(ts.length).fill(id),
    pointTs: Float64Array.from(ts),
    pointValues: Float64Array.from(values),
  };
}

function chunksOf(history: ChunkDatabase, id: number): { start: number; ts: number[]; values: number[] }[] {
  const out = [];
  for (const { key, value } of history.getRange({ start: [id] as never, end: [id + 1] as never })) {
    const ts: number[] = [];
    const cols: number[][] = [[]];
    decodeChunkInto(value, 0, Number.MAX_SAFE_INTEGER, ts, cols);
    out.push({ start: key[1], ts, values: cols[0]! });
  }
  return out;
}

describe('writeFlush with a HeadCache', () => {
  it('appends where the cache says while it is true, and after another writer rekeyed the head only once told', async () => {
    const env = open({ path: stores.dir, maxDbs: 8 });
    try {
      const { history } = openChunkDatabases(env);
      const current = env.openDB<Uint8Array, number>('current', { keyEncoding: 'uint32', encoding: 'binary' });
      const target = { current, history };
      const heads = new HeadCache();
      const id = 7;
      const ts = Array.from({ length: 40 }, (_, i) => T0 + i * 1000);
      env.transactionSync(() =>
        writeFlush(
          target,
          flushOf(
            id,
            ts.slice(0, 20),
            ts.slice(0, 20).map((_, i) => i),
          ),
          heads,
        ),
      );
      expect(heads.start(id)).toBe(T0);
      env.transactionSync(() =>
        writeFlush(
          target,
          flushOf(
            id,
            ts.slice(20, 30),
            ts.slice(20, 30).map((_, i) => 20 + i),
          ),
          heads,
        ),
      );
      expect(chunksOf(history, id)).toEqual([
        { start: T0, ts: ts.slice(0, 30), values: ts.slice(0, 30).map((_, i) => i) },
      ]);

      // Another writer (as the conversion does) merges older points: the head is now keyed earlier,
      // and T0's chunk is gone.
      const older = [T0 - 5000, T0 + 500];
      env.transactionSync(() => writeSeriesHistory(history, id, older, [-2, -1]));
      const moved = chunksOf(history, id);
      expect(moved.map((c) => c.start)).toEqual([T0 - 5000]);
      // Not told: the cached start's chunk is gone, so the head is looked up again, not guessed.
      env.transactionSync(() => writeFlush(target, flushOf(id, [ts[30]!], [30]), heads));
      expect(heads.start(id)).toBe(T0 - 5000);

      // A head split by another writer (a late point merged into a full chunk) and the thread told.
      const enc = new ChunkEncoder(1);
      for (let i = 0; i < 3000; i++) enc.append(T0 + 100_000 + i, i % 7);
      void history.put([id, T0 + 100_000], enc.bytes()); // full: the next append opens a new head
      await env.flushed;
      // Untold, the cache would append to the chunk before it (seen inside a transaction that is then aborted).
      const abort = new Error('abort');
      expect(() =>
        env.transactionSync(() => {
          writeFlush(target, flushOf(id, [T0 + 200_000], [99]), heads);
          expect(chunksOf(history, id).map((c) => c.start)).toEqual([T0 - 5000, T0 + 100_000]);
          throw abort;
        }),
      ).toThrow(abort);
      heads.forget('all');
      heads.set(id, T0 - 5000);
      heads.forget([id]);
      env.transactionSync(() => writeFlush(target, flushOf(id, [T0 + 200_000], [99]), heads));
      expect(heads.start(id)).toBe(T0 + 200_000);
      const all = chunksOf(history, id);
      expect(all.map((c) => c.start)).toEqual([T0 - 5000, T0 + 100_000, T0 + 200_000]);
      expect(all[0]!.ts).toEqual([T0 - 5000, T0, T0 + 500, ...ts.slice(1, 31)]);
      expect(all[2]).toEqual({ start: T0 + 200_000, ts: [T0 + 200_000], values: [99] });
    } finally {
      await env.close();
    }
  });

  it('forgets what it is told: a stale start that still names a chunk is not used once forgotten', () => {
    const heads = new HeadCache();
    heads.set(3, 100);
    heads.set(5000, 200);
    expect([heads.start(3), heads.start(5000), heads.start(4), heads.start(1e6)]).toEqual([
      100,
      200,
      Number.NaN,
      Number.NaN,
    ]);
    heads.forget([5000]);
    expect([heads.start(3), heads.start(5000)]).toEqual([100, Number.NaN]);
    heads.forget('all');
    expect(heads.start(3)).toBeNaN();
  });
});
