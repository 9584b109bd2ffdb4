/**
 * Per-series columns: one number per series slot, in typed-array chunks that never move.
 *
 * A bound handle keeps its chunk and index, so its update is one typed-array add; growing a
 * column only appends chunks. Chunks double from 8 slots up to 4,096 and stay at 4,096, so a
 * metric with a handful of series holds bytes, not a page, and a large one wastes at most one
 * chunk (a doubling array would waste up to half).
 */
const FIRST_BITS = 3;
const LAST_BITS = 12;
/** Slots held by the doubling chunks (8 + 16 + ... + 4096). */
const RAMP = (1 << (LAST_BITS + 1)) - (1 << FIRST_BITS);
const RAMP_CHUNKS = LAST_BITS - FIRST_BITS + 1;

/** The chunk holding `slot`. */
export function chunkOf(slot: number): number {
  if (slot < RAMP) return 31 - Math.clz32((slot >>> FIRST_BITS) + 1);
  return RAMP_CHUNKS + ((slot - RAMP) >>> LAST_BITS);
}

/** `slot`'s index inside its chunk. */
export function indexOf(slot: number): number {
  return indexIn(slot, chunkOf(slot));
}

/** `slot`'s index inside its chunk `c` (`chunkOf(slot)`, when the caller has it already). */
export function indexIn(slot: number, c: number): number {
  if (slot < RAMP) return slot - (((1 << c) - 1) << FIRST_BITS);
  return (slot - RAMP) & ((1 << LAST_BITS) - 1);
}

/** Slots in chunk `c`. */
export function chunkSize(c: number): number {
  return c < RAMP_CHUNKS ? 1 << (c + FIRST_BITS) : 1 << LAST_BITS;
}

/** A column of doubles, every slot starting at `initial`. */
export class F64Column {
  readonly chunks: Float64Array[] = [];
  readonly #initial: number;

  constructor(initial: number) {
    this.#initial = initial;
  }

  /** Makes room for `slot` (slots are taken in order, so at most one chunk is added). */
  ensure(slot: number): void {
    const c = chunkOf(slot);
    while (this.chunks.length <= c) {
      const chunk = new Float64Array(chunkSize(this.chunks.length));
      if (this.#initial !== 0) chunk.fill(this.#initial);
      this.chunks.push(chunk);
    }
  }

  get(slot: number): number {
    return this.chunks[chunkOf(slot)]![indexOf(slot)]!;
  }

  set(slot: number, value: number): void {
    this.chunks[chunkOf(slot)]![indexOf(slot)] = value;
  }

  /** The value at `slot`, undefined where it is NaN ("none": a flushed version or store id not set). */
  optional(slot: number): number | undefined {
    const v = this.get(slot);
    return Number.isNaN(v) ? undefined : v;
  }

  /** Sets `slot`, undefined as NaN. */
  setOptional(slot: number, value: number | undefined): void {
    this.set(slot, value ?? Number.NaN);
  }
}
