/**
 * `DerivedValues`: the newest values that processes compute from the table rather than record
 * in it, e.g. the performance monitor's `latency.p95` over its window or `error_rate`. The
 * performance monitor writes them each check; alerting rules and the dashboard read them by name.
 * Owned by the tree (like the table), so a crash of the writer keeps the last values readable.
 */
export interface DerivedValue {
  value: number;
  /** When it was computed (ms since the epoch). */
  at: number;
  /** The window it covers in ms, when it is a windowed figure. */
  windowMs?: number;
  /** How many samples it rests on, when that is known. */
  samples?: number;
}

export class DerivedValues {
  readonly #values = new Map<string, DerivedValue>();

  /** Sets `name` (e.g. `'latency.p95'`); a non-finite value removes it (no data). */
  set(name: string, value: DerivedValue): void {
    if (Number.isFinite(value.value)) this.#values.set(name, value);
    else this.#values.delete(name);
  }

  delete(name: string): void {
    this.#values.delete(name);
  }

  get(name: string): DerivedValue | undefined {
    return this.#values.get(name);
  }

  /** Every value, by name, in insertion order. */
  entries(): IterableIterator<[string, DerivedValue]> {
    return this.#values.entries();
  }
}
