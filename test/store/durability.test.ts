/**
 * SIGKILL durability: every flush a child process saw resolve must be on disk after the child is
 * killed without warning. The kill point comes from a seeded PRNG (after the k-th reported flush),
 * never from a timing sleep.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, killChildren, seededRandom, spawnFixture, tempStores } from './store-fixture.js';

const POINTS_PER_FLUSH = 500;
const CHILD_TIMEOUT_MS = 20_000;

let stores: ReturnType<typeof tempStores> | undefined;

beforeAll(() => assertBuilt());

afterEach(async () => {
  await killChildren();
  await stores?.cleanup();
  stores = undefined;
});

describe('MetricStore durability', () => {
  const random = seededRandom(0x5eed);
  const killAfter = [1, 2, 3, 4, 5].map(() => 2 + Math.floor(random() * 30));

  it.each(killAfter.map((k, trial) => [trial + 1, k]))(
    'keeps every reported flush after SIGKILL (trial %i, killed after flush %i)',
    async (_trial, k) => {
      stores = tempStores();
      const child = spawnFixture('flush-loop.mjs', [stores.dir, String(POINTS_PER_FLUSH)], CHILD_TIMEOUT_MS);
      for (;;) {
        const line = await child.nextLine();
        expect(line).toMatch(/^flushed \d+$/);
        if (Number(line.split(' ')[1]) >= k) break;
      }
      child.proc.kill('SIGKILL');
      const { signal } = await child.exited;
      expect(signal).toBe('SIGKILL');

      // Lines that were already in the pipe when the kill landed count as reported too.
      const reported = Math.max(...child.lines.map((line) => Number(line.split(' ')[1])));
      expect(reported).toBeGreaterThanOrEqual(k);

      const store = stores.open();
      const id = store.seriesId('seq');
      expect(id).toBe(1);
      const points = store.queryRange(id!, 0, (reported + 1) * POINTS_PER_FLUSH - 1, Number.MAX_SAFE_INTEGER);
      expect(points).toHaveLength(reported * POINTS_PER_FLUSH);
      const wrong = points.filter(([ts, value]) => value !== Math.floor(ts / POINTS_PER_FLUSH));
      expect(wrong).toEqual([]);
      expect((store.loadCurrent().get(id!) as { seq: number }).seq).toBeGreaterThanOrEqual(reported);
    },
  );
});
