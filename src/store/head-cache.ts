/**
 * `HeadCache`: where each series' head chunk starts, as the writer thread last wrote it, so a
 * flush reads the head with one `get` instead of a reverse range cursor per series.
 *
 * A stale start is data loss (rows appended to a chunk that is no longer the head). It stays
 * correct because one process writes a store, the two threads write history one at a time, and the
 * main thread tells the thread which series it wrote ({@link HeadCache.forget}); a failed
 * transaction forgets everything. Why it can be trusted, in full: docs/design-notes.md.
 */

/** Cached head starts by series id; NaN where unknown. */
export class HeadCache {
  #starts = new Float64Array(0);

  /** The cached start of `id`'s head chunk, or NaN. */
  start(id: number): number {
    return id < this.#starts.length ? this.#starts[id]! : Number.NaN;
  }

  /** Records that `id`'s head chunk starts at `start` (NaN: unknown). */
  set(id: number, start: number): void {
    if (id >= this.#starts.length) {
      if (Number.isNaN(start)) return;
      let size = Math.max(1024, this.#starts.length * 2);
      while (size <= id) size *= 2;
      const grown = new Float64Array(size).fill(Number.NaN);
      grown.set(this.#starts);
      this.#starts = grown;
    }
    this.#starts[id] = start;
  }

  /** Forgets `ids` (someone else wrote their history), or every series. */
  forget(ids: ArrayLike<number> | 'all'): void {
    if (ids === 'all') {
      this.#starts.fill(Number.NaN);
      return;
    }
    // ArrayLike (a list or a typed array): not iterable as typed.
    // eslint-disable-next-line @typescript-eslint/prefer-for-of
    for (let i = 0; i < ids.length; i++) this.set(ids[i]!, Number.NaN);
  }
}
