/**
 * Time-bucket downsampling for range queries: at most `maxPoints` points out, whatever came in.
 *
 * The requested range `[fromMs, toMs]` is cut into `maxPoints` equal time buckets (fixed by the
 * request, not by the data, so a live chart that re-queries a sliding window sees stable buckets).
 * Each non-empty bucket becomes one point:
 * - value: the weighted average of the bucket's points (weight 1 for a raw point, the number of raw
 *   points for a rollup-derived point, so the result is the true mean of the underlying samples);
 * - timestamp: the timestamp of the bucket's **last** point, so every output timestamp is a real
 *   sample time inside the range and the output stays strictly increasing.
 * Empty buckets produce no point (gaps stay gaps). One pass, no allocation per input point.
 */
import type { RangePoint } from './types.js';

/**
 * Downsamples time-sorted points to at most `maxPoints` by averaging per time bucket.
 *
 * Input shorter than or equal to `maxPoints` is returned unchanged (as pairs).
 *
 * @param ts timestamps, ascending, all within `[fromMs, toMs]`
 * @param values values, same length as `ts`
 * @param weights optional per-point weights (> 0), same length; default 1 each
 * @param fromMs start of the requested range (inclusive)
 * @param toMs end of the requested range (inclusive), >= `fromMs`
 * @param maxPoints the most points to return, an integer >= 1
 * @returns `[ts, value]` pairs, ascending by `ts`, at most `maxPoints` of them
 */
export function downsample(
  ts: ArrayLike<number>,
  values: ArrayLike<number>,
  weights: ArrayLike<number> | undefined,
  fromMs: number,
  toMs: number,
  maxPoints: number,
): RangePoint[] {
  const n = ts.length;
  const out: RangePoint[] = [];
  if (n <= maxPoints) {
    for (let i = 0; i < n; i++) out.push([ts[i]!, values[i]!]);
    return out;
  }
  const span = toMs - fromMs;
  const last = maxPoints - 1;
  let bucket = -1;
  let start = 0;
  let sum = 0;
  let weight = 0;
  let lastTs = 0;
  for (let i = 0; i < n; i++) {
    const t = ts[i]!;
    // span 0 means every point sits at fromMs: one bucket. The min() keeps t === toMs in the last bucket.
    const b = span > 0 ? Math.min(last, Math.floor(((t - fromMs) * maxPoints) / span)) : 0;
    if (b !== bucket) {
      if (weight > 0) out.push([lastTs, mean(values, weights, start, i, sum, weight)]);
      bucket = b;
      start = i;
      sum = 0;
      weight = 0;
    }
    const w = weights === undefined ? 1 : weights[i]!;
    sum += values[i]! * w;
    weight += w;
    lastTs = t;
  }
  if (weight > 0) out.push([lastTs, mean(values, weights, start, n, sum, weight)]);
  return out;
}

/**
 * The weighted mean of `values[from..to)`: `sum / weight`, unless the sum overflowed (values near
 * ±MAX_VALUE, or times a rollup's count), then again with each weight divided by the total first,
 * so no term exceeds its value. Rounding can still step past the largest input: the mean is kept in
 * the inputs' range.
 */
function mean(
  values: ArrayLike<number>,
  weights: ArrayLike<number> | undefined,
  from: number,
  to: number,
  sum: number,
  weight: number,
): number {
  const plain = sum / weight;
  if (Number.isFinite(plain)) return plain;
  let scaled = 0;
  let min = Infinity;
  let max = -Infinity;
  for (let i = from; i < to; i++) {
    const v = values[i]!;
    scaled += v * ((weights === undefined ? 1 : weights[i]!) / weight);
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return Math.min(max, Math.max(min, scaled));
}
