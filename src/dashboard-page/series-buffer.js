/**
 * The points of one chart series, oldest first, at most `limit` of them (the dashboard's
 * `data_points`). Timestamps only move forward: a point with the newest timestamp again replaces
 * it (the same sample in the next frame), an older one is dropped.
 */
export class SeriesBuffer {
  /** @param {number} limit most points kept */
  constructor(limit) {
    this.limit = Math.max(1, limit);
    /** @type {number[]} milliseconds */
    this.ts = [];
    /** @type {Array<number | null>} */
    this.vals = [];
  }

  get length() {
    return this.ts.length;
  }

  /**
   * Adds the newest point.
   * @param {[number, number | null]} point `[timestampMs, value]`
   * @returns {boolean} whether the buffer changed
   */
  push(point) {
    if (!Array.isArray(point) || typeof point[0] !== 'number' || !Number.isFinite(point[0])) return false;
    const [t, raw] = point;
    const v = typeof raw === 'number' && Number.isFinite(raw) ? raw : null;
    const n = this.ts.length;
    const newest = this.ts[n - 1];
    if (newest !== undefined && t < newest) return false;
    if (newest !== undefined && t === newest) {
      if (this.vals[n - 1] === v) return false;
      this.vals[n - 1] = v;
      return true;
    }
    this.ts.push(t);
    this.vals.push(v);
    if (this.ts.length > this.limit) {
      this.ts.splice(0, this.ts.length - this.limit);
      this.vals.splice(0, this.vals.length - this.limit);
    }
    return true;
  }

  /**
   * Replaces the contents (a history answer), keeping the newest `limit` points in order.
   * @param {Array<[number, number | null]>} points
   */
  replace(points) {
    this.ts = [];
    this.vals = [];
    const sorted = [...points].filter((p) => Array.isArray(p) && Number.isFinite(p[0])).sort((a, b) => a[0] - b[0]);
    for (const p of sorted) this.push(p);
  }

  /**
   * Merges history into the buffer: its points go before the first buffered point and into holes
   * (consecutive buffered points more than `gapMs` apart, e.g. while the feed was down); where
   * the buffer has points, they stay.
   * @param {Array<[number, number | null]>} points
   * @param {number} gapMs
   */
  fill(points, gapMs) {
    /** @type {Array<[number, number | null]>} */
    const own = this.ts.map((t, i) => [t, this.vals[i] ?? null]);
    const ts = this.ts;
    const extra = points.filter((p) => Array.isArray(p) && !covered(ts, p[0], gapMs));
    this.replace([...extra, ...own]);
  }

  /** @returns {[number, number | null] | null} the newest point */
  last() {
    const [t, v] = [this.ts.at(-1), this.vals.at(-1)];
    return t === undefined || v === undefined ? null : [t, v];
  }

  /** @returns {number | null} the newest non-null value */
  lastValue() {
    return this.vals.findLast((v) => v !== null) ?? null;
  }
}

/**
 * Whether `t` is one of `ts` or lies between two consecutive ones at most `gapMs` apart.
 * @param {number[]} ts sorted
 * @param {number} t
 * @param {number} gapMs
 */
function covered(ts, t, gapMs) {
  const [first, last] = [ts[0], ts.at(-1)];
  if (first === undefined || last === undefined || t < first || t > last) return false;
  // Invariant: ts[lo] <= t <= ts[hi], both present.
  let [lo, hi, atLo, atHi] = [0, ts.length - 1, first, last];
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const atMid = /** @type {number} */ (ts[mid]);
    if (atMid <= t) [lo, atLo] = [mid, atMid];
    else [hi, atHi] = [mid, atMid];
  }
  return atLo === t || atHi === t || atHi - atLo <= gapMs;
}

/**
 * uPlot's aligned data: x values (seconds), then one array of y values per series.
 * @typedef {[number[], ...Array<Array<number | null | undefined>>]} AlignedData
 */

/**
 * Joins buffers into uPlot's aligned data: `[xs (seconds), ys0, ys1, …]`. Where a series has no
 * point at another series' timestamp the slot is `undefined` (uPlot draws across it); a real
 * no-data value stays `null` (uPlot leaves a gap).
 * @param {SeriesBuffer[]} buffers
 * @returns {AlignedData}
 */
export function alignBuffers(buffers) {
  const first = buffers[0];
  const same =
    first && buffers.every((b) => b.ts.length === first.ts.length && b.ts.every((t, i) => t === first.ts[i]));
  if (same) return [first.ts.map((t) => t / 1000), ...buffers.map((b) => b.vals.slice())];
  /** @type {Set<number>} */
  const all = new Set();
  for (const b of buffers) for (const t of b.ts) all.add(t);
  const xs = [...all].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = buffers.map((b) => {
    /** @type {Array<number | null | undefined>} */
    const col = new Array(xs.length).fill(undefined);
    b.ts.forEach((t, i) => {
      const slot = index.get(t);
      if (slot !== undefined) col[slot] = b.vals[i];
    });
    return col;
  });
  return [xs.map((t) => t / 1000), ...ys];
}
