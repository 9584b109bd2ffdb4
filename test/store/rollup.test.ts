import { describe, expect, it } from 'vitest';
import { addPoint, bucketStart, isRollupCell, mergeCells, type RollupCell, toRollup } from '../../src/store/rollup.js';

describe('rollup cells', () => {
  it('buckets timestamps by whole minutes', () => {
    expect([0, 59_999, 60_000, 125_000].map(bucketStart)).toEqual([0, 0, 60_000, 120_000]);
  });

  it('folds points into count, sum, min, max and the newest value', () => {
    let cell: RollupCell | undefined;
    for (const [ts, value] of [
      [10, 5],
      [30, -2],
      [20, 9],
    ] as const) {
      cell = addPoint(cell, ts, value);
    }
    expect(cell).toEqual([3, 12, -2, 9, -2, 30]);
    expect(toRollup(0, cell!)).toEqual({ start: 0, avg: 4, min: -2, max: 9, count: 3, last: -2, lastTs: 30 });
  });

  it('merges two cells of a bucket exactly, keeping the newer last value', () => {
    expect(mergeCells([2, 10, 4, 6, 6, 50], [1, 1, 1, 1, 1, 20])).toEqual([3, 11, 1, 6, 6, 50]);
    expect(mergeCells([1, 1, 1, 1, 1, 20], [2, 10, 4, 6, 6, 50])).toEqual([3, 11, 1, 6, 6, 50]);
  });

  it('recognises only well-formed stored cells', () => {
    expect(isRollupCell([1, 1, 1, 1, 1, 1])).toBe(true);
    expect(isRollupCell([0, 0, 0, 0, 0, 0])).toBe(false);
    expect(isRollupCell({ avg: 1 })).toBe(false);
    expect(isRollupCell([1, 1, 1, 1, '1', 1])).toBe(false);
  });
});
