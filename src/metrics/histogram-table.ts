/**
 * The state of a histogram's series as columns indexed by slot, as counters and gauges keep theirs
 * (scalar-table.ts): bucket counts, sum, count, min and max, flushed version and store id.
 *
 * A series' sketches become real objects only once it needs them; until then it keeps up to
 * {@link SMALL_KEYS} sketch keys of one slice, from which both sketches are a function. So a
 * series observed a few times costs ~170 B instead of ~1.3 KB. A restored series keeps its stored
 * sketch as such keys or as pairs until it is observed. When and how keys move into dedicated
 * sketches: docs/design-notes.md.
 */
import { type LabelMap } from './label-map.js';
import { Sketch, sketchKey, logEntry, SlidingSketch } from './sketch.js';
import type { SliceClock } from './slice-clock.js';
import { chunkOf, chunkSize, F64Column, indexIn } from './slot-columns.js';

/** First-slice keys a series keeps before its sketches become objects: 8 B per series. */
export const SMALL_KEYS = 4;

/**
 * Buckets a restored sketch too large for first-slice keys may hold and still be kept as pairs
 * (8 B each, {@link Sketch.toPairs}) rather than objects: at 64, 512 B, the data of a one-octave
 * sketch plus the ~600 B of sketch objects and headers a promoted series pays.
 */
export const RESTORED_BUCKETS = 64;

/** Per slot `width` numbers in chunks that never move, chunked like `F64Column` (same chunk, same index). */
class Rows<A extends Float64Array | Uint16Array> {
  readonly chunks: A[] = [];

  constructor(
    readonly width: number,
    readonly make: (length: number) => A,
  ) {}

  ensure(slot: number): void {
    const c = chunkOf(slot);
    while (this.chunks.length <= c) this.chunks.push(this.make(chunkSize(this.chunks.length) * this.width));
  }
}

/** A series' sketches once they are objects. */
export class SeriesSketches {
  constructor(
    readonly sketch: Sketch,
    readonly window: SlidingSketch,
  ) {}
}

export class HistogramTable {
  /** Row of a slot: non-cumulative counts per bucket (`+Inf` last), then sum, count, min, max. */
  readonly rows: Rows<Float64Array>;
  readonly flushed = new F64Column(Number.NaN);
  readonly storeIds = new F64Column(Number.NaN);
  /** First-slice keys, {@link SMALL_KEYS} per slot; as many are set as the series' count. */
  readonly keys = new Rows(SMALL_KEYS, (n) => new Uint16Array(n));
  /** The slice of the first-slice keys; NaN for keys restored from the store, which no window holds. */
  readonly slices = new F64Column(Number.NaN);
  /** Per slot: its sketches once they are objects. */
  readonly sketches: (SeriesSketches | undefined)[] = [];
  /** By slot: a restored all-time sketch as pairs, until the series' sketches become objects. */
  readonly restored = new Map<number, Uint32Array>();
  /** Store ids of each flushed series' derived history series (`#count`, ... `#p99`), by slot. */
  readonly derivedIds = new Map<number, number[]>();
  /** Offset of sum in a row (count, min and max follow). */
  readonly sumAt: number;

  /**
   * @param bounds the bucket upper bounds, shared by every series (never written)
   * @param slices the window ring's slot count
   */
  constructor(
    readonly metric: string,
    readonly map: LabelMap,
    readonly bounds: Float64Array,
    readonly clock: SliceClock,
    readonly windowSlices: number,
  ) {
    this.sumAt = bounds.length + 1;
    this.rows = new Rows(bounds.length + 5, (n) => new Float64Array(n));
  }

  /** Makes room for the new series at `slot`. */
  created(slot: number): void {
    this.rows.ensure(slot);
    this.flushed.ensure(slot);
    this.storeIds.ensure(slot);
    this.keys.ensure(slot);
    this.slices.ensure(slot);
    while (this.sketches.length <= slot) this.sketches.push(undefined);
    const c = chunkOf(slot);
    const base = indexIn(slot, c) * this.rows.width + this.sumAt;
    const row = this.rows.chunks[c]!;
    row[base + 2] = Infinity;
    row[base + 3] = -Infinity;
  }

  /**
   * The chunk holding `slot`'s row, which starts at `baseOf(slot)`: a reader walking many series
   * reads their rows here, with no handle or view made per series.
   */
  rowOf(slot: number): Float64Array {
    return this.rows.chunks[chunkOf(slot)]!;
  }

  /** The observations of `slot`. */
  countOf(slot: number): number {
    return this.rowOf(slot)[this.baseOf(slot) + this.sumAt + 1]!;
  }

  /** The sum of the observations of `slot`. */
  sumOf(slot: number): number {
    return this.rowOf(slot)[this.baseOf(slot) + this.sumAt]!;
  }

  /** Where `slot`'s row starts in its chunk. */
  baseOf(slot: number): number {
    return indexIn(slot, chunkOf(slot)) * this.rows.width;
  }

