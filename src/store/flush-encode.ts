/**
 * Turns a `flush` batch into an {@link EncodedFlush}: validates every entry, encodes the current
 * values (msgpack) and sorts the points by series and time (of one (id, ts) the batch's last
 * kept), on the main thread in blocks with yields between them. Nothing is written here: a bad
 * entry throws before any write exists. The chunks are written by `flush-apply.ts`.
 */
import { performance } from 'node:perf_hooks';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import type { EncodedFlush } from './flush-apply.js';
import type { PointRecord } from './types.js';

/** Current values encoded between two checks of the block's length. */
const ENCODE_CHUNK = 250;
/** Points validated between two checks of the block's length (2,000: ~0.2 ms of CPU). */
const POINT_CHUNK = 2000;
/** Series sorted between two checks of the block's length. */
const SERIES_CHUNK = 16;
/**
 * A block yields to the event loop once it has run this long. The store's budget is 20 ms; on a
 * loaded machine the wall time of a block is several times its CPU time, hence the margin.
 */
const BLOCK_MS = 4;

/** What `encodeFlush` needs from the store. */
export interface FlushEncodeContext {
  isDefined(id: unknown): id is number;
  idRange(): string;
  /** The highest id defined (ids are dense, 1..lastId). */
  lastId: number;
  encodeCurrent(value: unknown): Uint8Array;
  /** Ends the running block, yields to the event loop, starts the next block. */
  yieldNow(): Promise<void>;
  /** When the running block started (performance.now()). */
  blockStart(): number;
}

/** A growable byte buffer. */
class Bytes {
  buf = new Uint8Array(1024);
  length = 0;

  reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  append(bytes: Uint8Array): void {
    const at = this.reserve(bytes.length); // may replace this.buf
    this.buf.set(bytes, at);
  }

  take(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/**
 * Validates and encodes one flush.
 * @throws {MonitorError} `EMON_INVALID_RECORD` for a bad entry or an unencodable snapshot
 * @throws {MonitorError} `EMON_STORE_FAILED` if a stored chunk cannot be read
 */
export async function encodeFlush(
  ctx: FlushEncodeContext,
  current: readonly (readonly [number, unknown])[],
  points: readonly PointRecord[],
): Promise<{ flush: EncodedFlush; bytes: number; series: number }> {
  const overBudget = (): boolean => performance.now() - ctx.blockStart() > BLOCK_MS;

  const currentIds = new Uint32Array(current.length);
  const currentEnds = new Uint32Array(current.length);
  const currentBytes = new Bytes();
  for (let i = 0; i < current.length; i++) {
    if (i > 0 && i % ENCODE_CHUNK === 0 && overBudget()) await ctx.yieldNow();
    const entry: unknown = current[i];
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch.current[${i}] must be an [id, snapshot] pair, got ${describeValue(entry)}`,
      );
    }
    const id: unknown = entry[0];
    if (!ctx.isDefined(id)) {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch.current[${i}] has unknown series id ${describeValue(id)} (${ctx.idRange()})`,
      );
    }
    let encoded: Uint8Array;
    try {
      encoded = ctx.encodeCurrent(entry[1]);
    } catch (err) {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: the current value of series ${id} cannot be encoded (${toError(err).message}); snapshots must be msgpack/JSON-able`,
        { cause: err },
      );
    }
    currentBytes.append(encoded);
    currentIds[i] = id;
    currentEnds[i] = currentBytes.length;
  }

  const n = points.length;
  const ids = new Uint32Array(n);
  const tss = new Float64Array(n);
  const values = new Float64Array(n);
  let inOrder = true;
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % POINT_CHUNK === 0 && overBudget()) await ctx.yieldNow();
    const p: unknown = points[i];
    if (p === null || typeof p !== 'object') {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch.points[${i}] must be { id, ts, value }, got ${describeValue(p)}`,
      );
    }
    const { id, ts, value } = p as Record<string, unknown>;
    if (!ctx.isDefined(id)) {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch.points[${i}] has unknown series id ${describeValue(id)} (${ctx.idRange()})`,
      );
    }
    if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch.points[${i}] (series ${id}) has invalid ts ${describeValue(ts)} (expected a non-negative integer timestamp in ms)`,
      );
    }
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw new MonitorError(
        ErrorCode.InvalidRecord,
        `flush: batch.points[${i}] (series ${id}) has invalid value ${describeValue(value)} (expected a finite number)`,
      );
    }
    ids[i] = id;
    tss[i] = ts;
    values[i] = value;
    if (i > 0 && (id < ids[i - 1]! || (id === ids[i - 1] && ts <= tss[i - 1]!))) inOrder = false;
  }

  const order = inOrder ? undefined : await orderById(ctx, ids);
  // Sorted by (id, ts), and of points at one (id, ts) only the batch's last: what writeFlush takes.
  const sorted = { ids: new Uint32Array(n), ts: new Float64Array(n), values: new Float64Array(n) };
  let out = 0;
  let series = 0;
  for (let g = 0; g < n;) {
    const id = ids[order === undefined ? g : order[g]!]!;
    let end = g + 1;
    while (end < n && ids[order === undefined ? end : order[end]!] === id) end++;
    if (++series % SERIES_CHUNK === 0 && overBudget()) await ctx.yieldNow();
    if (order === undefined && inOrder) {
      for (let k = g; k < end; k++) {
        sorted.ids[out] = id;
        sorted.ts[out] = tss[k]!;
        sorted.values[out++] = values[k]!;
      }
    } else {
      const rows = seriesRows(order, g, end, tss, values);
      for (let k = 0; k < rows.ts.length; k++) {
        sorted.ids[out] = id;
        sorted.ts[out] = rows.ts[k]!;
        sorted.values[out++] = rows.cols[0]![k]!;
      }
    }
    g = end;
  }
  const flush: EncodedFlush = {
    currentIds,
    currentEnds,
    currentBytes: currentBytes.take(),
    pointIds: sorted.ids.slice(0, out),
    pointTs: sorted.ts.slice(0, out),
    pointValues: sorted.values.slice(0, out),
  };
  return { flush, bytes: currentBytes.length, series };
}

