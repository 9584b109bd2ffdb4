import { describe, expect, it } from 'vitest';
import { downsample } from '../../src/store/downsample.js';
import { seededRandom } from './store-fixture.js';

describe('downsample', () => {
  it('returns the input as pairs when it has at most maxPoints points', () => {
    expect(downsample([1, 2, 3], [10, 20, 30], undefined, 0, 10, 3)).toEqual([
      [1, 10],
      [2, 20],
      [3, 30],
    ]);
    expect(downsample([], [], undefined, 0, 10, 1)).toEqual([]);
  });

  it('averages each time bucket of the requested range and stamps it with its last point', () => {
    // Range [0, 100] in 4 buckets of 25 ms.
    const ts = [0, 10, 24, 25, 49, 80, 100];
    const values = [1, 2, 3, 10, 20, 7, 9];
    expect(downsample(ts, values, undefined, 0, 100, 4)).toEqual([
      [24, 2],
      [49, 15],
      [100, 8], // 80 and the point at toMs share the last bucket; the empty third bucket gives no point
    ]);
  });

  it('weights points (a rollup counts as its number of raw points)', () => {
    expect(downsample([0, 60, 70], [10, 40, 0], [3, 1, 1], 0, 99, 1)).toEqual([[70, (30 + 40 + 0) / 5]]);
  });

  it('averages values near ±MAX_VALUE to a finite mean where their sum overflows', () => {
    const MAX = Number.MAX_VALUE;
    const [[, both]] = downsample([0, 1, 2], [MAX, MAX, MAX / 2], undefined, 0, 2, 1) as [[number, number]];
    expect(both / MAX).toBeCloseTo(2.5 / 3, 12);
    // A rollup of 60 points at MAX_VALUE: MAX * 60 overflows, the mean is MAX itself.
    expect(downsample([0, 10], [MAX, MAX], [60, 1], 0, 10, 1)).toEqual([[10, MAX]]);
    expect(downsample([0, 10, 20], [-MAX, -MAX, MAX], [1, 1, 1], 0, 20, 1)[0]![1] / MAX).toBeCloseTo(-1 / 3, 12);
    // Buckets beside an overflowing one keep their plain average.
    expect(downsample([0, 1, 8, 9], [MAX, MAX, 1, 2], undefined, 0, 9, 2)).toEqual([
      [1, MAX],
      [9, 1.5],
    ]);
  });

  it('puts everything in one bucket when the range is a single instant', () => {
    expect(downsample([5, 5], [1, 3], undefined, 5, 5, 1)).toEqual([[5, 2]]);
  });

  it('never returns more than maxPoints, in strictly increasing time, for any input', () => {
    const random = seededRandom(42);
    for (let trial = 0; trial < 200; trial++) {
      const from = Math.floor(random() * 1e6);
      const to = from + Math.floor(random() * 1e6);
      const n = 1 + Math.floor(random() * 500);
      const ts = Array.from({ length: n }, () => from + Math.floor(random() * (to - from + 1))).sort((a, b) => a - b);
      const values = ts.map(() => random() * 100);
      const maxPoints = 1 + Math.floor(random() * 50);
      const out = downsample(ts, values, undefined, from, to, maxPoints);
      expect(out.length).toBeLessThanOrEqual(Math.max(maxPoints, 0));
      for (let i = 1; i < out.length; i++) expect(out[i]![0]).toBeGreaterThan(out[i - 1]![0]);
      const total = values.reduce((s, v) => s + v, 0);
      if (n > maxPoints) expect(downsample(ts, values, undefined, from, to, 1)[0]![1]).toBeCloseTo(total / n, 9);
    }
  });
});
