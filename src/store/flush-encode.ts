/**
 * Turns a `flush` batch into an {@link EncodedFlush}: validates every entry, encodes the current
 * values (msgpack) and sorts the points by series and time (of one (id, ts) the batch's last
 * kept), on the main thread in blocks with yields between them. Nothing is written here: a bad
 * entry throws before any write exists. The chunks are written by `flush-apply.ts`.
 */
import { performance } from 'node:perf_hooks';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import type { EncodedFlush } from './flush-apply.js';
import { FlushColumns } from './flush-columns.js';
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
  /** Appends the encoding of `value` (as the `current` database stores it) to `out`. */
  encodeCurrent(value: unknown, out: Bytes): void;
  /** Ends the running block, yields to the event loop, starts the next block. */
  yieldNow(): Promise<void>;
  /** When the running block started (performance.now()). */
  blockStart(): number;
}

/** A growable byte buffer. */
export class Bytes {
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
    this.appendRange(bytes, 0, bytes.length);
  }

  /** Appends `src[start..end)`; a loop, not `set(subarray)`: a value is a few bytes, and a view is an object. */
  appendRange(src: Uint8Array, start: number, end: number): void {
    const at = this.reserve(end - start) - start; // may replace this.buf
    const buf = this.buf;
    for (let k = start; k < end; k++) buf[at + k] = src[k]!;
  }

  take(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** The current values, encoded: ids, end offsets and bytes (`EncodedFlush`'s fields). */
interface Currents {
  ids: Uint32Array;
  ends: Uint32Array;
  bytes: Bytes;
  count: number;
}

/** One flush to encode: `FlushBatch`'s arrays, or the columns `flushTable` builds. */
export type FlushInput =
  { current: readonly (readonly [number, unknown])[]; points: readonly PointRecord[] } | FlushColumns;

/**
 * Validates and encodes one flush, given as `FlushBatch`'s arrays or as `FlushColumns`.
 * @throws {MonitorError} `EMON_INVALID_RECORD` for a bad entry or an unencodable snapshot
 * @throws {MonitorError} `EMON_STORE_FAILED` if a stored chunk cannot be read
 */
export async function encodeFlush(
  ctx: FlushEncodeContext,
  batch: FlushInput,
): Promise<{ flush: EncodedFlush; bytes: number; series: number }> {
  const overBudget = (): boolean => performance.now() - ctx.blockStart() > BLOCK_MS;
  const total = batch instanceof FlushColumns ? batch.currents : batch.current.length;
  const currents: Currents = {
    ids: new Uint32Array(total),
    ends: new Uint32Array(total),
    bytes: new Bytes(),
    count: 0,
  };
  let points: { ids: Uint32Array; tss: Float64Array; values: Float64Array };
  if (batch instanceof FlushColumns) {
    // One object encoded again and again: `{ v }` per series was an object per series.
    const scalar = { v: 0 };
    const ids = batch.scalarIds.view();
    const values = batch.scalarValues.view();
    for (let i = 0; i < ids.length; i++) {
      if (i > 0 && i % ENCODE_CHUNK === 0 && overBudget()) await ctx.yieldNow();
      scalar.v = values[i]!;
      encodeCurrent(ctx, currents, SCALAR_ENTRY, i, ids[i], scalar);
    }
    for (let i = 0; i < batch.objectIds.length; i++) {
      if (i > 0 && i % ENCODE_CHUNK === 0 && overBudget()) await ctx.yieldNow();
      encodeCurrent(ctx, currents, SNAPSHOT_ENTRY, i, batch.objectIds[i], batch.objects[i]);
    }
    points = { ids: batch.pointIds.view(), tss: batch.pointTs.view(), values: batch.pointValues.view() };
    for (let i = 0; i < points.ids.length; i++) {
      if (i > 0 && i % POINT_CHUNK === 0 && overBudget()) await ctx.yieldNow();
      checkPoint(ctx, COLUMN_POINT, i, points.ids[i], points.tss[i], points.values[i]);
    }
  } else {
    const { current } = batch;
    for (let i = 0; i < current.length; i++) {
      if (i > 0 && i % ENCODE_CHUNK === 0 && overBudget()) await ctx.yieldNow();
      const entry: unknown = current[i];
      if (!Array.isArray(entry) || entry.length !== 2) {
        throw new MonitorError(
          ErrorCode.InvalidRecord,
          `flush: batch.current[${i}] must be an [id, snapshot] pair, got ${describeValue(entry)}`,
        );
      }
      encodeCurrent(ctx, currents, BATCH_CURRENT, i, entry[0], entry[1]);
    }
    const n = batch.points.length;
    points = { ids: new Uint32Array(n), tss: new Float64Array(n), values: new Float64Array(n) };
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % POINT_CHUNK === 0 && overBudget()) await ctx.yieldNow();
      const p: unknown = batch.points[i];
      if (p === null || typeof p !== 'object') {
        throw new MonitorError(
          ErrorCode.InvalidRecord,
          `flush: batch.points[${i}] must be { id, ts, value }, got ${describeValue(p)}`,
        );
      }
      const { id, ts, value } = p as Record<string, unknown>;
      checkPoint(ctx, BATCH_POINT, i, id, ts, value);
      points.ids[i] = id;
      points.tss[i] = ts as number;
      points.values[i] = value as number;
    }
  }
  const sorted = await sortPoints(ctx, points.ids, points.tss, points.values, overBudget);
  const flush: EncodedFlush = {
    currentIds: currents.ids,
    currentEnds: currents.ends,
    currentBytes: currents.bytes.take(),
    pointIds: sorted.ids,
    pointTs: sorted.ts,
    pointValues: sorted.values,
  };
  return { flush, bytes: currents.bytes.length, series: sorted.series };
}

