/**
 * 1-minute rollup buckets: what is left of raw points once they pass the raw retention.
 *
 * A bucket is stored as the compact array `[count, sum, min, max, last, lastTs]` (a
 * {@link RollupCell}) rather than `{ avg, … }`: keeping `sum` instead of `avg` makes two cells of
 * the same bucket mergeable exactly, which `prune` needs when a bucket's points arrive in two
 * chunks or a late point lands in a bucket that was already rolled up. `last`/`lastTs` keep the
 * newest raw point so `latest()` still answers after the raw point is gone.
 */
import type { Rollup } from './types.js';

/** Width of a rollup bucket: 1 minute. */
export const ROLLUP_BUCKET_MS = 60_000;

/** Stored form of a rollup bucket: `[count, sum, min, max, last, lastTs]`. */
export type RollupCell = [count: number, sum: number, min: number, max: number, last: number, lastTs: number];

/**
 * Start of the bucket holding `ts`.
 * @param ts a timestamp in ms
 */
export function bucketStart(ts: number): number {
  return Math.floor(ts / ROLLUP_BUCKET_MS) * ROLLUP_BUCKET_MS;
}

/**
 * Folds one raw point into a cell (a new cell when `cell` is undefined). Mutates and returns `cell`.
 * @param cell the bucket so far, or undefined
 * @param ts the point's timestamp
 * @param value the point's value
 */
export function addPoint(cell: RollupCell | undefined, ts: number, value: number): RollupCell {
  if (cell === undefined) return [1, value, value, value, value, ts];
  cell[0] += 1;
  cell[1] += value;
  if (value < cell[2]) cell[2] = value;
  if (value > cell[3]) cell[3] = value;
  if (ts >= cell[5]) {
    cell[4] = value;
    cell[5] = ts;
  }
  return cell;
}

/**
 * Merges two cells of the same bucket into a new cell.
 * @param a one cell
 * @param b another cell of the same bucket
 */
export function mergeCells(a: RollupCell, b: RollupCell): RollupCell {
  const newer = b[5] >= a[5] ? b : a;
  return [a[0] + b[0], a[1] + b[1], Math.min(a[2], b[2]), Math.max(a[3], b[3]), newer[4], newer[5]];
}

/**
 * Whether a stored value is a well-formed cell (guards reads of data written by another version).
 * @param value what the rollup database returned
 */
export function isRollupCell(value: unknown): value is RollupCell {
  return Array.isArray(value) && value.length === 6 && value[0] > 0 && value.every((x) => typeof x === 'number');
}

/**
 * The public view of a cell.
 * @param start the bucket start
 * @param cell the stored cell
 */
export function toRollup(start: number, cell: RollupCell): Rollup {
  const [count, sum, min, max, last, lastTs] = cell;
  return { start, avg: sum / count, min, max, count, last, lastTs };
}
