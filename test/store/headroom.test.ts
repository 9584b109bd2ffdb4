/**
 * A store on a real 8 MiB tmpfs filling up: every write is refused by the headroom check before
 * LMDB sees it, so no LMDB commit ever fails (a failed page write runs lmdb-js's overflowing error
 * path, see src/store/headroom.ts). Refusals are the store's own message with the filesystem's
 * ENOSPC; a failed commit would say "the commit failed" (commit-guard.ts) or come back from the
 * writer thread with lmdb-js's message. Once space is freed, writing resumes.
 *
 * Mounting needs root: the suite skips, naming why, and fails under REQUIRE_SYSTEM_DEPS=1.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MonitorError } from '../../src/errors.js';
import { MetricStore, SMALL_FLUSH_PUTS } from '../../src/store/lmdb-store.js';
import { cannotMount, mountTmpfs, unmountAll } from '../faults/small-fs-fixture.js';

const skipReason = cannotMount();
const T0 = 1_700_000_000_000;
const MIB = 1024 * 1024;

afterAll(() => {
  expect(unmountAll()).toEqual([]);
});

describe.skipIf(skipReason !== undefined)(
  `headroom on a full tmpfs${skipReason === undefined ? '' : ` (skipped: ${skipReason})`}`,
  () => {
    it('refuses writes with ENOSPC before LMDB fails a commit, and writes again once space is freed', async () => {
      const fsys = mountTmpfs();
      const dataDir = path.join(fsys.dir, 'store');
      const ballast = path.join(fsys.dir, 'ballast');
      fs.writeFileSync(ballast, Buffer.alloc(4 * MIB, 1));
      let store = MetricStore.open({ dataDir });
      try {
        const alerts = store.records<{ text: string }>('alerts');
        const errors: unknown[] = [];
        let written = 0;
        let ts = T0;
        // Bounded: what the ballast leaves fills in a few dozen rounds, long before 600.
        for (let round = 0; round < 600 && errors.length < 6; round++) {
          ts += 1000;
          const ids: number[] = [];
          try {
            for (let i = 0; i < 20; i++)
              ids.push(
                store.defineSeries(`s${round}.${i}`, { name: `s${round}_${i}`, type: 'gauge', help: 'h'.repeat(500) }),
              );
          } catch (err) {
            errors.push(err);
          }
          // Alternate main-thread and writer-thread flushes.
          const perSeries = round % 2 === 0 ? 1 : Math.ceil((SMALL_FLUSH_PUTS + 1) / Math.max(1, ids.length));
          const points = ids.flatMap((id) =>
            Array.from({ length: perSeries }, (_, k) => ({ id, ts: ts + k, value: k })),
          );
          try {
            await store.flush({ current: ids.map((id) => [id, { v: round }] as const), points });
            written++;
          } catch (err) {
            errors.push(err);
          }
          try {
            await alerts.put(`a${round}`, { text: 'x'.repeat(2000) });
          } catch (err) {
            errors.push(err);
          }
        }
        expect(written).toBeGreaterThan(5);
        expect(errors.length).toBeGreaterThan(0);
        for (const err of errors) {
          expect(err).toBeInstanceOf(MonitorError);
          expect((err as MonitorError).code).toBe('EMON_STORE_FAILED');
          const chain: string[] = [];
          for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(e.message);
          expect(chain.join(' | ')).toMatch(/no room to grow .*data\.mdb: ENOSPC/);
          expect(chain.join(' | ')).not.toMatch(/commit failed/);
        }
        expect(store.writeStatus()).toMatchObject({ reason: 'ENOSPC' });

        fs.rmSync(ballast);
        const id = store.defineSeries('after', { name: 'after', type: 'gauge' });
        await store.flush({ current: [[id, { v: 42 }]], points: [{ id, ts: ts + 5000, value: 42 }] });
        // Nothing is held back once there is room: the next record write commits.
        await alerts.put('after', { text: 'back' });
        await store.close();

        store = MetricStore.open({ dataDir });
        const again = store.seriesId('after')!;
        expect(store.latest(again)?.[1]).toBe(42);
        expect(store.records<{ text: string }>('alerts').range({ start: 'after', end: 'after\0' })).toEqual([
          ['after', { text: 'back' }],
        ]);
      } finally {
        await store.close();
      }
    }, 120_000);
  },
);
