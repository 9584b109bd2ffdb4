/**
 * The state of a counter's or gauge's series as columns indexed by slot: value, the version last
 * flushed and the store id (NaN for "none"), 24 B per series, where an object per series with a
 * frozen label object held ~130 B. `ScalarSeries` is a handle onto one slot: it keeps the value's
 * chunk and index, so its update is one typed-array add, as fast as a field's.
 */
import type { LabelMap } from './label-map.js';
import { invalidValue, Series } from './metric.js';
import { chunkOf, F64Column, indexOf } from './slot-columns.js';

export class ScalarTable {
  readonly values = new F64Column(0);
  readonly flushed = new F64Column(Number.NaN);
  readonly storeIds = new F64Column(Number.NaN);

  constructor(
    readonly metric: string,
    readonly map: LabelMap,
  ) {}

  /** Makes room for the new series at `slot`. */
  created(slot: number): void {
    this.values.ensure(slot);
    this.flushed.ensure(slot);
    this.storeIds.ensure(slot);
  }
}

export abstract class ScalarSeries extends Series {
  readonly #table: ScalarTable;
  readonly #slot: number;
  /** The value's chunk and index: the update path's only state. */
  protected readonly chunk: Float64Array;
  protected readonly index: number;

  constructor(table: ScalarTable, slot: number) {
    super();
    this.#table = table;
    this.#slot = slot;
    this.chunk = table.values.chunks[chunkOf(slot)]!;
    this.index = indexOf(slot);
  }

  get metric(): string {
    return this.#table.metric;
  }

  get labels(): Readonly<Record<string, string>> {
    return this.#table.map.labelsOf(this.#slot);
  }

  get value(): number {
    return this.chunk[this.index]!;
  }

  set value(v: number) {
    this.chunk[this.index] = v;
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

  snapshot(): { v: number } {
    return { v: this.value };
  }

  /** @throws {MonitorError} `EMON_INVALID_VALUE` when the stored value is not one this kind of series holds */
  restore(state: unknown): void {
    const v = (state as { v?: unknown } | null)?.v;
    const refused = this.refusedRestore(v);
    if (refused !== undefined) throw invalidValue(this.metric, refused, v);
    this.value = v as number;
    this.flushedVersion = v as number;
  }

  /** Why `v` cannot be restored as this series' value (for the error), or undefined when it can. */
  protected abstract refusedRestore(v: unknown): string | undefined;

  version(): number {
    return this.value;
  }
}
