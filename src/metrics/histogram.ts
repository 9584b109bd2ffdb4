/**
 * Histogram: a distribution of observed values (response times, payload sizes).
 *
 * Each series keeps Prometheus-style buckets, sum, count, min and max, plus a log-linear sketch
 * (all-time and sliding 1-/5-minute windows), because bucket interpolation can be off by a whole
 * bucket width. `observe` computes the sketch key once and never reads the time (the collector
 * ticks a `SliceClock`). State lives in columns by slot (histogram-table.ts); a `HistogramSeries`
 * is a handle onto a slot. Defaults and costs: docs/design-notes.md.
 */
import { ErrorCode, MonitorError } from '../errors.js';
import type { Labels } from './label-map.js';
import { invalidValue, labelsArg, Metric, type MetricContext, type MetricOptions, Series, valueArg } from './metric.js';
import { HistogramTable, type SeriesSketches } from './histogram-table.js';
import { Sketch, sketchKey, type SlidingSketch } from './sketch.js';
import type { SliceClock } from './slice-clock.js';
import { QUANTILES, windowSketch, WINDOWS, type WindowName } from './window-stats.js';
import { chunkOf, indexIn } from './slot-columns.js';

export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([10, 50, 100, 500, 1000, 5000, 10000]);

export { WINDOWS, type WindowName } from './window-stats.js';

const WHAT = 'an observed value must be a finite number';

export interface HistogramOptions extends MetricOptions {
  /** Upper bounds (inclusive), strictly increasing finite numbers. Default `DEFAULT_BUCKETS`. */
  buckets?: readonly number[];
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
  p999: number | null;
}

export interface WindowStats extends Percentiles {
  /** Observations in the window. */
  count: number;
  /** The window length in ms. */
  windowMs: number;
}

/** What `get_metric` reports for one histogram series. `null` percentiles mean no data. */
export interface HistogramStats {
  count: number;
  sum: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Cumulative counts per upper bound, ending with `+Inf`. */
  buckets: { le: number | '+Inf'; count: number }[];
  /** All-time percentiles from the sketch. */
  percentiles: Percentiles;
  windows: Record<WindowName, WindowStats>;
}

/**
 * @throws {MonitorError} `EMON_INVALID_OPTION` naming the metric and what is allowed
 */
export function checkBuckets(metric: string, buckets: unknown): readonly number[] {
  const ok =
    Array.isArray(buckets) &&
    buckets.length > 0 &&
    buckets.every((b, i) => typeof b === 'number' && Number.isFinite(b) && (i === 0 || b > (buckets[i - 1] as number)));
  if (!ok) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `metric "${metric}": buckets must be a non-empty array of strictly increasing finite numbers`,
    );
  }
  return Object.freeze([...(buckets as number[])]);
}

function percentilesOf(sketch: { quantile(q: number): number | undefined }): Percentiles {
  return {
    p50: sketch.quantile(QUANTILES.p50) ?? null,
    p95: sketch.quantile(QUANTILES.p95) ?? null,
    p99: sketch.quantile(QUANTILES.p99) ?? null,
    p999: sketch.quantile(QUANTILES.p999) ?? null,
  };
}

/**
 * A handle onto one histogram series' slot of its metric's `HistogramTable`, made on demand
 * (`bind`, `find`, `series()`): two handles on one series read and write the same state. It keeps
 * its row's chunk and offset, so `observe` goes straight to the columns.
 */
export class HistogramSeries extends Series {
  readonly #table: HistogramTable;
  readonly #slot: number;
  readonly #row: Float64Array;
  readonly #base: number;
  readonly #bounds: Float64Array;
  /** The series' sketches once they are objects (they never stop being). */
  #sketches: SeriesSketches | undefined;
  #counts: Float64Array | undefined;

  constructor(table: HistogramTable, slot: number) {
    super();
    this.#table = table;
    this.#slot = slot;
    this.#row = table.rows.chunks[chunkOf(slot)]!;
    this.#base = table.baseOf(slot);
    this.#bounds = table.bounds;
    this.#sketches = table.sketches[slot];
  }

  get metric(): string {
    return this.#table.metric;
  }

  get labels(): Readonly<Record<string, string>> {
    return this.#table.map.labelsOf(this.#slot);
  }

  /** Upper bounds, shared by the metric's series (never written). */
  get bounds(): Float64Array {
    return this.#table.bounds;
  }

