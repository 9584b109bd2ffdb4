/**
 * `writeFlush`: writes one encoded flush to the env's databases: the current values, and each
 * changed series' points appended to its head chunk (or merged into the chunks they overlap,
 * `history-chunks.ts`). The ONE writer of a flush: `MetricStore` runs it on the main thread for a
 * small flush (inside one `env.batch`), the writer thread (`flush-thread.ts`) for a large one
 * (inside one `env.transactionSync`). Either way the flush is one transaction.
 */
import { ChunkEncoder } from './chunk-codec.js';
import type { HeadCache } from './head-cache.js';
import {
  type ChunkDatabase,
  HISTORY_COLUMNS,
  headChunk,
  isFull,
  needsMerge,
  planSeriesRows,
} from './history-chunks.js';

/** One flush as typed arrays, ready to be written. Every buffer is transferable. */
export interface EncodedFlush {
  /** Series id of each current value. */
  currentIds: Uint32Array;
  /** End offset in `currentBytes` of each current value (the start is the previous end, or 0). */
  currentEnds: Uint32Array;
  /** The msgpack-encoded current values, back to back. */
  currentBytes: Uint8Array;
  /** The points, sorted by id, then strictly increasing ts within an id. */
  pointIds: Uint32Array;
  pointTs: Float64Array;
  pointValues: Float64Array;
}

/** The databases a flush writes: `current` taking msgpack bytes, `history` (`openChunkDatabases`). */
export interface FlushTarget {
  current: { put(key: number, value: Uint8Array): unknown };
  history: ChunkDatabase;
  /**
   * While a layout-2 store converts: its old `points` (`migrate-layout2.ts`). A flushed point removes
   * the unconverted point it replaces, or a prune could fold the new one into a rollup before the
   * conversion compares them, and the old one would come back and be folded too.
   */
  layout2Points?: { getStats(): unknown; remove(key: [number, number]): unknown };
}

/**
 * Writes `flush`. Reads each changed series' stored chunks: the caller makes sure nothing else
 * writes history meanwhile (`MetricStore` runs flushes and prune steps one at a time).
 * @param heads where the heads start, if the caller keeps them (the writer thread, `head-cache.ts`):
 *   read for each series and updated with what is written; the caller forgets them all if the
 *   transaction fails
 * @returns the chunks put and removed, and their bytes (for the caller's accounting)
 * @throws Error naming the series if a stored chunk does not decode
 */
export function writeFlush(
  target: FlushTarget,
  flush: EncodedFlush,
  heads?: HeadCache,
): { puts: number; removes: number; bytes: number } {
  let start = 0;
  for (let i = 0; i < flush.currentIds.length; i++) {
    void target.current.put(flush.currentIds[i]!, flush.currentBytes.subarray(start, flush.currentEnds[i]));
    start = flush.currentEnds[i]!;
  }
  const { pointIds: ids, pointTs: ts, pointValues: values } = flush;
  const done = { puts: 0, removes: 0, bytes: 0 };
  const old =
    target.layout2Points !== undefined && (target.layout2Points.getStats() as { entryCount: number }).entryCount > 0
      ? target.layout2Points
      : undefined;
  if (old !== undefined) for (let i = 0; i < ids.length; i++) void old.remove([ids[i]!, ts[i]!]);
  for (let g = 0; g < ids.length;) {
    const id = ids[g]!;
    let end = g + 1;
    while (end < ids.length && ids[end] === id) end++;
    try {
      if (!appendToHead(target.history, id, ts, values, g, end, heads, done))
        mergeIntoChunks(target.history, id, ts, values, g, end, heads, done);
    } catch (err) {
      throw new Error(`the stored history of series ${id} cannot be read: ${(err as Error).message}`, { cause: err });
    }
    g = end;
  }
  return done;
}

/**
 * The usual case, without building rows: points `[from, to)` of series `id`, all newer than its
 * head, appended to the head (resumed: only its header is read) and to new chunks as it fills.
 * @returns false, having written nothing, if a point is not newer than the head (merge them)
 */
function appendToHead(
  history: ChunkDatabase,
  id: number,
  ts: Float64Array,
  values: Float64Array,
  from: number,
  to: number,
  heads: HeadCache | undefined,
  done: { puts: number; bytes: number },
): boolean {
  let head: { start: number; bytes: Uint8Array } | undefined;
  const cached = heads === undefined ? Number.NaN : heads.start(id);
  if (!Number.isNaN(cached)) {
    // Resuming copies what it keeps: the read need not copy (~15% of the thread's CPU at 200,000 series).
    const bytes = history.getBinaryFast === undefined ? history.get([id, cached]) : history.getBinaryFast([id, cached]);
    if (bytes !== undefined) head = { start: cached, bytes };
  }
  head ??= headChunk(history, id);
  let enc: ChunkEncoder | undefined;
  if (head !== undefined) {
    enc = ChunkEncoder.resume(head.bytes);
    if (ts[from]! <= enc.lastTs) return false;
    if (isFull(enc)) enc = undefined;
  }
  for (let i = from; i < to; i++) {
    if (enc === undefined || isFull(enc)) {
      if (enc !== undefined) putChunk(history, id, enc, done);
      enc = new ChunkEncoder(HISTORY_COLUMNS);
    }
    enc.append(ts[i]!, values[i]!);
  }
  putChunk(history, id, enc!, done);
  heads?.set(id, enc!.firstTs);
  return true;
}

function putChunk(history: ChunkDatabase, id: number, enc: ChunkEncoder, done: { puts: number; bytes: number }): void {
  const chunk = enc.bytes();
  void history.put([id, enc.firstTs], chunk);
  done.puts++;
  done.bytes += chunk.length;
}

/** Points `[from, to)` of series `id`, some at or before its head's last ts: merged into the chunks they overlap. */
function mergeIntoChunks(
  history: ChunkDatabase,
  id: number,
  ts: Float64Array,
  values: Float64Array,
  from: number,
  to: number,
  heads: HeadCache | undefined,
  done: { puts: number; removes: number; bytes: number },
): void {
  const rows = { ts: Array.from(ts.subarray(from, to)), cols: [Array.from(values.subarray(from, to))] };
  const edit = planSeriesRows(history, id, HISTORY_COLUMNS, rows, 'replace');
  for (const removed of edit.removes) void history.remove([id, removed]);
  for (const [first, chunk] of edit.puts) {
    void history.put([id, first], chunk);
    done.bytes += chunk.length;
  }
  done.puts += edit.puts.length;
  done.removes += edit.removes.length;
  // The merged chunks need not include the head: look it up next time.
  heads?.set(id, Number.NaN);
}

/**
 * Whether any series of `flush` has points at or before its stored head's last ts (out of order
 * or a duplicate ts): those decode, merge and re-encode the chunks they overlap, too slow for the
 * main thread. One header read per changed series.
 */
export function flushNeedsMerge(history: ChunkDatabase, flush: EncodedFlush): boolean {
  const ids = flush.pointIds;
  for (let g = 0; g < ids.length;) {
    const id = ids[g]!;
    if (needsMerge(history, id, flush.pointTs[g]!)) return true;
    while (g < ids.length && ids[g] === id) g++;
  }
  return false;
}
