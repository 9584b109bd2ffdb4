/**
 * The history reads of `MetricStore` over the chunked layout (`history-chunks.ts`): a range of one
 * series (raw points, rollups where raw points were pruned, downsampled), its rollups, and its
 * newest point. Each decodes only the chunks that overlap what it asks for. Arguments are checked
 * by the caller.
 */
import { decodeChunkInto } from './chunk-codec.js';
import { downsample } from './downsample.js';
import {
  type ChunkDatabase,
  chunksOverlapping,
  emptyRows,
  HISTORY_COLUMNS,
  headChunk,
  ROLLUP_COLUMNS,
  rowAt,
} from './history-chunks.js';
import type { Layout2Remnant } from './migrate-layout2.js';
import type { SeriesTimeKey } from './point-codec.js';
import { ROLLUP_BUCKET_MS, type RollupCell } from './rollup.js';
import type { RangePoint } from './types.js';

/** The chunk databases the queries read. */
export interface ChunkDbs {
  history: ChunkDatabase;
  rollup: ChunkDatabase;
  /** While a layout-2 store converts: its entries not moved yet, merged into every read (`migrate-layout2.ts`). */
  layout2?: Layout2Remnant;
}

/** Decodes the rows of `id` in `[fromMs, toMs]` from `db`, ascending. */
export function readRows(
  db: ChunkDatabase,
  id: number,
  columns: number,
  fromMs: number,
  toMs: number,
): { ts: number[]; cols: number[][] } {
  const rows = emptyRows(columns);
  for (const chunk of chunksOverlapping(db, id, fromMs, toMs))
    decodeChunkInto(chunk.bytes, fromMs, toMs, rows.ts, rows.cols);
  return rows;
}

/** Rollup cells of `id` whose bucket starts in `[fromMs, toMs]`, ascending. */
export function rollupCells(
  dbs: ChunkDbs,
  id: number,
  fromMs: number,
  toMs: number,
): [start: number, cell: RollupCell][] {
  const rows = cellRows(dbs, id, fromMs, toMs);
  return rows.ts.map((start, i) => [start, rowAt(rows, i) as RollupCell]);
}

/** `MetricStore.queryRange` once its arguments are checked. */
export function queryRange(dbs: ChunkDbs, id: number, fromMs: number, toMs: number, maxPoints: number): RangePoint[] {
  const raw = rawRows(dbs, id, fromMs, toMs);
  const cells = cellRows(dbs, id, fromMs, toMs);
  if (cells.ts.length === 0) return downsample(raw.ts, raw.cols[0]!, undefined, fromMs, toMs, maxPoints);
  const merged = mergeRawAndRollups(raw.ts, raw.cols[0]!, cells.ts, cells.cols[0]!, cells.cols[1]!);
  return downsample(merged.ts, merged.values, merged.weights, fromMs, toMs, maxPoints);
}

/** `MetricStore.latest`: the last raw point, or the last point folded into the newest rollup if newer. */
export function latest(dbs: ChunkDbs, id: number): RangePoint | undefined {
  const raw = lastRow(dbs.history, id, HISTORY_COLUMNS, Number.MAX_SAFE_INTEGER);
  const cell = lastRow(dbs.rollup, id, ROLLUP_COLUMNS, Number.MAX_SAFE_INTEGER);
  let best: RangePoint | undefined = raw === undefined ? undefined : [raw[0], raw[1][0]!];
  if (cell !== undefined && (best === undefined || cell[1][5]! > best[0])) best = [cell[1][5]!, cell[1][4]!];
  return newerOf(best, dbs.layout2?.latestAt(id, Number.MAX_SAFE_INTEGER));
}

