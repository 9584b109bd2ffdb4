/**
 * `FlushColumns`: a flush batch built as typed columns, for `flushTable`: a counter's or gauge's
 * current value is its id and number (stored as `{ v }`, encoded by the store), a point is three
 * numbers. `FlushBatch`'s `[id, snapshot]` pair and `{ id, ts, value }` object per series were
 * most of the ~1.1 KB the main thread allocated per flushed counter (docs/design-notes.md).
 */
import type { PointRecord } from './types.js';

/** A growable column of numbers. */
export class NumberColumn<A extends Uint32Array | Float64Array> {
  length = 0;

  constructor(
    public array: A,
    readonly make: (length: number) => A,
  ) {}

  push(value: number): void {
    if (this.length === this.array.length) {
      const grown = this.make(this.array.length * 2);
      grown.set(this.array);
      this.array = grown;
    }
    this.array[this.length++] = value;
  }

  /** The values pushed, a view (no copy). */
  view(): A {
    return this.array.subarray(0, this.length) as A;
  }
}

const u32 = (n: number): Uint32Array => new Uint32Array(n);
const f64 = (n: number): Float64Array => new Float64Array(n);

export class FlushColumns {
  /** Series whose current value is `{ v: value }` (a counter's or gauge's). */
  readonly scalarIds: NumberColumn<Uint32Array>;
  readonly scalarValues: NumberColumn<Float64Array>;
  /** Series whose current value is any msgpack-able snapshot (a histogram's state). */
  readonly objectIds: number[] = [];
  readonly objects: unknown[] = [];
  readonly pointIds: NumberColumn<Uint32Array>;
  readonly pointTs: NumberColumn<Float64Array>;
  readonly pointValues: NumberColumn<Float64Array>;

  /** @param expected how many currents and points to make room for at first (it grows) */
  constructor(expected = 1024) {
    const n = Math.max(16, expected);
    this.scalarIds = new NumberColumn(u32(n), u32);
    this.scalarValues = new NumberColumn(f64(n), f64);
    this.pointIds = new NumberColumn(u32(n), u32);
    this.pointTs = new NumberColumn(f64(n), f64);
    this.pointValues = new NumberColumn(f64(n), f64);
  }

  /** The current value `{ v: value }` of series `id`. */
  scalar(id: number, value: number): void {
    this.scalarIds.push(id);
    this.scalarValues.push(value);
  }

  /** The current value `snapshot` of series `id`. */
  object(id: number, snapshot: unknown): void {
    this.objectIds.push(id);
    this.objects.push(snapshot);
  }

  point(id: number, ts: number, value: number): void {
    this.pointIds.push(id);
    this.pointTs.push(ts);
    this.pointValues.push(value);
  }

  get currents(): number {
    return this.scalarIds.length + this.objectIds.length;
  }

  get points(): number {
    return this.pointIds.length;
  }

  /** The same batch as `FlushBatch`'s arrays (for a store that does not know this class). */
  toBatch(): { current: [number, unknown][]; points: PointRecord[] } {
    const current: [number, unknown][] = [];
    for (let i = 0; i < this.scalarIds.length; i++)
      current.push([this.scalarIds.array[i]!, { v: this.scalarValues.array[i]! }]);
    for (let i = 0; i < this.objectIds.length; i++) current.push([this.objectIds[i]!, this.objects[i]]);
    const points: PointRecord[] = [];
    for (let i = 0; i < this.pointIds.length; i++)
      points.push({ id: this.pointIds.array[i]!, ts: this.pointTs.array[i]!, value: this.pointValues.array[i]! });
    return { current, points };
  }
}
