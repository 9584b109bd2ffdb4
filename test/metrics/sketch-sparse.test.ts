import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Sketch, SlidingSketch, SPARSE_MAX, sketchKey } from '../../src/metrics/sketch.js';
import { SliceClock } from '../../src/metrics/slice-clock.js';
import { newRegistry } from './table-fixture.js';

const SLICE_MS = 10_000;
const SLICES = 30;
const WINDOWS_MS = [SLICE_MS, 60_000, 300_000];

/**
 * Finite values of every kind the sketch buckets: positive, negative, zero and subnormal. The
 * range is kept to ~30 octaves so the reference sketches (dense over the whole range) stay cheap.
 */
const value = fc.oneof(
  { weight: 6, arbitrary: fc.double({ min: 0.001, max: 100_000, noNaN: true }) },
  { weight: 1, arbitrary: fc.double({ min: -1000, max: -0.001, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -0, 5e-324, 1, 1.5, 1000) },
);

/** One step of a run: advance the clock by some slices, then observe a batch (small: sparse; large: dense). */
const step = fc.record({
  advance: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 4, max: 40 })),
  values: fc.oneof(
    fc.array(value, { maxLength: 20 }),
    fc.array(value, { minLength: SPARSE_MAX - 5, maxLength: SPARSE_MAX + 60 }),
  ),
});

function sketchOf(values: readonly number[]): Sketch {
  const sketch = new Sketch();
  for (const v of values) sketch.add(v);
  return sketch;
}

describe('SlidingSketch sparse and dense slices', () => {
  it('holds exactly what a dense sketch of the window holds, for any mix of quiet and busy slices', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        const clock = new SliceClock(SLICE_MS, 0);
        const sliding = new SlidingSketch(clock, SLICES);
        const seen: { slice: number; value: number }[] = [];
        for (const { advance, values } of steps) {
          clock.tick((clock.slice + advance) * SLICE_MS);
          for (const v of values) {
            sliding.addKey(sketchKey(v));
            seen.push({ slice: clock.slice, value: v });
          }
          for (const windowMs of WINDOWS_MS) {
            const oldest = clock.slice - windowMs / SLICE_MS;
            const expected = sketchOf(seen.filter((s) => s.slice > oldest).map((s) => s.value));
            const merged = sliding.merged(windowMs);
            expect(merged.toJSON()).toEqual(expected.toJSON());
            expect(sliding.count(windowMs)).toBe(expected.count);
            for (const q of [0, 0.5, 0.99, 1]) expect(sliding.quantile(q, windowMs)).toBe(expected.quantile(q));
          }
        }
      }),
      { seed: 20261206, numRuns: 60 },
    );
  });

  it('gives identical quantiles for one slice kept sparse and the same data after it went dense', () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: SPARSE_MAX }),
        fc.array(value, { minLength: 1, maxLength: 200 }),
        (sparse, extra) => {
          const clock = new SliceClock(SLICE_MS, 0);
          const quiet = new SlidingSketch(clock, SLICES);
          for (const v of sparse) quiet.add(v);
          const busy = new SlidingSketch(clock, SLICES);
          // The busy ring sees enough extra keys to go dense, then the same data: dense minus extra equals sparse.
          const both = [...sparse, ...extra, ...Array.from({ length: SPARSE_MAX }, () => 1)];
          for (const v of both) busy.add(v);
          const expected = sketchOf(both);
          expect(busy.merged(SLICE_MS).toJSON()).toEqual(expected.toJSON());
          expect(quiet.merged(SLICE_MS).toJSON()).toEqual(sketchOf(sparse).toJSON());
        },
      ),
      { seed: 7, numRuns: 100 },
    );
  });

  it('keeps a quiet series in a log of a few hundred keys and a busy one in dense slots without growing', () => {
    const clock = new SliceClock(SLICE_MS, 0);
    const quiet = new SlidingSketch(clock, SLICES);
    const busy = new SlidingSketch(clock, SLICES);
    const lap = (from: number) => {
      for (let s = from; s < from + SLICES; s++) {
        clock.tick(s * SLICE_MS);
        for (let i = 0; i < 10; i++) quiet.add(1 + ((s * 10 + i) % 977));
        for (let i = 0; i < 5000; i++) busy.add(1 + ((s * 7 + i) % 977));
      }
    };
    lap(0);
    lap(SLICES);
    // 300-310 live keys: a 16-bit log at most a quarter larger than the live keys when it last
    // grew, plus the slot table (one key count per slot).
    const quietBytes = quiet.byteLength;
    expect(quietBytes).toBeLessThanOrEqual(2 * Math.ceil(1.25 * 311) + SLICES);
    const busyBytes = busy.byteLength;
    lap(2 * SLICES);
    lap(3 * SLICES);
    expect(quiet.byteLength).toBe(quietBytes);
    expect(busy.byteLength).toBe(busyBytes);
    expect(quiet.count(300_000)).toBe(300);
    expect(busy.count(300_000)).toBe(SLICES * 5000);
  });

  it('shrinks the log after a burst once the burst has left the window', () => {
    const clock = new SliceClock(SLICE_MS, 0);
    const sliding = new SlidingSketch(clock, SLICES);
    for (let s = 0; s < SLICES; s++) {
      clock.tick(s * SLICE_MS);
      for (let i = 0; i < SPARSE_MAX; i++) sliding.add(1 + i);
    }
    const peak = sliding.byteLength;
    for (let s = SLICES; s < 3 * SLICES; s++) {
      clock.tick(s * SLICE_MS);
      sliding.add(5);
    }
    expect(sliding.byteLength).toBeLessThan(peak / 8);
    expect(sliding.count(300_000)).toBe(SLICES);
  });

  it('sends a slice dense at a key its 16-bit log cannot hold, losing nothing', () => {
    const clock = new SliceClock(SLICE_MS, 0);
    const sliding = new SlidingSketch(clock, SLICES);
    const values = [3, 40, 0, 7, -2.5, 2 ** 1000, 9];
    for (const v of values) sliding.add(v);
    expect(sliding.merged(SLICE_MS).toJSON()).toEqual(sketchOf(values).toJSON());
    // The log went dense at the zero: only the first two keys ever sat in it.
    expect(sliding.byteLength).toBeGreaterThan(1000);
  });
});

