/**
 * SIGKILL during the layout 2 -> 3 conversion: a child process converts a generated layout-2 store
 * and is killed once its committed progress reaches a seeded point (never after a timing sleep);
 * the reopened store finishes the conversion with every point and rollup cell.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { toRollup } from '../../src/store/rollup.js';
import { writeLayout2Store } from './fixtures/layout2-generator.js';
import { assertBuilt, killChildren, seededRandom, spawnFixture, tempStores } from './store-fixture.js';

const CHILD_TIMEOUT_MS = 60_000;
const ALL = Number.MAX_SAFE_INTEGER;
const SPEC = { series: 30, pointsPerSeries: 1200, cellsPerSeries: 200 };
const TOTAL = SPEC.series * (SPEC.pointsPerSeries + SPEC.cellsPerSeries);

let stores: ReturnType<typeof tempStores> | undefined;

beforeAll(() => assertBuilt());

afterEach(async () => {
  await killChildren();
  await stores?.cleanup();
  stores = undefined;
});

describe('layout 2 conversion under SIGKILL', () => {
  const random = seededRandom(0xc0417);
  // 0: right after the open marked the store; the others anywhere in the points or the cells.
  const killAt = [0, ...[1, 2, 3, 4].map(() => 1 + Math.floor(random() * (TOTAL - 1)))];

  it.each(killAt.map((k, trial) => [trial + 1, k]))(
    'reopens and finishes with every point (trial %i, killed at %i entries converted)',
    async (_trial, k) => {
      stores = tempStores();
      const generated = await writeLayout2Store(stores.dir, SPEC);
      const child = spawnFixture('convert-loop.mjs', [stores.dir], CHILD_TIMEOUT_MS);
      let seen: number;
      for (;;) {
        const line = await child.nextLine();
        expect(line).toMatch(/^progress \d+$/);
        seen = Number(line.split(' ')[1]);
        if (seen >= k) break;
      }
      child.proc.kill('SIGKILL');
      const { signal } = await child.exited;
      expect(signal).toBe('SIGKILL');

      const store = stores.open();
      const progress = store.conversionProgress();
      expect(progress).toBeDefined();
      expect(progress!.convertedPoints + progress!.convertedCells).toBeGreaterThanOrEqual(seen);
      await store.converted();
      expect(store.conversionProgress()).toBeUndefined();
      for (const s of generated) {
        const raw = store.queryRange(s.id, s.ts[0]!, ALL, ALL);
        expect(raw.map((p) => p[0])).toEqual(s.ts);
        expect(raw.map((p) => p[1])).toEqual(s.values);
        expect(store.rollups(s.id, 0, ALL)).toEqual(s.cells.map(([start, cell]) => toRollup(start, cell)));
      }
    },
  );
});

describe('layout 2 conversion seen from another process', () => {
  it('serves every point to a reader that opened the layout-2 store before the conversion began', async () => {
    stores = tempStores();
    const generated = await writeLayout2Store(stores.dir, { series: 4, pointsPerSeries: 600, cellsPerSeries: 0 });
    const reader = spawnFixture('reader.mjs', [stores.dir], CHILD_TIMEOUT_MS);
    expect(await reader.nextLine()).toBe('ready');
    const ask = async (key: string): Promise<{ points: [number, number][] }> => {
      reader.send(key);
      return JSON.parse(await reader.nextLine());
    };
    const last = generated[3]!;
    const before = await ask(last.key);
    expect(before.points.map((p) => p[0])).toEqual(last.ts);
    expect(before.points.map((p) => p[1])).toEqual(last.values);

    const store = stores.open();
    await store.converted();
    expect(store.stats().databases.find((d) => d.name === 'points')?.entries).toBe(0);
    for (const s of generated) {
      const seen = await ask(s.key);
      expect(seen.points.map((p) => p[0])).toEqual(s.ts);
      expect(seen.points.map((p) => p[1])).toEqual(s.values);
    }
  });
});
