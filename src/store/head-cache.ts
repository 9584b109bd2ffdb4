/**
 * `HeadCache`: where each series' head chunk starts, as the writer thread last wrote it, so a
 * flush reads the head with one `get` instead of a reverse range cursor per series (the cursor,
 * its buffers and their collection were ~40% of the thread's ~10-15 µs per series at 100,000-1M
 * series).
 *
 * **Why it can be trusted.** A stale start is data loss: appending to a chunk that is no longer
 * the head would put rows before a newer chunk's. Only one process writes a store (`writer-lock.ts`),
 * and in it, history is written by the writer thread (large flushes, every merge of late points)
 * and by the main thread (small flushes, prune steps, the layout-2 conversion), one at a time
 * (`MetricStore`'s `#withHistory`). The main thread tells the thread, with its next write, which
 * series it wrote since the last one (or that it wrote any: `all`); the thread forgets those
 * before writing ({@link HeadCache.forget}). A failed transaction forgets everything. A start
 * whose chunk is gone (a prune cut the head) is looked up again, so only a chunk added after the
 * cached head by someone else could mislead it: that is what the notices cover.
 *
 * Memory: 8 bytes per series id ever written (a Float64Array grown by doubling).
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