/**
 * Point indexes ordered by series id, keeping batch order within a series (a counting sort: ids
 * are dense), in passes with yields between them.
 */
async function orderById(ctx: FlushEncodeContext, ids: Uint32Array): Promise<Uint32Array> {
  const starts = new Uint32Array(ctx.lastId + 2);
  for (let i = 0; i < ids.length; i++) {
    starts[ids[i]! + 1]!++;
    if (i % POINT_CHUNK === 0 && performance.now() - ctx.blockStart() > BLOCK_MS) await ctx.yieldNow();
  }
  for (let id = 1; id < starts.length; id++) starts[id]! += starts[id - 1]!;
  const order = new Uint32Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    order[starts[ids[i]!]!++] = i;
    if (i % POINT_CHUNK === 0 && performance.now() - ctx.blockStart() > BLOCK_MS) await ctx.yieldNow();
  }
  return order;
}

/**
 * The points `order[from..end)` of one series as rows with strictly increasing timestamps: sorted
 * by time (stable), and of points at the same timestamp only the last of the batch kept.
 */
function seriesRows(
  order: Uint32Array | undefined,
  from: number,
  end: number,
  tss: Float64Array,
  values: Float64Array,
): { ts: number[]; cols: number[][] } {
  const index = (k: number): number => (order === undefined ? k : order[k]!);
  let sorted = true;
  for (let k = from + 1; k < end; k++) {
    if (tss[index(k)]! <= tss[index(k - 1)]!) {
      sorted = false;
      break;
    }
  }
  const ts: number[] = [];
  const vals: number[] = [];
  if (sorted) {
    for (let k = from; k < end; k++) {
      ts.push(tss[index(k)]!);
      vals.push(values[index(k)]!);
    }
    return { ts, cols: [vals] };
  }
  const picks = Array.from({ length: end - from }, (_, k) => index(from + k));
  picks.sort((a, b) => tss[a]! - tss[b]! || a - b);
  for (const i of picks) {
    if (ts.length > 0 && ts[ts.length - 1] === tss[i]) vals[vals.length - 1] = values[i]!;
    else {
      ts.push(tss[i]!);
      vals.push(values[i]!);
    }
  }
  return { ts, cols: [vals] };
}
