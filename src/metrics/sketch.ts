/**
 * Quantile sketches for histograms: log-linear buckets (HdrHistogram-style), mergeable, with a
 * bounded relative error (a quantile is within 1/128 of the exact value), plus a sliding-window
 * variant for the last minute / five minutes. They exist so percentiles cost O(1) per observation.
 *
 * Hot path contract: a histogram computes ONE key per observation, `sketchKey(v)`, and feeds it to
 * both its {@link Sketch} and its {@link SlidingSketch} with `addKey(key)`. Keys must come from
 * `sketchKey`; values must be finite (the slow path throws rather than miscount).
 * Bucket layout, storage and memory: docs/design-notes.md.
 */
import { ErrorCode, MonitorError, describeValue } from '../errors.js';
import type { SliceClock } from './slice-clock.js';

/** Linear sub-buckets per power of two: the top 6 bits of the mantissa. */
const SUB = 64;
/** `hi >>> 14` is sign | biased exponent | 6 mantissa bits; subtracting this removes the exponent bias. */
const KEY_BIAS = 1023 * SUB;
/** Key of 2^-64, the smallest magnitude with its own bucket; anything smaller counts as zero. */
const MIN_KEY = -64 * SUB;
/** Key of the largest finite doubles, `[2^1023 * (1 + 63/64), 2^1024)`. */
const MAX_KEY = 1024 * SUB - 1;
/** The sign bit after the shift: a negative value's key is its magnitude's key plus this. */
const NEG_SHIFT = 1 << 17;
/** Stores grow in whole octaves, aligned on powers of two. */
const CHUNK = SUB;

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
/** Index of the double's high word in `u32`: 1 on little-endian machines, 0 on big-endian ones. */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/**
 * The bucket key of a finite number, for {@link Sketch.addKey} and {@link SlidingSketch.addKey}.
 * Compute it once per observation and feed it to every sketch that records the value.
 *
 * For `v >= 2^-64` the key is `e * 64 + s` with `v` in `[2^e (1 + s/64), 2^e (1 + (s+1)/64))`, so
 * keys are monotonic in `v`. Smaller magnitudes, zero and negative values get keys outside that
 * range, which `addKey` routes to the zero bucket and the negative store.
 *
 * @param value a finite number; NaN and ±Infinity give keys that `addKey` rejects
 */
export function sketchKey(value: number): number {
  f64[0] = value;
  return (u32[HI]! >>> 14) - KEY_BIAS;
}

/**
 * A key as a 16-bit log entry (`key - MIN_KEY`), as {@link SlidingSketch}'s log and a histogram's
 * first-slice keys keep it, or -1 for a key that has none (zero, negatives, positive values past 2^959).
 */
export function logEntry(key: number): number {
  const entry = key - MIN_KEY;
  return entry >>> 0 <= LOG_SPAN ? entry : -1;
}

/** The midpoint of the bucket of a (magnitude) key: the value a quantile reports. */
function midpoint(key: number): number {
  return 2 ** (key >> 6) * (1 + ((key & (SUB - 1)) + 0.5) / SUB);
}

type CountArray = Uint8Array | Uint16Array | Uint32Array | Float64Array;

/**
 * Count types from narrowest to widest, with the largest count each holds. A store starts on the
 * narrowest that its owner asks for and moves up one type when a count would overflow it
 * (Float64Array is exact up to 2^53, which the total count is checked against).
 */
const LADDER = [
  { type: Uint8Array, max: 0xff },
  { type: Uint16Array, max: 0xffff },
  { type: Uint32Array, max: 0xffff_ffff },
  { type: Float64Array, max: Infinity },
] as const;
type Rung = 0 | 1 | 2 | 3;

/**
 * The counts of a store that has covered nothing yet, shared: a length-0 array takes no write,
 * and every sketch has a negative store that most data never touches.
 */
const EMPTY = LADDER.map(({ type }) => new type(0)) as CountArray[];

/** Counts for the keys `[offset, offset + counts.length)` of one sign. */
class Store {
  offset = 0;
  counts: CountArray;
  /** The largest count `counts` can hold; the hot path compares against it before writing. */
  max: number;
  #rung: Rung;

  constructor(rung: Rung) {
    this.#rung = rung;
    this.counts = EMPTY[rung]!;
    this.max = LADDER[rung].max;
  }