  /** Records a finite `value` in `slot`'s row, which starts at `row[base]`. The hot path. */
  record(row: Float64Array, base: number, slot: number, value: number): void {
    const bounds = this.bounds;
    const n = bounds.length;
    let i = 0;
    while (i < n && value > bounds[i]!) i++;
    row[base + i]!++;
    const at = base + n + 1;
    row[at]! += value;
    const seen = row[at + 1]!;
    row[at + 1] = seen + 1;
    if (value < row[at + 2]!) row[at + 2] = value;
    if (value > row[at + 3]!) row[at + 3] = value;
    const key = sketchKey(value);
    const sketches = this.sketches[slot];
    if (sketches !== undefined) {
      sketches.sketch.addKey(key);
      sketches.window.addKey(key);
      return;
    }
    const entry = logEntry(key);
    if (seen < SMALL_KEYS && entry >= 0) {
      const c = chunkOf(slot);
      const j = indexIn(slot, c);
      const slices = this.slices.chunks[c]!;
      const slice = this.clock.slice;
      if (seen === 0) slices[j] = slice;
      if (slices[j] === slice) {
        this.keys.chunks[c]![j * SMALL_KEYS + seen] = entry;
        return;
      }
    }
    const made = this.promote(slot, seen);
    made.sketch.addKey(key);
    made.window.addKey(key);
  }

  /**
   * The sketches of `slot`, made objects (from its first-slice keys) if they were not.
   * @param n its first-slice keys: its count, unless the caller already counted a new observation
   */
  promote(slot: number, n = this.#smallCount(slot)): SeriesSketches {
    let made = this.sketches[slot];
    if (made === undefined) {
      const c = chunkOf(slot);
      const j = indexIn(slot, c);
      const pairs = this.restored.get(slot);
      const sketch =
        pairs === undefined ? Sketch.fromLog(this.keys.chunks[c]!, j * SMALL_KEYS, n) : Sketch.fromPairs(pairs);
      made = new SeriesSketches(sketch, this.#windowOfKeys(c, j, pairs === undefined ? n : 0));
      this.sketches[slot] = made;
      this.restored.delete(slot);
    }
    return made;
  }

  /**
   * Holds `sketch`, a restored all-time sketch, without sketch objects if it can: the series has no
   * observation and no sketch objects, and `sketch` fits as first-slice keys ({@link Sketch.toLog})
   * or as pairs ({@link RESTORED_BUCKETS}). The keys get no slice, so the window holds none (as a
   * restored series' window holds nothing) and the next observation makes the sketches objects.
   * The caller then sets the row's count to `sketch.count`: first-slice keys count on it.
   * @returns whether it did; if not, nothing changed
   */
  restoreSketch(slot: number, sketch: Sketch): boolean {
    if (this.sketches[slot] !== undefined || this.#smallCount(slot) !== 0) return false;
    const c = chunkOf(slot);
    const j = indexIn(slot, c);
    if (!sketch.toLog(this.keys.chunks[c]!, j * SMALL_KEYS, SMALL_KEYS)) {
      const pairs = sketch.toPairs(RESTORED_BUCKETS);
      if (pairs === undefined) return false;
      this.restored.set(slot, pairs);
    }
    this.slices.chunks[c]![j] = Number.NaN;
    return true;
  }

  /** The all-time sketch of `slot`: its own, or a new one of its restored pairs or first-slice keys. */
  sketchOf(slot: number): Sketch {
    const made = this.sketches[slot];
    if (made !== undefined) return made.sketch;
    const pairs = this.restored.get(slot);
    if (pairs !== undefined) return Sketch.fromPairs(pairs);
    const c = chunkOf(slot);
    return Sketch.fromLog(this.keys.chunks[c]!, indexIn(slot, c) * SMALL_KEYS, this.#smallCount(slot));
  }

  /** The window of `slot`: its own, or a new one of its first-slice keys. */
  windowOf(slot: number): SlidingSketch {
    const made = this.sketches[slot];
    if (made !== undefined) return made.window;
    const c = chunkOf(slot);
    return this.#windowOfKeys(c, indexIn(slot, c), this.#smallCount(slot));
  }

  /** A window of the `n` first-slice keys of the slot at `j` in chunk `c`: empty without a slice (restored). */
  #windowOfKeys(c: number, j: number, n: number): SlidingSketch {
    const slice = this.slices.chunks[c]![j]!;
    const held = Number.isNaN(slice) ? 0 : n;
    return SlidingSketch.fromLog(this.clock, this.windowSlices, slice, this.keys.chunks[c]!, j * SMALL_KEYS, held);
  }

  /** Observations held as first-slice keys: every one, while the series has no sketch objects. */
  #smallCount(slot: number): number {
    const c = chunkOf(slot);
    return this.rows.chunks[c]![indexIn(slot, c) * this.rows.width + this.sumAt + 1]!;
  }
}
