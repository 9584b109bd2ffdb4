/**
 * The writer thread makes the room for a large flush itself (src/store/flush-thread.ts), under
 * LMDB's write lock, from the bytes the flush puts: on a full 8 MiB tmpfs such a flush is refused
 * with the store's ENOSPC message (not a failed commit) and nothing of it is written; once space is
 * freed the same flush commits. Also the estimates themselves (src/store/headroom.ts).
 *
 * Mounting needs root: the tmpfs case skips, naming why, and fails under REQUIRE_SYSTEM_DEPS=1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MonitorError } from '../../src/errors.js';
import {
  flushRoomAtCommit,
  flushRoomBefore,
  headroomFor,
  MIN_HEADROOM_BYTES,
  SPILL_PAGES,
} from '../../src/store/headroom.js';
import { MetricStore, SMALL_FLUSH_PUTS } from '../../src/store/lmdb-store.js';
import { cannotMount, mountTmpfs, unmountAll } from '../faults/small-fs-fixture.js';

const skipReason = cannotMount();
const T0 = 1_700_000_000_000;
const SERIES = 2000;

afterAll(() => {
  expect(unmountAll()).toEqual([]);
});

describe('flush room estimates', () => {
  it('asks room before the puts only when the flush could make LMDB spill pages early', () => {
    const small = { currents: 100_000, currentBytes: 500_000, points: 100_000, series: 100_000 };
    expect(flushRoomBefore(small, 3_000, 4096)).toBe(0);
    const huge = { currents: 1_000_000, currentBytes: 5_000_000, points: 1_000_000, series: 1_000_000 };
    const before = flushRoomBefore(huge, SPILL_PAGES, 4096);
    expect(before).toBeGreaterThanOrEqual(SPILL_PAGES * 4096);
  });

  it('asks room at the commit from the exact bytes put, at least the minimum', () => {
    expect(flushRoomAtCommit(1, 10)).toBe(MIN_HEADROOM_BYTES);
    expect(flushRoomAtCommit(200_000, 3_000_000)).toBe(headroomFor(200_000, 3_000_000 + 200_000 * 12));
    // The earlier estimate assumed 512 B of head per series: 100,000 series asked > 100 MB.
    expect(flushRoomAtCommit(200_000, 3_000_000)).toBeLessThan(headroomFor(200_000, 100_000 * 512));
  });
});

describe.skipIf(skipReason !== undefined)(
  `a writer-thread flush on a full tmpfs${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    it('is refused with ENOSPC before its commit, writes nothing, and commits once space is freed', async () => {
      const fsys = mountTmpfs();
      const dataDir = path.join(fsys.dir, 'store');
      const ballast = path.join(fsys.dir, 'ballast');
      let store = MetricStore.open({ dataDir });
      try {
        const ids = Array.from({ length: SERIES }, (_, i) =>
          store.defineSeries(`s${i}`, { name: `s${i}`, type: 'gauge' }),
        );
        await store.flush({
          current: ids.map((id) => [id, { v: 1 }] as const),
          points: ids.map((id) => ({ id, ts: T0, value: 1 })),
        });
        // Fill the tmpfs (bounded: 8 MiB in 64 KiB writes), so the flush below cannot have its room.
        const fd = fs.openSync(ballast, 'w');
        try {
          for (let i = 0; i < 200; i++) fs.writeSync(fd, Buffer.alloc(64 * 1024, 1));
        } catch (e) {
          expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC');
        } finally {
          fs.closeSync(fd);
        }
        const big = {
          current: ids.map((id) => [id, { v: 2, pad: 'x'.repeat(600) }] as const),
          points: ids.map((id) => ({ id, ts: T0 + 1000, value: 2 })),
        };
        expect(big.current.length + big.points.length).toBeGreaterThan(SMALL_FLUSH_PUTS);
        const err = await store.flush(big).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(MonitorError);
        expect((err as MonitorError).code).toBe('EMON_STORE_FAILED');
        expect((err as MonitorError).message).toMatch(
          /flush: not written: the metric store has no room to grow .*data\.mdb: ENOSPC/,
        );
        expect(store.writeStatus()).toMatchObject({ reason: 'ENOSPC' });
        expect(store.latest(ids[0]!)?.[1]).toBe(1);
        expect(store.queryRange(ids[SERIES - 1]!, T0, T0 + 5000, 100)).toHaveLength(1);

        fs.rmSync(ballast);
        await store.flush(big);
        await store.close();
        store = MetricStore.open({ dataDir });
        expect(store.latest(ids[0]!)?.[1]).toBe(2);
        expect(store.queryRange(ids[SERIES - 1]!, T0, T0 + 5000, 100)).toHaveLength(2);
      } finally {
        await store.close();
      }
    }, 120_000);
  },
);