  /** Non-cumulative counts per bucket; the last slot is the `+Inf` bucket. A view of the row. */
  get counts(): Float64Array {
    return (this.#counts ??= this.#row.subarray(this.#base, this.#base + this.#table.sumAt));
  }

  get sum(): number {
    return this.#row[this.#base + this.#table.sumAt]!;
  }

  get count(): number {
    return this.#row[this.#base + this.#table.sumAt + 1]!;
  }

  get min(): number {
    return this.#row[this.#base + this.#table.sumAt + 2]!;
  }

  get max(): number {
    return this.#row[this.#base + this.#table.sumAt + 3]!;
  }

  /**
   * The all-time sketch. While the series holds its observations as first-slice keys (see
   * histogram-table.ts) this is a new sketch of them: read it, do not record into it.
   */
  get sketch(): Sketch {
    return this.#table.sketchOf(this.#slot);
  }

  /** The sliding-window sketch (a new one of the first-slice keys while there are only those, as `sketch`). */
  get window(): SlidingSketch {
    return this.#table.windowOf(this.#slot);
  }

  get storeId(): number | undefined {
    return this.#table.storeIds.optional(this.#slot);
  }

  set storeId(id: number | undefined) {
    this.#table.storeIds.setOptional(this.#slot, id);
  }

  get flushedVersion(): number | undefined {
    return this.#table.flushed.optional(this.#slot);
  }

  set flushedVersion(v: number | undefined) {
    this.#table.flushed.setOptional(this.#slot, v);
  }

  /** Store ids of the derived history series (`#count`, `#sum`, `#p50`, `#p95`, `#p99`), once defined. */
  get derivedIds(): number[] | undefined {
    return this.#table.derivedIds.get(this.#slot);
  }

  set derivedIds(ids: number[] | undefined) {
    if (ids === undefined) this.#table.derivedIds.delete(this.#slot);
    else this.#table.derivedIds.set(this.#slot, ids);
  }

  /**
   * Records one value. Once the series' sketches are objects the handle keeps them and records
   * here, without `HistogramTable.record`'s call and lookups: through it the bound path measured
   * 46 M/s, here 64 M/s (bench/metrics.bench.ts --quick, one loaded run each; 74 M/s before the columns).
   * @throws {MonitorError} `EMON_INVALID_VALUE`
   */
  observe(value: number): void {
    if (typeof value !== 'number' || value - value !== 0) throw invalidValue(this.#table.metric, WHAT, value);
    const sketches = this.#sketches;
    if (sketches === undefined) {
      this.#table.record(this.#row, this.#base, this.#slot, value);
      this.#sketches = this.#table.sketches[this.#slot];
      return;
    }
    const bounds = this.#bounds;
    const row = this.#row;
    const base = this.#base;
    const n = bounds.length;
    let i = 0;
    while (i < n && value > bounds[i]!) i++;
    row[base + i]!++;
    const at = base + n + 1;
    row[at]! += value;
    row[at + 1]!++;
    if (value < row[at + 2]!) row[at + 2] = value;
    if (value > row[at + 3]!) row[at + 3] = value;
    const key = sketchKey(value);
    sketches.sketch.addKey(key);
    sketches.window.addKey(key);
  }

  /** The q-quantile (0..1), all-time or over the last `windowMs`; undefined with no data. */
  quantile(q: number, windowMs?: number): number | undefined {
    return windowMs === undefined ? this.sketch.quantile(q) : this.window.quantile(q, windowMs);
  }

  stats(): HistogramStats {
    let cumulative = 0;
    const counts = this.counts;
    const buckets: HistogramStats['buckets'] = Array.from(this.bounds, (le, i) => ({
      le,
      count: (cumulative += counts[i]!),
    }));
    const count = this.count;
    const sum = this.sum;
    buckets.push({ le: '+Inf', count });
    const window = this.window;
    const windows = {} as Record<WindowName, WindowStats>;
    for (const [name, windowMs] of Object.entries(WINDOWS) as [WindowName, number][]) {
      windows[name] = {
        windowMs,
        count: window.count(windowMs),
        ...percentilesOf(window.merged(windowMs)),
      };
    }
    const empty = count === 0;
    return {
      count,
      sum,
      min: empty ? null : this.min,
      max: empty ? null : this.max,
      mean: empty ? null : sum / count,
      buckets,
      percentiles: percentilesOf(this.sketch),
      windows,
    };
  }

  snapshot(): unknown {
    return {
      bounds: numbers(this.bounds),
      b: numbers(this.counts),
      s: this.sum,
      c: this.count,
      mn: this.min,
      mx: this.max,
      sk: this.sketch.toJSON(),
    };
  }

  restore(state: unknown): void {
    const s = state as {
      bounds?: unknown;
      b?: unknown;
      s?: unknown;
      c?: unknown;
      mn?: unknown;
      mx?: unknown;
      sk?: unknown;
    } | null;
    const bounds = this.bounds;
    const sameBounds =
      Array.isArray(s?.bounds) && s.bounds.length === bounds.length && s.bounds.every((b, i) => b === bounds[i]);
    if (
      !sameBounds ||
      !Array.isArray(s.b) ||
      s.b.length !== bounds.length + 1 ||
      typeof s.s !== 'number' ||
      typeof s.c !== 'number'
    ) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `metric "${this.metric}": stored histogram state does not match its buckets`,
      );
    }
    const sketch = Sketch.fromJSON(s.sk);
    // A quiet series stays without sketch objects. Either way before the row's count changes: the
    // first-slice keys count on it.
    const small = sketch.count === s.c && this.#table.restoreSketch(this.#slot, sketch);
    const own = small ? undefined : this.#table.promote(this.#slot).sketch;
    const row = this.#row;
    const at = this.#base + this.#table.sumAt;
    this.counts.set(s.b as number[]);
    row[at] = s.s;
    row[at + 1] = s.c;
    row[at + 2] = typeof s.mn === 'number' ? s.mn : Infinity;
    row[at + 3] = typeof s.mx === 'number' ? s.mx : -Infinity;
    if (own !== undefined) {
      own.reset();
      own.merge(sketch);
    }
    this.flushedVersion = s.c;
  }