  /** Widens the store, in whole chunks, so that it covers the keys `lo..hi`. Allocates. */
  cover(lo: number, hi: number): void {
    const length = this.counts.length;
    if (length > 0) {
      lo = Math.min(lo, this.offset);
      hi = Math.max(hi, this.offset + length - 1);
    }
    const start = Math.floor(lo / CHUNK) * CHUNK;
    const end = (Math.floor(hi / CHUNK) + 1) * CHUNK;
    if (start === this.offset && end - start === length) return;
    const next = new LADDER[this.#rung].type(end - start);
    if (length > 0) next.set(this.counts, this.offset - start);
    this.counts = next;
    this.offset = start;
  }

  /** Moves the counts to the narrowest type that holds `count` (a promotion on overflow). */
  promote(count: number): void {
    let rung = this.#rung;
    while (count > LADDER[rung].max) rung++;
    if (rung === this.#rung) return;
    this.#rung = rung;
    this.max = LADDER[rung].max;
    const next = new LADDER[rung].type(this.counts.length);
    next.set(this.counts);
    this.counts = next;
  }

  /** Adds `n` to the count at index `i` (inside the covered range), promoting on overflow. */
  addAt(i: number, n: number): void {
    const c = this.counts[i]! + n;
    if (c > this.max) this.promote(c);
    this.counts[i] = c;
  }

  /** Adds every count of `from` (which may be this store). */
  addAll(from: Store): void {
    const counts = from.counts;
    let first = 0;
    let last = counts.length - 1;
    while (first <= last && counts[first] === 0) first++;
    if (first > last) return;
    while (counts[last] === 0) last--;
    this.cover(from.offset + first, from.offset + last);
    const shift = from.offset - this.offset;
    for (let i = first; i <= last; i++) this.addAt(i + shift, counts[i]!);
  }

  toJSON(): SketchStoreJSON {
    const counts = this.counts;
    let first = 0;
    let last = counts.length - 1;
    while (first <= last && counts[first] === 0) first++;
    if (first > last) return { offset: 0, counts: [] };
    while (counts[last] === 0) last--;
    return { offset: this.offset + first, counts: Array.from(counts.subarray(first, last + 1)) };
  }
}

/** @throws {MonitorError} unless `key` is a key `sketchKey` gives for a finite number */
function checkKey(key: number): void {
  const magnitude = key > MAX_KEY ? key - NEG_SHIFT : key;
  if (!(magnitude >= -KEY_BIAS && magnitude <= MAX_KEY) || !Number.isInteger(key)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid sketch key: ${describeValue(key)} (keys come from sketchKey() of a finite number; NaN and ±Infinity cannot be recorded)`,
    );
  }
}

/**
 * Everything one sketch (or one dense window slot) counts. `epoch` is the slice a window slot
 * belongs to; NaN means "none", which never equals a slice.
 */
class Buckets {
  readonly pos: Store;
  readonly neg: Store;
  zero = 0;
  count = 0;
  epoch = Number.NaN;

  constructor(rung: Rung) {
    this.pos = new Store(rung);
    this.neg = new Store(rung);
  }

  get byteLength(): number {
    return this.pos.counts.byteLength + this.neg.counts.byteLength;
  }

  /** Everything `addKey`'s fast path does not take: zero, negatives, growth, overflow and bad keys. */
  addSlow(key: number): void {
    checkKey(key);
    this.addCount(key, 1);
  }

  /** Adds `n` observations of a key already checked. */
  addCount(key: number, n: number): void {
    let magnitude = key;
    let store = this.pos;
    if (key > MAX_KEY) {
      magnitude = key - NEG_SHIFT;
      store = this.neg;
    }
    if (magnitude < MIN_KEY) {
      this.zero += n;
    } else {
      store.cover(magnitude, magnitude);
      store.addAt(magnitude - store.offset, n);
    }
    this.count += n;
  }

  /** Records a key already checked (read back from a window's log). */
  addKey(key: number): void {
    const pos = this.pos;
    const i = key - pos.offset;
    if (i >>> 0 < pos.counts.length) {
      const c = pos.counts[i]! + 1;
      if (c <= pos.max) {
        pos.counts[i] = c;
        this.count++;
        return;
      }
    }
    this.addSlow(key);
  }

  reset(): void {
    this.pos.counts.fill(0);
    this.neg.counts.fill(0);
    this.zero = 0;
    this.count = 0;
  }

  addAll(from: Buckets): void {
    this.pos.addAll(from.pos);
    this.neg.addAll(from.neg);
    this.zero += from.zero;
    this.count += from.count;
  }

  /** Nearest rank: the smallest bucket with at least `ceil(q * count)` observations at or below it. */
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    let last: number | undefined;
    const neg = this.neg.counts;
    for (let i = neg.length - 1; i >= 0; i--) {
      if (neg[i] === 0) continue;
      seen += neg[i]!;
      last = -midpoint(this.neg.offset + i);
      if (seen >= rank) return last;
    }
    if (this.zero > 0) {
      seen += this.zero;
      last = 0;
      if (seen >= rank) return last;
    }
    const pos = this.pos.counts;
    for (let i = 0; i < pos.length; i++) {
      if (pos[i] === 0) continue;
      seen += pos[i]!;
      last = midpoint(this.pos.offset + i);
      if (seen >= rank) return last;
    }
    // Reached only if a caller broke the key contract (a non-integer key counted but not bucketed).
    return last;
  }
}

/** Plain-JSON form of one sign's store: counts for the keys `offset, offset + 1, ...`, zeros trimmed. */
export interface SketchStoreJSON {
  offset: number;
  counts: number[];
}

/** Plain-JSON form of a {@link Sketch}, for persistence. `v` is the format version. */
export interface SketchJSON {
  v: 1;
  zero: number;
  pos: SketchStoreJSON;
  neg: SketchStoreJSON;
}

/** Module-private access to a sketch's buckets, so window slots merge in without public API. */
let bucketsOf!: (sketch: Sketch) => Buckets;

/**
 * An all-time quantile sketch (see the module comment for buckets, error bound and memory).
 * Not for NaN or ±Infinity: those throw.
 */
export class Sketch {
  readonly #b = new Buckets(0);

  static {
    bucketsOf = (sketch) => sketch.#b;
  }

  /** A sketch of the `n` log entries (see {@link logEntry}) at `entries[from..from + n)`. */
  static fromLog(entries: Uint16Array, from: number, n: number): Sketch {
    const sketch = new Sketch();
    for (let k = from; k < from + n; k++) sketch.#b.addKey(entries[k]! + MIN_KEY);
    return sketch;
  }

  /**
   * The inverse of {@link fromLog}: writes the observations as log entries, in key order, at
   * `entries[from..from + count)` if there are at most `max` and each has one (no zero, no
   * negative value, none past 2^959); otherwise writes nothing.
   * @returns whether it wrote them
   */
  toLog(entries: Uint16Array, from: number, max: number): boolean {
    const b = this.#b;
    if (b.count > max) return false;
    const { offset, counts } = b.pos;
    let held = 0;
    for (let i = 0; i < counts.length; i++) {
      if (counts[i] === 0) continue;
      if (logEntry(offset + i) < 0) return false;
      held += counts[i]!;
    }
    if (held !== b.count) return false;
    let at = from;
    for (let i = 0; i < counts.length; i++) for (let k = counts[i]!; k > 0; k--) entries[at++] = offset + i - MIN_KEY;
    return true;
  }

  /**
   * The counts as pairs `(key + KEY_BIAS, count)` of the buckets that hold any, in a typed array
   * (8 B a bucket), for {@link fromPairs}; undefined if more than `max` buckets hold any or a count
   * passes 2^32 - 1.
   */
  toPairs(max: number): Uint32Array | undefined {
    const b = this.#b;
    const out: number[] = [];
    const add = (key: number, n: number) => {
      if (n > 0) out.push(key + KEY_BIAS, n);
    };
    add(MIN_KEY - 1, b.zero);
    for (const [store, shift] of [
      [b.pos, 0],
      [b.neg, NEG_SHIFT],
    ] as const) {
      const { offset, counts } = store;
      for (let i = 0; i < counts.length && out.length <= 2 * max; i++) add(offset + i + shift, counts[i]!);
    }
    if (out.length > 2 * max || b.count > 0xffff_ffff) return undefined;
    return Uint32Array.from(out);
  }

  /** A sketch of `toPairs()` output: the same counts. */
  static fromPairs(pairs: Uint32Array): Sketch {
    const sketch = new Sketch();
    for (let i = 0; i < pairs.length; i += 2) sketch.#b.addCount(pairs[i]! - KEY_BIAS, pairs[i + 1]!);
    return sketch;
  }

  /** Number of observations recorded. */
  get count(): number {
    return this.#b.count;
  }

  /** Bytes held by the count arrays (grows only when a value falls outside the range seen so far). */
  get byteLength(): number {
    return this.#b.byteLength;
  }

  /**
   * Records one finite value. Same as `addKey(sketchKey(value))`.
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `value` is NaN or ±Infinity
   */
  add(value: number): void {
    this.addKey(sketchKey(value));
  }

  /**
   * Records one observation by its key. The hot path: no allocation once the key range is covered.
   * @param key `sketchKey(value)` of a finite value
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `key` is not a key of a finite value
   */
  addKey(key: number): void {
    const b = this.#b;
    const pos = b.pos;
    const i = key - pos.offset;
    if (i >>> 0 < pos.counts.length) {
      const c = pos.counts[i]! + 1;
      if (c <= pos.max) {
        pos.counts[i] = c;
        b.count++;
        return;
      }
    }
    b.addSlow(key);
  }

  /**
   * The nearest-rank quantile: the smallest recorded value with at least `ceil(q * count)`
   * observations at or below it, reported as its bucket's midpoint (within 1/128 of the exact value).
   * @param q the quantile, clamped to [0, 1] (0 gives the minimum's bucket, 1 the maximum's)
   * @returns the estimate, or `undefined` when nothing has been recorded
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `q` is NaN or not a number
   */
  quantile(q: number): number | undefined {
    return this.#b.quantile(checkQuantile(q));
  }

  /** Adds every observation of `other` to this sketch (`other` is unchanged; may be `this`). */
  merge(other: Sketch): void {
    this.#b.addAll(other.#b);
  }

  /** Forgets every observation, keeping the allocated buffers. */
  reset(): void {
    this.#b.reset();
  }

  /** A compact plain-JSON copy (leading and trailing empty buckets trimmed) for `fromJSON`. */
  toJSON(): SketchJSON {
    return { v: 1, zero: this.#b.zero, pos: this.#b.pos.toJSON(), neg: this.#b.neg.toJSON() };
  }

  /**
   * Rebuilds a sketch from `toJSON()` output, e.g. read back from LMDB.
   * @throws {MonitorError} `EMON_INVALID_OPTION` naming the first field that is missing or wrong
   */
  static fromJSON(json: unknown): Sketch {
    if (!isRecord(json)) throw badJSON(`expected an object, got ${describeValue(json)}`);
    if (json.v !== 1) throw badJSON(`unsupported version v: ${describeValue(json.v)} (expected 1)`);
    if (!isCount(json.zero)) throw badJSON(`zero must be a non-negative integer, got ${describeValue(json.zero)}`);
    const sketch = new Sketch();
    const b = sketch.#b;
    b.zero = json.zero;
    b.count = json.zero + readStore(b.pos, json.pos, 'pos') + readStore(b.neg, json.neg, 'neg');
    if (!Number.isSafeInteger(b.count)) throw badJSON(`the total count ${b.count} exceeds 2^53`);
    return sketch;
  }
}

function readStore(into: Store, raw: unknown, field: string): number {
  if (!isRecord(raw)) throw badJSON(`${field} must be an object { offset, counts }, got ${describeValue(raw)}`);
  const { offset, counts } = raw;
  if (!Array.isArray(counts)) throw badJSON(`${field}.counts must be an array, got ${describeValue(counts)}`);
  if (
    typeof offset !== 'number' ||
    !Number.isInteger(offset) ||
    offset < MIN_KEY ||
    offset + counts.length - 1 > MAX_KEY
  ) {
    throw badJSON(
      `${field}.offset must be an integer key such that offset..offset+${counts.length - 1} lies in ${MIN_KEY}..${MAX_KEY}, got ${describeValue(offset)}`,
    );
  }
  let sum = 0;
  let most = 0;
  for (let i = 0; i < counts.length; i++) {
    const n: unknown = counts[i];
    if (!isCount(n)) throw badJSON(`${field}.counts[${i}] must be a non-negative integer, got ${describeValue(n)}`);
    sum += n;
    if (n > most) most = n;
  }
  if (counts.length === 0) return 0;
  into.promote(most);
  into.cover(offset, offset + counts.length - 1);
  into.counts.set(counts as number[], offset - into.offset);
  return sum;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function badJSON(what: string): MonitorError {
  return new MonitorError(ErrorCode.InvalidOption, `invalid sketch JSON: ${what}`);
}

function checkQuantile(q: number): number {
  if (typeof q !== 'number' || Number.isNaN(q)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid quantile: ${describeValue(q)} (expected a number in [0, 1])`,
    );
  }
  return q < 0 ? 0 : q > 1 ? 1 : q;
}

/**
 * Keys a slice keeps in the log before it goes dense. A sparse key costs 2 B; a dense slot costs
 * 128 B per octave (16-bit counts) plus ~200 B of headers, ~1.5 KiB over 10 octaves, so up to 128
 * keys (256 B) the log is much the smaller form, and reading it back is one add per key.
 */
export const SPARSE_MAX = 128;
const EMPTY_LOG = new Uint16Array(0);

/** A log capacity for `live` keys: a quarter more, at least 8. */
function grown(live: number): number {
  return Math.max(8, Math.ceil(live * 1.25));
}
/** The log holds `key - MIN_KEY` in 16 bits: positive keys up to 2^959. Other keys (zero, negatives, larger) send their slice dense. */
const LOG_SPAN = 0xffff;
/** Dense slots start on 16-bit counts: a slice only goes dense with SPARSE_MAX observations. */
const DENSE_RUNG = 1;

/**
 * A quantile sketch over a sliding time window: a ring of `slices` slots, one per clock slice
 * (10 s each by default, so 30 slots span 5 minutes). An observation goes into the slot of the
 * clock's current slice; entering a new slice clears the slots of the slices that fell out.
 *
 * **Storage.** A slice starts sparse: its keys are appended to one log shared by the whole ring
 * (a `Uint16Array` of `key - MIN_KEY`), in slice order, so dropping the oldest slice moves the
 * log's tail and going dense pops the newest keys. The log is linear: appending at its end first
 * moves the live keys to its front when that frees an eighth of it, else grows it to 1.25x the
 * live keys (a ring of doubling powers of two held ~1.7x: 1 KiB for 300 keys where this holds
 * ~750 B), and it shrinks when three quarters idle.
 * Once a slice holds {@link SPARSE_MAX} keys it goes dense: its keys move into log-linear counts
 * like {@link Sketch}'s (16-bit, promoted on overflow), and later keys of that slice count there.
 * A series seeing 1 request/s keeps ~300 keys (~750 B with the log's slack) for a 5-minute window instead of 30 dense
 * slots; a busy series keeps dense slots, and one cleared dense slot is kept as a spare for the
 * next busy slice, so a busy series allocates nothing in steady state.
 *
 * A query for `windowMs` merges the slots of the last `ceil(windowMs / sliceMs)` slices,
 * counting the current one (log keys are added one by one, dense slots bucket by bucket). The
 * current slice is partly elapsed, so with 10 s slices a 60 s window covers 50 s of completed
 * slices plus 0–10 s of the current one: between 50 and 60 s of data.
 */
export class SlidingSketch {
  readonly #clock: SliceClock;
  readonly #slices: number;
  /** The slice of the last observation; -Infinity before the first. Every slice after `last - slices` is in its slot. */
  #last = -Infinity;
  /** Slot of `#last`. */
  #index = 0;
  /** Keys of the sparse slices, at absolute positions `[tail, head)`, position `p` at `log[p - base]`. */
  #log = EMPTY_LOG;
  #base = 0;
  #head = 0;
  #tail = 0;
  /** Log position where the current slice's keys start. */
  #start = 0;
  /**
   * Per slot: how many log keys its slice has (at most SPARSE_MAX; 0 once it went dense); the
   * current slot's are `#start..#head`. The slices' keys lie in the log in slice order, so a slot's
   * start is the next newer slot's start minus its count: no start is kept. Allocated when a
   * second slice starts, so a series observed once pays nothing for it.
   */
  #keys: Uint8Array | undefined;
  /** Per slot: its dense counts, when its slice went dense. */
  #dense: (Buckets | undefined)[] | undefined;
  /** The current slice's dense counts, once it went dense. */
  #hot: Buckets | undefined;
  /** One cleared dense slot kept for the next slice that goes dense. */
  #spare: Buckets | undefined;