/** `MetricStore.latestAt`: the newest raw point at or before `atMs`, or the last point folded into a rollup, if newer. */
export function latestAt(dbs: ChunkDbs, id: number, atMs: number): RangePoint | undefined {
  const raw = lastRow(dbs.history, id, HISTORY_COLUMNS, atMs);
  let best: RangePoint | undefined = raw === undefined ? undefined : [raw[0], raw[1][0]!];
  // The last bucket starting at or before atMs may end after it (its last point is then too new);
  // the one before it does not. Both are in the last two chunks starting at or before atMs.
  const chunks = [
    ...dbs.rollup.getRange({
      start: [id, Math.floor(atMs) + 0.5],
      end: [id] as unknown as SeriesTimeKey,
      reverse: true,
      limit: 2,
    }),
  ];
  const cells = emptyRows(ROLLUP_COLUMNS);
  for (const { value } of chunks.reverse()) decodeChunkInto(value, 0, atMs, cells.ts, cells.cols);
  for (let i = cells.ts.length - 1; i >= Math.max(0, cells.ts.length - 2); i--) {
    const lastTs = cells.cols[5]![i]!;
    if (lastTs <= atMs) {
      if (best === undefined || lastTs > best[0]) best = [lastTs, cells.cols[4]![i]!];
      break;
    }
  }
  return newerOf(best, dbs.layout2?.latestAt(id, atMs));
}

function rawRows(dbs: ChunkDbs, id: number, fromMs: number, toMs: number): { ts: number[]; cols: number[][] } {
  const rows = readRows(dbs.history, id, HISTORY_COLUMNS, fromMs, toMs);
  return dbs.layout2 === undefined ? rows : dbs.layout2.mergeHistory(id, fromMs, toMs, rows);
}

function cellRows(dbs: ChunkDbs, id: number, fromMs: number, toMs: number): { ts: number[]; cols: number[][] } {
  const rows = readRows(dbs.rollup, id, ROLLUP_COLUMNS, fromMs, toMs);
  return dbs.layout2 === undefined ? rows : dbs.layout2.mergeRollups(id, fromMs, toMs, rows);
}

/** The newer of two points; at the same ts the first (layout 3's). */
function newerOf(a: RangePoint | undefined, b: RangePoint | undefined): RangePoint | undefined {
  return b !== undefined && (a === undefined || b[0] > a[0]) ? b : a;
}

/** The last row of `id` with ts <= `atMs`: in the chunk starting at or before `atMs`. */
function lastRow(
  db: ChunkDatabase,
  id: number,
  columns: number,
  atMs: number,
): [ts: number, row: number[]] | undefined {
  const chunk =
    atMs >= Number.MAX_SAFE_INTEGER
      ? headChunk(db, id)
      : firstOf(
          db.getRange({
            start: [id, Math.floor(atMs) + 0.5],
            end: [id] as unknown as SeriesTimeKey,
            reverse: true,
            limit: 1,
          }),
        );
  if (chunk === undefined) return undefined;
  const rows = emptyRows(columns);
  decodeChunkInto(chunk.bytes, 0, atMs, rows.ts, rows.cols);
  const ts = rows.ts.at(-1);
  return ts === undefined ? undefined : [ts, rowAt(rows, rows.ts.length - 1)];
}

function firstOf(
  range: Iterable<{ key: SeriesTimeKey; value: Uint8Array }>,
): { start: number; bytes: Uint8Array } | undefined {
  for (const { key, value } of range) return { start: key[1], bytes: value };
  return undefined;
}

/** Raw points win where they exist; a rollup bucket fills in only if no raw point falls inside it. */
function mergeRawAndRollups(
  ts: readonly number[],
  values: readonly number[],
  starts: readonly number[],
  counts: readonly number[],
  sums: readonly number[],
): { ts: number[]; values: number[]; weights: number[] } {
  const out = { ts: [] as number[], values: [] as number[], weights: [] as number[] };
  let r = 0;
  const takeRawBefore = (limit: number): void => {
    for (; r < ts.length && ts[r]! < limit; r++) {
      out.ts.push(ts[r]!);
      out.values.push(values[r]!);
      out.weights.push(1);
    }
  };
  for (let k = 0; k < starts.length; k++) {
    const start = starts[k]!;
    takeRawBefore(start);
    if (r < ts.length && ts[r]! < start + ROLLUP_BUCKET_MS) continue;
    out.ts.push(start);
    out.values.push(sums[k]! / counts[k]!);
    out.weights.push(counts[k]!);
  }
  takeRawBefore(Infinity);
  return out;
}