  version(): number {
    return this.count;
  }
}

/**
 * `a` as an array. Not `Array.from(a)`: on a typed array it iterates, a result object and a boxed
 * number per element, ~2 KB of the ~6 KB a flush allocated per histogram series (bench/flush-alloc.ts).
 */
function numbers(a: Float64Array): number[] {
  const out: number[] = [];
  // eslint-disable-next-line @typescript-eslint/prefer-for-of -- for-of on a typed array is the iterator this avoids
  for (let i = 0; i < a.length; i++) out.push(a[i]!);
  return out;
}

export class Histogram extends Metric<HistogramSeries> {
  readonly type = 'histogram';
  readonly buckets: readonly number[];
  readonly #clock: SliceClock;
  /** The bounds every series of this metric reads (never written). */
  readonly #bounds: Float64Array;
  /** The columns of every series by slot. Replaced by `reset`. */
  #table: HistogramTable;

  /** @throws {MonitorError} `EMON_INVALID_NAME` / `EMON_INVALID_OPTION` */
  constructor(
    name: string,
    options: HistogramOptions,
    context: MetricContext,
    clock: SliceClock,
    defaultBuckets: readonly number[] = DEFAULT_BUCKETS,
  ) {
    const buckets = checkBuckets(name, options.buckets === undefined ? defaultBuckets : options.buckets);
    super(name, options, context, ['le', 'quantile']);
    this.buckets = buckets;
    this.#bounds = Float64Array.from(buckets);
    this.#clock = clock;
    this.#table = this.#newTable();
  }

  /** The columns of every series by slot, for readers that `walk` the metric. Replaced by `reset`. */
  get table(): HistogramTable {
    return this.#table;
  }

  #newTable(): HistogramTable {
    return new HistogramTable(
      this.name,
      this.map,
      this.#bounds,
      this.#clock,
      Math.ceil(WINDOWS['5m'] / this.#clock.sliceMs),
    );
  }

  protected created(slot: number): void {
    this.#table.created(slot);
  }

  protected at(slot: number): HistogramSeries {
    return new HistogramSeries(this.#table, slot);
  }

  protected cleared(): void {
    this.#table = this.#newTable();
  }

  /**
   * Records a value in the series for `labels`: `observe(42)`, `observe(42, { route: '/api' })` or
   * `observe({ route: '/api' }, 42)`.
   * @throws {MonitorError} `EMON_INVALID_VALUE` or `EMON_INVALID_LABELS`; nothing changes then
   */
  observe(valueOrLabels: number | Labels, labelsOrValue?: Labels | number): void {
    this.observeAt(labelsArg(valueOrLabels, labelsOrValue), valueArg(valueOrLabels, labelsOrValue));
  }

  /**
   * `observe` with its arguments in fixed places, as the message API has them. The value is
   * checked before the lookup so a bad one creates no series (the series checks it again: its
   * `observe` is also the bound handle's entry).
   * @throws {MonitorError} `EMON_INVALID_VALUE` or `EMON_INVALID_LABELS`; nothing changes then
   */
  observeAt(labels: Labels | undefined, value: unknown): void {
    if (typeof value !== 'number' || value - value !== 0) throw invalidValue(this.name, WHAT, value);
    const slot = this.map.get(labels);
    const table = this.#table;
    const c = chunkOf(slot);
    table.record(table.rows.chunks[c]!, indexIn(slot, c) * table.rows.width, slot, value);
  }

  /** Statistics of the series for `labels`, or undefined if that series does not exist. */
  get(labels?: Labels): HistogramStats | undefined {
    return this.find(labels)?.stats();
  }

  /** One sketch merging every series, all-time or over the last `windowMs` (for cross-label percentiles). */
  merged(windowMs?: number): Sketch {
    if (windowMs !== undefined) return windowSketch(this.series(), windowMs);
    const out = new Sketch();
    for (const s of this.series()) out.merge(s.sketch);
    return out;
  }
}