  /**
   * @param clock the coarse clock; the owner advances it with `tick()`
   * @param slices number of slots in the ring (default 30); the longest window is `slices * clock.sliceMs`
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `slices` is not an integer in 1..100,000
   */
  constructor(clock: SliceClock, slices = 30) {
    if (!Number.isInteger(slices) || slices < 1 || slices > 100_000) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `invalid slices: ${describeValue(slices)} (expected an integer in 1..100000)`,
      );
    }
    this.#clock = clock;
    this.#slices = slices;
  }

  /**
   * A window whose only observations are the `n` log entries (see {@link logEntry}) at
   * `entries[from..from + n)`, all made in `slice` (the current slice or an earlier one): how a
   * histogram series moves its first-slice keys into a ring of its own.
   * @throws {MonitorError} `EMON_INVALID_OPTION` as the constructor
   */
  static fromLog(
    clock: SliceClock,
    slices: number,
    slice: number,
    entries: Uint16Array,
    from: number,
    n: number,
  ): SlidingSketch {
    const window = new SlidingSketch(clock, slices);
    if (n === 0) return window;
    window.#enter(slice);
    for (let k = from; k < from + n; k++) window.#addSlow(entries[k]! + MIN_KEY);
    return window;
  }

  /** The longest window this ring can answer for, in ms: `slices * sliceMs`. */
  get spanMs(): number {
    return this.#slices * this.#clock.sliceMs;
  }

  /** Bytes held by typed arrays: the log, the slot table and the dense slots (the spare included). */
  get byteLength(): number {
    let bytes = this.#log.byteLength + (this.#keys?.byteLength ?? 0) + (this.#spare?.byteLength ?? 0);
    if (this.#dense !== undefined) for (const slot of this.#dense) if (slot !== undefined) bytes += slot.byteLength;
    return bytes;
  }

  /**
   * Records one finite value in the current slice. Same as `addKey(sketchKey(value))`.
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `value` is NaN or ±Infinity
   */
  add(value: number): void {
    this.addKey(sketchKey(value));
  }

  /**
   * Records one observation by its key in the current slice. The hot path: an append to the log
   * or an increment of a dense count; allocation only when the log or a dense slot grows.
   * @param key `sketchKey(value)` of a finite value
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `key` is not a key of a finite value
   */
  addKey(key: number): void {
    const slice = this.#clock.slice;
    if (this.#last !== slice) this.#enter(slice);
    const hot = this.#hot;
    if (hot === undefined) {
      const head = this.#head;
      // Positive keys in range go straight in; zero, negatives and bad keys are checked first.
      const entry = key - MIN_KEY;
      const at = head - this.#base;
      if (entry >>> 0 <= LOG_SPAN && head - this.#start < SPARSE_MAX && at < this.#log.length) {
        this.#log[at] = entry;
        this.#head = head + 1;
        return;
      }
    } else {
      const pos = hot.pos;
      const i = key - pos.offset;
      if (i >>> 0 < pos.counts.length) {
        const c = pos.counts[i]! + 1;
        if (c <= pos.max) {
          pos.counts[i] = c;
          hot.count++;
          return;
        }
      }
    }
    this.#addSlow(key);
  }

  /**
   * Observations in the window.
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `windowMs` is not in (0, spanMs]
   */
  count(windowMs: number): number {
    let n = 0;
    this.#eachSlot(windowMs, (dense, _start, keys) => {
      n += dense === undefined ? keys : dense.count;
    });
    return n;
  }

  /**
   * The nearest-rank quantile over the window (see {@link Sketch.quantile}). For several
   * quantiles of one window, call `merged(windowMs)` once and ask it instead.
   * @returns the estimate, or `undefined` when the window holds no observations
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `q` is NaN or `windowMs` is not in (0, spanMs]
   */
  quantile(q: number, windowMs: number): number | undefined {
    checkQuantile(q);
    return this.merged(windowMs).quantile(q);
  }

  /**
   * A new {@link Sketch} holding the window's observations, e.g. to merge across label sets.
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `windowMs` is not in (0, spanMs]
   */
  merged(windowMs: number): Sketch {
    const sketch = new Sketch();
    const into = bucketsOf(sketch);
    const log = this.#log;
    const base = this.#base;
    this.#eachSlot(windowMs, (dense, start, keys) => {
      if (dense !== undefined) into.addAll(dense);
      else for (let p = start - base; p < start - base + keys; p++) into.addKey(log[p]! + MIN_KEY);
    });
    return sketch;
  }

  /** Calls `visit` for each slot whose slice is in the window: its dense counts, or its log range. */
  #eachSlot(windowMs: number, visit: (dense: Buckets | undefined, start: number, keys: number) => void): void {
    const slices = this.#slicesIn(windowMs);
    if (this.#last === -Infinity) return;
    const counts = this.#keys;
    const oldest = this.#clock.slice - slices;
    const n = this.#slices;
    /** Log position where the slot visited starts. */
    let start = this.#start;
    for (let back = 0; back < n; back++) {
      const slice = this.#last - back;
      if (slice <= oldest) break;
      const index = (this.#index - back + n) % n;
      const keys = back === 0 ? this.#head - this.#start : counts === undefined ? 0 : counts[index]!;
      if (back > 0) start -= keys;
      const dense = this.#dense?.[index];
      if (dense !== undefined) visit(dense, 0, 0);
      else if (keys > 0) visit(undefined, start, keys);
    }
  }

  /** A full log, a slice going dense (SPARSE_MAX keys, or a key the log cannot hold), dense growth and overflow, bad keys. */
  #addSlow(key: number): void {
    checkKey(key);
    let hot = this.#hot;
    if (hot === undefined) {
      if (this.#head - this.#start < SPARSE_MAX && (key - MIN_KEY) >>> 0 <= LOG_SPAN) {
        if (this.#head - this.#base >= this.#log.length) this.#makeRoom();
        this.#log[this.#head - this.#base] = key - MIN_KEY;
        this.#head++;
        return;
      }
      hot = this.#spare ?? new Buckets(DENSE_RUNG);
      this.#spare = undefined;
      hot.epoch = this.#last;
      for (let p = this.#start; p < this.#head; p++) hot.addKey(this.#log[p - this.#base]! + MIN_KEY);
      // The current slice's keys are the newest in the log: pop them.
      this.#head = this.#start;
      (this.#dense ??= [])[this.#index] = hot;
      this.#hot = hot;
    }
    hot.addKey(key);
  }

  /** Makes `slice` current: closes the current slot and clears the slots of the slices that fell out. */
  #enter(slice: number): void {
    const n = this.#slices;
    if (this.#last === -Infinity) {
      // The first slice needs no slot table: its start and count are in #start and #head.
      this.#last = slice;
      this.#index = ((slice % n) + n) % n;
      return;
    }
    const counts = (this.#keys ??= new Uint8Array(n));
    counts[this.#index] = this.#hot === undefined ? this.#head - this.#start : 0;
    const steps = Math.min(n, slice - this.#last);
    for (let step = steps - 1; step >= 0; step--) {
      // Oldest first, so each cleared slice's keys are at the log's tail.
      const index = (((slice - step) % n) + n) % n;
      this.#tail += counts[index]!;
      counts[index] = 0;
      const dense = this.#dense?.[index];
      if (dense !== undefined) {
        this.#dense![index] = undefined;
        if (this.#spare === undefined) {
          dense.reset();
          this.#spare = dense;
        }
      }
    }
    if (steps === n) this.#tail = this.#head;
    this.#last = slice;
    this.#index = ((slice % n) + n) % n;
    this.#start = this.#head;
    this.#hot = undefined;
    const live = this.#head - this.#tail;
    if (this.#log.length > 64 && live < this.#log.length / 4) this.#resize(grown(live));
  }

  /** Room for one more key at the log's end: the live keys moved to its front, or a larger log. */
  #makeRoom(): void {
    const live = this.#head - this.#tail;
    if (8 * (live + 1) <= 7 * this.#log.length) {
      this.#log.copyWithin(0, this.#tail - this.#base, this.#head - this.#base);
      this.#base = this.#tail;
    } else {
      this.#resize(grown(live + 1));
    }
  }

  /** Moves the log's live keys to the front of a new buffer of `capacity` (at least the live keys). */
  #resize(capacity: number): void {
    const next = new Uint16Array(capacity);
    next.set(this.#log.subarray(this.#tail - this.#base, this.#head - this.#base));
    this.#log = next;
    this.#base = this.#tail;
  }

  #slicesIn(windowMs: number): number {
    const span = this.spanMs;
    if (typeof windowMs !== 'number' || !(windowMs > 0 && windowMs <= span)) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `invalid windowMs: ${describeValue(windowMs)} (expected 0 < windowMs <= ${span}, the ring's span)`,
      );
    }
    return Math.ceil(windowMs / this.#clock.sliceMs);
  }
}
