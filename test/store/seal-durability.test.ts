/**
 * SIGKILL during chunk seals: a child flushes batches in which head chunks fill up and new chunks
 * start (every few flushes for each series, at different flushes for different series), and is
 * killed after a seeded number of reported flushes. Every reported flush must be on disk, each
 * point with its value, and the store must take appends again.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SEAL_BYTES } from '../../src/store/history-chunks.js';
import { assertBuilt, killChildren, seededRandom, spawnFixture, tempStores } from './store-fixture.js';

const SERIES = 40;
/** Points per series per flush: with ~1.5-2 B per point a 1 KiB chunk seals every few flushes. */
const PER_SERIES = 150;
const CHILD_TIMEOUT_MS = 30_000;
const valueOf = (k: number, ts: number): number => ((k * 7919 + ts * 104_729) % 100_000) / 100;

let stores: ReturnType<typeof tempStores> | undefined;

beforeAll(() => assertBuilt());

afterEach(async () => {
  await killChildren();
  await stores?.cleanup();
  stores = undefined;
});

describe('MetricStore durability across chunk seals', () => {
  const random = seededRandom(0x5ea1);
  const killAfter = [1, 2, 3].map(() => 3 + Math.floor(random() * 12));

  it.each(killAfter.map((k, trial) => [trial + 1, k]))(
    'keeps every reported flush after SIGKILL (trial %i, killed after flush %i)',
    async (_trial, k) => {
      stores = tempStores();
      const child = spawnFixture('seal-loop.mjs', [stores.dir, String(SERIES), String(PER_SERIES)], CHILD_TIMEOUT_MS);
      for (;;) {
        const line = await child.nextLine();
        expect(line).toMatch(/^flushed \d+$/);
        if (Number(line.split(' ')[1]) >= k) break;
      }
      child.proc.kill('SIGKILL');
      expect((await child.exited).signal).toBe('SIGKILL');
      const reported = Math.max(...child.lines.map((line) => Number(line.split(' ')[1])));

      const store = stores.open();
      const stats = store.stats();
      const chunks = stats.databases.find((d) => d.name === 'history')!.entries;
      // Seals happened: more chunks than series (each chunk is at most ~SEAL_BYTES).
      expect(chunks).toBeGreaterThan(SERIES);
      expect(stats.databases.find((d) => d.name === 'history')!.bytes / chunks).toBeLessThan(4 * SEAL_BYTES);
      const end = (reported + 1) * PER_SERIES - 1;
      for (let k = 0; k < SERIES; k++) {
        const id = store.seriesId(`s${k}`)!;
        const points = store.queryRange(id, 0, end, Number.MAX_SAFE_INTEGER);
        expect(points).toHaveLength(reported * PER_SERIES);
        expect(points.filter(([ts, value]) => value !== valueOf(k, ts))).toEqual([]);
      }
      // The heads left by the kill take appends: a flush after the last one reported (or one that committed unreported) lands.
      const id = store.seriesId('s0')!;
      const next = (reported + 5) * PER_SERIES;
      await store.flush({ points: [{ id, ts: next, value: 1.25 }] });
      expect(store.latest(id)).toEqual([next, 1.25]);
    },
  );
});
