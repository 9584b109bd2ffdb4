/**
 * LabelMap: from a label object to the slot of the series it names, for one metric with fixed
 * label names. Slots are numbered in creation order; the metric keeps each series' state in columns
 * by slot (slot-columns.ts), so a series is no object of its own.
 *
 * It exists to make lookups allocation-free and series small (interned values, a hash table over
 * rows of ids). Validation happens once, when a series is created. Past the series limit, new
 * label sets map to one shared `__overflow__` series, so memory stays bounded.
 * Layout and per-series costs: docs/design-notes.md.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';

/** Label values by label name. Numbers are accepted and stored as their decimal string. */
export type Labels = Readonly<Record<string, string | number>>;

export const OVERFLOW_LABEL_VALUE = '__overflow__';

/** A UTF-16 surrogate without its pair: not text UTF-8 can carry. */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** No series at this slot (`find` of a label set that has none). */
export const NO_SLOT = -1;

/** What `walk` returns once every series was visited. */
export const WALK_DONE = -1;

/** Most values need no escaping; testing once first saved ~40 % of a 10k-series render (bench/exposition). */
const NEEDS_ESCAPE = /[\\"\n]/;

/** A label value as the text exposition writes it (`\\`, `\"`, `\n` escaped). */
export function escapeLabelValue(v: string): string {
  if (!NEEDS_ESCAPE.test(v)) return v;
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The hash table grows past this load: linear probing stays short below it. */
const MAX_LOAD = 0.75;

export class LabelMap {
  readonly names: readonly string[];
  /** `a="`, `",b="`, ...: what precedes each value in `labelPairsOf`, so a scrape concatenates 2 pieces a label. */
  readonly #pairOpens: readonly string[];
  readonly #metric: string;
  readonly #create: (slot: number, labels: Readonly<Record<string, string>>) => void;
  readonly #limit: number;
  readonly #onOverflow: () => void;
  readonly #makeLabels: (values: readonly string[]) => Readonly<Record<string, string>>;
  /** Per label name: value -> id, and id -> value. */
  readonly #ids: Map<string, number>[];
  readonly #values: string[][];
  /**
   * Per slot: its label value ids, `names.length` of them, at `slot * names.length`. One flat
   * array grown by half (no handle keeps it): the lookup indexes it without chunk arithmetic.
   */
  #rows: Int32Array;
  /** Open addressing: slot + 1, 0 for empty. */
  #table = new Int32Array(8);
  /** The ids of the label set being looked up: reused, so a lookup allocates nothing. */
  readonly #scratch: Int32Array;
  #count = 0;
  #overflow = NO_SLOT;

  /**
   * @param metric the metric's name, for error messages
   * @param names label names in declared order
   * @param create sets up the series at `slot` for a validated label set; may throw, and then
   *   nothing is added
   * @param limit max distinct series (the overflow series does not count)
   * @param onOverflow called for each lookup of a new label set past the limit
   */
  constructor(
    metric: string,
    names: readonly string[],
    create: (slot: number, labels: Readonly<Record<string, string>>) => void,
    limit: number,
    onOverflow: () => void,
  ) {
    this.#metric = metric;
    // A plain copy: indexing a frozen array on the lookup path measured ~3x slower.
    this.names = [...names];
    this.#pairOpens = this.names.map((name, i) => `${i === 0 ? '' : '",'}${name}="`);
    this.#create = create;
    this.#limit = limit;
    this.#onOverflow = onOverflow;
    this.#makeLabels = labelsFactory(this.names);
    this.#ids = this.names.map(() => new Map<string, number>());
    this.#values = this.names.map(() => []);
    this.#rows = new Int32Array(this.names.length * 8);
    this.#scratch = new Int32Array(this.names.length);
  }

  /** Number of series, not counting the overflow series. */
  get size(): number {
    return this.#overflow === NO_SLOT ? this.#count : this.#count - 1;
  }

  /** Calls `fn` with every slot in creation order, the overflow series' last. */
  forEachSlot(fn: (slot: number) => void): void {
    const count = this.#count;
    const overflow = this.#overflow;
    for (let slot = 0; slot < count; slot++) if (slot !== overflow) fn(slot);
    if (overflow !== NO_SLOT) fn(overflow);
  }

  /** Slots taken, the overflow series' included. */
  get slots(): number {
    return this.#count;
  }

  /**
   * Calls `fn` with at most `maxCount` slots in creation order (the overflow series' last),
   * starting at walk position `from` (0 to start), and returns the position to resume from, or
   * `WALK_DONE`. A position is a slot number, the overflow series' slot being skipped until the
   * end, so series created between two calls are visited by the resumed walk, each exactly once.
   */
  walk(from: number, maxCount: number, fn: (slot: number) => void): number {
    if (from < 0) return WALK_DONE;
    const overflow = this.#overflow;
    const count = this.#count;
    // At most `count` visits: kept a small integer, `left` is never a double (`Infinity`) boxed at each decrement.
    let left = Math.min(maxCount, count);
    let slot = from;
    for (; slot < count; slot++) {
      if (slot === overflow) continue;
      if (left === 0) return slot;
      fn(slot);
      left--;
    }
    if (overflow === NO_SLOT) return WALK_DONE;
    // Position `count`: only the overflow series is left (and any series created before resuming).
    if (left === 0) return slot;
    fn(overflow);
    return WALK_DONE;
  }

  /**
   * `a="x",b="y"` of the series at `slot` in declared order, values escaped for the text
   * exposition, as `formatLabelPairs(labelsOf(slot))` but without building the label object.
   */
  labelPairsOf(slot: number): string {
    const n = this.names.length;
    const rows = this.#rows;
    const base = slot * n;
    if (n === 0) return '';
    const opens = this.#pairOpens;
    let out = '';
    for (let i = 0; i < n; i++) out = out + opens[i]! + escapeLabelValue(this.#values[i]![rows[base + i]!]!);
    return `${out}"`;
  }

  /** The value of label `i` (in declared order) of the series at `slot`, as `labelsOf(slot)` has it. */
  valueOf(slot: number, i: number): string {
    return this.#values[i]![this.#rows[slot * this.names.length + i]!]!;
  }

  /** The label object of the series at `slot` (a new frozen object each call). */
  labelsOf(slot: number): Readonly<Record<string, string>> {
    const n = this.names.length;
    const values: string[] = new Array<string>(n);
    const rows = this.#rows;
    const base = slot * n;
    for (let i = 0; i < n; i++) values[i] = this.#values[i]![rows[base + i]!]!;
    return this.#makeLabels(values);
  }

  /**
   * The slot for `labels`, its series created on first use.
   * @throws {MonitorError} `EMON_INVALID_LABELS` for an unknown or missing label or a value that
   *   is not a string or finite number; nothing is created then
   */
  get(labels: Labels | undefined): number {
    return this.#lookup(labels, true);
  }

  /**
   * The slot for `labels` if its series exists, else `NO_SLOT`; never creates one.
   * @throws {MonitorError} `EMON_INVALID_LABELS` as `get`
   */
  find(labels: Labels | undefined): number {
    return this.#lookup(labels, false);
  }

  #lookup(labels: Labels | undefined, create: boolean): number {
    const names = this.names;
    const n = names.length;
    if (n === 0) {
      if (
        labels !== undefined &&
        (labels === null || typeof labels !== 'object' || Array.isArray(labels) || hasKeys(labels))
      )
        throw this.#error(labels);
      return this.#count > 0 ? 0 : this.#miss({}, create);
    }
    if (labels === undefined || labels === null || typeof labels !== 'object') throw this.#error(labels);
    let count = 0;
    for (const _ in labels) count++;
    if (count !== n) throw this.#error(labels);
    const scratch = this.#scratch;
    const ids = this.#ids;
    let h = 0;
    for (let i = 0; i < n; i++) {
      const value = labelValue(labels[names[i]!]);
      if (value === undefined) throw this.#error(labels);
      const id = ids[i]!.get(value);
      // A value no series has: no series has this label set.
      if (id === undefined) return this.#miss(labels, create);
      scratch[i] = id;
      h = mix(h, id);
    }
    h = spread(h);
    // Linear probing over slot + 1 (0: empty); a row matches when all its ids do.
    const table = this.#table;
    const mask = table.length - 1;
    const rows = this.#rows;
    for (let pos = h & mask; ; pos = (pos + 1) & mask) {
      const entry = table[pos]!;
      if (entry === 0) return this.#miss(labels, create);
      const base = (entry - 1) * n;
      let i = 0;
      while (i < n && rows[base + i] === scratch[i]) i++;
      if (i === n) return entry - 1;
    }
  }

  #miss(labels: Labels, create: boolean): number {
    if (create) return this.#insert(labels);
    const clean = this.#validate(labels);
    const overflow = this.#overflow !== NO_SLOT && this.names.every((name) => clean[name] === OVERFLOW_LABEL_VALUE);
    return overflow ? this.#overflow : NO_SLOT;
  }

  #insert(labels: Labels): number {
    const clean = this.#validate(labels);
    const names = this.names;
    // The overflow series' own label set (sent by a caller, or restored from the store) is that
    // series, whatever the count: a second series with the same labels would break the exposition.
    const isOverflowSet = names.length > 0 && names.every((name) => clean[name] === OVERFLOW_LABEL_VALUE);
    if (this.size >= this.#limit || isOverflowSet) {
      if (!isOverflowSet) this.#onOverflow();
      if (this.#overflow === NO_SLOT) this.#overflow = this.#add(names.map(() => OVERFLOW_LABEL_VALUE));
      return this.#overflow;
    }
    return this.#add(names.map((name) => clean[name]!));
  }

  /** Adds a series for these validated values (in declared order); nothing changes if `create` throws. */
  #add(values: string[]): number {
    const slot = this.#count;
    this.#create(slot, this.#makeLabels(values));
    const n = values.length;
    if (n > 0) {
      const base = slot * n;
      if (base + n > this.#rows.length) {
        const grown = new Int32Array(Math.max(base + n, Math.ceil((this.#rows.length * 1.5) / n) * n));
        grown.set(this.#rows);
        this.#rows = grown;
      }
      const row = this.#rows;
      let h = 0;
      for (let i = 0; i < n; i++) {
        const v = values[i]!;
        let id = this.#ids[i]!.get(v);
        if (id === undefined) {
          id = this.#values[i]!.length;
          this.#values[i]!.push(v);
          this.#ids[i]!.set(v, id);
        }
        row[base + i] = id;
        h = mix(h, id);
      }
      if (this.#count + 1 > this.#table.length * MAX_LOAD) this.#grow();
      this.#place(spread(h), slot);
    }
    this.#count++;
    return slot;
  }

  #place(h: number, slot: number): void {
    const table = this.#table;
    const mask = table.length - 1;
    let pos = h & mask;
    while (table[pos] !== 0) pos = (pos + 1) & mask;
    table[pos] = slot + 1;
  }

  #grow(): void {
    this.#table = new Int32Array(this.#table.length * 2);
    const n = this.names.length;
    const rows = this.#rows;
    for (let slot = 0; slot < this.#count; slot++) {
      const base = slot * n;
      let h = 0;
      for (let i = 0; i < n; i++) h = mix(h, rows[base + i]!);
      this.#place(spread(h), slot);
    }
  }
  #validate(labels: Labels): Record<string, string> {
    const clean: Record<string, string> = {};
    for (const name of this.names) {
      const v: unknown = labels[name];
      if (typeof v === 'string') {
        // The store and the exposition are UTF-8: a lone surrogate would come back as U+FFFD,
        // so the series would be restored under other labels than it was written with.
        if (LONE_SURROGATE.test(v)) {
          throw new MonitorError(
            ErrorCode.InvalidLabels,
            `metric "${this.#metric}": label "${name}" must be valid Unicode text, got a string with a lone surrogate`,
          );
        }
        clean[name] = v;
      } else if (typeof v === 'number' && Number.isFinite(v)) clean[name] = String(v);
      else throw this.#error(labels);
    }
    return clean;
  }

  /** Says precisely what is wrong with `labels`. */
  #error(labels: unknown): MonitorError {
    const allowed = this.names.length === 0 ? 'no labels' : `labels ${this.names.map((n) => `"${n}"`).join(', ')}`;
    const prefix = `metric "${this.#metric}"`;
    if (labels === undefined || labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
      return new MonitorError(
        ErrorCode.InvalidLabels,
        `${prefix}: labels must be an object with ${allowed}, got ${describeValue(labels)}`,
      );
    }
    const given = Object.keys(labels);
    const unknown = given.filter((k) => !this.names.includes(k));
    if (unknown.length > 0) {
      return new MonitorError(
        ErrorCode.InvalidLabels,
        `${prefix}: unknown label ${unknown.map((k) => `"${k}"`).join(', ')} (allowed: ${allowed})`,
      );
    }
    const missing = this.names.filter(
      (k) => !given.includes(k) || (labels as Record<string, unknown>)[k] === undefined,
    );
    if (missing.length > 0) {
      return new MonitorError(
        ErrorCode.InvalidLabels,
        `${prefix}: missing label ${missing.map((k) => `"${k}"`).join(', ')} (required: ${allowed})`,
      );
    }
    const bad = this.names.find((k) => {
      const v = (labels as Record<string, unknown>)[k];
      return !(typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)));
    })!;
    return new MonitorError(
      ErrorCode.InvalidLabels,
      `${prefix}: label "${bad}" must be a string or a finite number, got ${describeValue((labels as Record<string, unknown>)[bad])}`,
    );
  }
}

/**
 * Frozen label objects, all built by one constructor per metric: V8 then gives them an exact-size
 * layout, where `{}` plus assignments keeps 4 preallocated slots.
 */
function labelsFactory(names: readonly string[]): (values: readonly string[]) => Readonly<Record<string, string>> {
  const Labels = function (this: Record<string, string>, values: readonly string[]) {
    for (let i = 0; i < names.length; i++) this[names[i]!] = values[i]!;
  } as unknown as new (values: readonly string[]) => Record<string, string>;
  return (values) => Object.freeze(new Labels(values));
}

/** Folds one label value id into a row hash; `spread` finishes it. */
function mix(h: number, id: number): number {
  return (Math.imul(h ^ id, 0x9e3779b1) + 0x7f4a7c15) | 0;
}

/**
 * Murmur3's finalizer: every input bit moves the low bits the table indexes by. Without it, rows
 * whose ids differ in high bits only (the common case: few methods, many routes) piled up in a
 * few buckets: 52 rows took 17 of 128 buckets instead of the ~43 a random hash gives.
 */
function spread(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** A label value as stored: strings as they are, finite numbers in decimal, anything else undefined. */
function labelValue(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
}

function hasKeys(o: object): boolean {
  for (const _ in o) return true;
  return false;
}