/** How an error names entry `i` of a batch (made only for the error: a string per entry was most of what validating allocated). */
const BATCH_CURRENT = (i: number): string => `batch.current[${i}]`;
const BATCH_POINT = (i: number): string => `batch.points[${i}]`;
const SCALAR_ENTRY = (i: number): string => `the current values' entry ${i}`;
const SNAPSHOT_ENTRY = (i: number): string => `the snapshots' entry ${i}`;
const COLUMN_POINT = (i: number): string => `point ${i}`;

/** Validates `id` and appends `value`'s encoding to `currents`; `what(i)` names the entry in an error. */
function encodeCurrent(
  ctx: FlushEncodeContext,
  currents: Currents,
  what: (i: number) => string,
  i: number,
  id: unknown,
  value: unknown,
): void {
  if (!ctx.isDefined(id)) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `flush: ${what(i)} has unknown series id ${describeValue(id)} (${ctx.idRange()})`,
    );
  }
  try {
    ctx.encodeCurrent(value, currents.bytes);
  } catch (err) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `flush: the current value of series ${id} cannot be encoded (${toError(err).message}); snapshots must be msgpack/JSON-able`,
      { cause: err },
    );
  }
  currents.ids[currents.count] = id;
  currents.ends[currents.count++] = currents.bytes.length;
}

/** Throws unless the point is a defined id, a non-negative integer ts and a finite value; `what(i)` names it in the error. */
function checkPoint(
  ctx: FlushEncodeContext,
  what: (i: number) => string,
  i: number,
  id: unknown,
  ts: unknown,
  value: unknown,
): asserts id is number {
  if (!ctx.isDefined(id)) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `flush: ${what(i)} has unknown series id ${describeValue(id)} (${ctx.idRange()})`,
    );
  }
  if (typeof ts !== 'number' || !Number.isSafeInteger(ts) || ts < 0) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `flush: ${what(i)} (series ${id}) has invalid ts ${describeValue(ts)} (expected a non-negative integer timestamp in ms)`,
    );
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new MonitorError(
      ErrorCode.InvalidRecord,
      `flush: ${what(i)} (series ${id}) has invalid value ${describeValue(value)} (expected a finite number)`,
    );
  }
}

/**
 * The points sorted by (id, ts), and of points at one (id, ts) only the batch's last: what
 * writeFlush takes. New arrays (they are transferred to the writer thread).
 */
async function sortPoints(
  ctx: FlushEncodeContext,
  ids: Uint32Array,
  tss: Float64Array,
  values: Float64Array,
  overBudget: () => boolean,
): Promise<{ ids: Uint32Array; ts: Float64Array; values: Float64Array; series: number }> {
  const n = ids.length;
  let inOrder = true;
  for (let i = 1; i < n && inOrder; i++) {
    if (ids[i]! < ids[i - 1]! || (ids[i] === ids[i - 1] && tss[i]! <= tss[i - 1]!)) inOrder = false;
  }
  const order = inOrder ? undefined : await orderById(ctx, ids);
  const at = (k: number): number => (order === undefined ? k : order[k]!);
  const sorted = { ids: new Uint32Array(n), ts: new Float64Array(n), values: new Float64Array(n) };
  let out = 0;
  let series = 0;
  for (let g = 0; g < n;) {
    const id = ids[at(g)]!;
    let end = g + 1;
    while (end < n && ids[at(end)] === id) end++;
    if (++series % SERIES_CHUNK === 0 && overBudget()) await ctx.yieldNow();
    // Strictly increasing ts (always so with one point): copied as they are, no rows built.
    let increasing = true;
    for (let k = g + 1; k < end && increasing; k++) increasing = tss[at(k)]! > tss[at(k - 1)]!;
    if (increasing) {
      for (let k = g; k < end; k++) {
        sorted.ids[out] = id;
        sorted.ts[out] = tss[at(k)]!;
        sorted.values[out++] = values[at(k)]!;
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
  return out === n
    ? { ...sorted, series }
    : { ids: sorted.ids.slice(0, out), ts: sorted.ts.slice(0, out), values: sorted.values.slice(0, out), series };
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
