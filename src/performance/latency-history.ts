/**
 * LatencyHistory: response-time distributions over windows longer than the histogram's own
 * sliding window (5 minutes), for response-time SLAs over e.g. an hour.
 *
 * It stores differences of successive readings of the all-time sketch in time buckets (at most
 * {@link MAX_BUCKETS}, at least 10 s wide), so a window is exact up to one bucket's width at its
 * old end. A reading with fewer observations than the previous one counts as new (a reset); the
 * first reading is only a baseline. Bucket sizing: docs/design-notes.md.
 */
import { Sketch, type SketchJSON, type SketchStoreJSON } from '../metrics/sketch.js';

/** Most time buckets kept over the longest window. */
export const MAX_BUCKETS = 360;
const MIN_BUCKET_MS = 10_000;

/** A window's merged distribution and how much time it really covers. */
export interface LatencyWindow {
  sketch: Sketch;
  /** ms of history behind the sketch (less than the window right after start). */
  coveredMs: number;
}

function storeDelta(cur: SketchStoreJSON, prev: SketchStoreJSON): SketchStoreJSON | undefined {
  const counts = cur.counts.slice();
  for (let i = 0; i < prev.counts.length; i++) {
    const n = prev.counts[i]!;
    if (n === 0) continue;
    const j = prev.offset + i - cur.offset;
    if (j < 0 || j >= counts.length || counts[j]! < n) return undefined;
    counts[j]! -= n;
  }
  return { offset: cur.offset, counts };
}

/**
 * The observations in `cur` that are not in `prev`, bucket by bucket.
 * @returns undefined when `cur` lacks something `prev` had (a reset)
 */
export function sketchDelta(cur: SketchJSON, prev: SketchJSON): SketchJSON | undefined {
  if (cur.zero < prev.zero) return undefined;
  const pos = storeDelta(cur.pos, prev.pos);
  const neg = storeDelta(cur.neg, prev.neg);
  if (pos === undefined || neg === undefined) return undefined;
  return { v: 1, zero: cur.zero - prev.zero, pos, neg };
}

export class LatencyHistory {
  /** Width of one time bucket, ms. */
  readonly bucketMs: number;
  readonly #longestMs: number;
  readonly #buckets = new Map<number, Sketch>();
  #previous: SketchJSON | undefined;
  #since: number | undefined;

  /** @param longestWindowMs the longest window `over` will be asked for */
  constructor(longestWindowMs: number) {
    this.#longestMs = longestWindowMs;
    this.bucketMs = Math.max(MIN_BUCKET_MS, Math.ceil(longestWindowMs / MAX_BUCKETS));
  }

  /**
   * Records the all-time sketch read at `at`: what it gained since the last reading goes into the
   * bucket of `at`.
   */
  record(at: number, cumulative: Sketch): void {
    const json = cumulative.toJSON();
    const previous = this.#previous;
    this.#previous = json;
    if (previous === undefined) {
      this.#since = at;
      return;
    }
    const delta = sketchDelta(json, previous) ?? json;
    const added = Sketch.fromJSON(delta);
    if (added.count > 0) {
      const index = Math.floor(at / this.bucketMs);
      const bucket = this.#buckets.get(index);
      if (bucket === undefined) this.#buckets.set(index, added);
      else bucket.merge(added);
    }
    const oldest = Math.floor((at - this.#longestMs) / this.bucketMs);
    for (const index of this.#buckets.keys()) if (index < oldest) this.#buckets.delete(index);
  }

  /**
   * The distribution of the last `windowMs` before `now`, to the nearest bucket.
   * @returns undefined before the second reading (no history yet)
   */
  over(windowMs: number, now: number): LatencyWindow | undefined {
    if (this.#since === undefined || this.#previous === undefined) return undefined;
    const first = Math.floor((now - windowMs) / this.bucketMs) + 1;
    const sketch = new Sketch();
    for (const [index, bucket] of this.#buckets) if (index >= first) sketch.merge(bucket);
    return { sketch, coveredMs: Math.min(windowMs, now - this.#since) };
  }
}