describe('count promotion on overflow', () => {
  it('moves a sketch from 8- to 16- to 32-bit counts and keeps every count exact', () => {
    const sketch = new Sketch();
    const key = sketchKey(3);
    for (let i = 0; i < 255; i++) sketch.addKey(key);
    expect(sketch.byteLength).toBe(64);
    sketch.addKey(key);
    expect(sketch.byteLength).toBe(128);
    expect(sketch.toJSON().pos.counts).toEqual([256]);
    for (let i = 256; i < 70_000; i++) sketch.addKey(key);
    expect(sketch.byteLength).toBe(256);
    expect(sketch.toJSON().pos.counts).toEqual([70_000]);
    expect(sketch.count).toBe(70_000);
    expect(sketch.quantile(0.5)).toBe(sketchOf([3]).quantile(0.5));
  });

  it('promotes when a merge overflows, and promotes negative counts too', () => {
    const a = sketchOf([...Array.from({ length: 200 }, () => -7), ...Array.from({ length: 200 }, () => 7)]);
    const b = sketchOf([...Array.from({ length: 200 }, () => -7), ...Array.from({ length: 200 }, () => 7)]);
    a.merge(b);
    a.merge(a);
    const json = a.toJSON();
    expect(json.pos.counts).toEqual([800]);
    expect(json.neg.counts).toEqual([800]);
    expect(a.count).toBe(1600);
  });

  it('round-trips counts of any width through JSON, up to 2^53', () => {
    for (const big of [255, 256, 65_536, 2 ** 32, 2 ** 40]) {
      const json = { v: 1, zero: 3, pos: { offset: 10, counts: [1, 0, big] }, neg: { offset: 5, counts: [big] } };
      const back = Sketch.fromJSON(json);
      expect(back.toJSON()).toEqual(json);
      expect(back.count).toBe(3 + 1 + 2 * big);
      back.addKey(10);
      expect(back.toJSON().pos.counts).toEqual([2, 0, big]);
    }
  });

  it('promotes a dense window slot past 65,535 in one bucket', () => {
    const clock = new SliceClock(SLICE_MS, 0);
    const sliding = new SlidingSketch(clock, SLICES);
    for (let i = 0; i < 70_000; i++) sliding.add(42);
    expect(sliding.count(SLICE_MS)).toBe(70_000);
    expect(sliding.merged(SLICE_MS).toJSON().pos.counts).toEqual([70_000]);
  });
});

describe('histogram state with wide counts', () => {
  it('survives a snapshot/restore round trip with counts past 8 and 16 bits', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('wide');
    for (let i = 0; i < 70_000; i++) h.observe(250);
    for (let i = 0; i < 300; i++) h.observe(1 + i);
    const state = JSON.parse(JSON.stringify(h.bind().snapshot()));
    const other = newRegistry().registry.histogram('wide');
    other.bind().restore(state);
    expect(other.get()!.percentiles).toEqual(h.get()!.percentiles);
    expect(other.get()!.count).toBe(70_300);
    other.observe(250);
    expect(other.get()!.percentiles.p50).toBe(h.get()!.percentiles.p50);
    expect(other.bind().snapshot()).toMatchObject({ c: 70_301 });
  });
});
