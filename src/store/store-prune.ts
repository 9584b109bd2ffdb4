/**
 * `MetricStore.prune` over the chunked layout: raw points older than the retention are folded into
 * 1-minute rollup cells and deleted, rollup cells older than theirs are deleted, chunk by chunk.
 * A chunk that straddles a cutoff is split exactly: decoded, its old part folded (or dropped), the
 * rest encoded again under the key of its new first timestamp.
 *
 * Work goes in steps of at most {@link PRUNE_CHUNK} rows, each one transaction, with a yield to
 * the event loop between steps; a step also ends after {@link PRUNE_SLICE_MS} of gathering.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { decodeChunkInto } from './chunk-codec.js';
import {
  type ChunkDatabase,
  type ChunkRows,
  emptyRows,
  encodeInto,
  HISTORY_COLUMNS,
  planSeriesRows,
  ROLLUP_COLUMNS,
  type SeriesEdit,
} from './history-chunks.js';
import type { SeriesTimeKey } from './point-codec.js';
import { addPoint, bucketStart, type RollupCell } from './rollup.js';
import type { PruneResult } from './types.js';

/**
 * Rows (raw points or rollup cells) handled per prune transaction, counted by whole chunks.
 * Decoding, folding and encoding 4,000 rows costs ~1-3 ms of main thread on the test machine.
 */
export const PRUNE_CHUNK = 4000;
/** A prune step stops gathering after this long (probing many series with nothing old), then commits or yields. */
const PRUNE_SLICE_MS = 4;

/** What prune needs from the store. */
export interface PruneContext {
  history: ChunkDatabase;
  rollup: ChunkDatabase;
  retentionMs: number;
  rollupRetentionMs: number;
  closed(): boolean;
  /** Runs one step (read, plan, commit) while no flush reads or writes chunks. */
  exclusive<T>(step: () => Promise<T>): Promise<T>;
  /** Commits one step's edits in one transaction and moves reads to it. */
  commit(edits: readonly [db: ChunkDatabase, id: number, edit: SeriesEdit][]): Promise<void>;
}

/** The first series id >= `fromId` that has a chunk in `db`. */
function firstSeriesFrom(db: ChunkDatabase, fromId: number): number | undefined {
  for (const key of db.getKeys({ start: [fromId] as unknown as SeriesTimeKey, limit: 1 })) return key[0];
  return undefined;
}

/**
 * Removes the rows older than `cutoff` from the chunks of `id` starting before it, at most about
 * `budget` rows (whole chunks, at least one).
 * @returns the removed rows, the edit, and whether older chunks remain for the next step
 */
function cutChunks(
  db: ChunkDatabase,
  id: number,
  columns: number,
  cutoff: number,
  budget: number,
): { old: ChunkRows; edit: SeriesEdit; more: boolean } {
  const old = emptyRows(columns);
  const edit: SeriesEdit = { removes: [], puts: [] };
  let more = false;
  for (const { key, value } of db.getRange({ start: [id] as unknown as SeriesTimeKey, end: [id, cutoff] })) {
    if (old.ts.length >= budget) {
      more = true;
      break;
    }
    const rows = emptyRows(columns);
    decodeChunkInto(value, 0, Number.MAX_SAFE_INTEGER, rows.ts, rows.cols);
    edit.removes.push(key[1]);
    let split = rows.ts.length;
    while (split > 0 && rows.ts[split - 1]! >= cutoff) split--;
    for (let i = 0; i < split; i++) {
      old.ts.push(rows.ts[i]!);
      for (let c = 0; c < columns; c++) old.cols[c]!.push(rows.cols[c]![i]!);
    }
    if (split < rows.ts.length) encodeInto(edit, columns, rows, split, undefined);
  }
  return { old, edit, more };
}

/** Folds raw rows (ascending) into 1-minute cells, as rollup rows. */
function foldIntoCells(raw: ChunkRows): ChunkRows {
  const cells = emptyRows(ROLLUP_COLUMNS);
  let cell: RollupCell | undefined;
  let bucket = Number.NaN;
  const push = (): void => {
    if (cell === undefined) return;
    cells.ts.push(bucket);
    for (let c = 0; c < ROLLUP_COLUMNS; c++) cells.cols[c]!.push(cell[c]!);
  };
  for (let i = 0; i < raw.ts.length; i++) {
    const b = bucketStart(raw.ts[i]!);
    if (b !== bucket) {
      push();
      cell = undefined;
      bucket = b;
    }
    cell = addPoint(cell, raw.ts[i]!, raw.cols[0]![i]!);
  }
  push();
  return cells;
}

/** Runs one prune as of `nowMs`. */
export async function pruneChunks(ctx: PruneContext, nowMs: number): Promise<PruneResult> {
  const result: PruneResult = { deletedRaw: 0, rolledUp: 0, deletedRollups: 0 };
  const rawCutoff = bucketStart(nowMs - ctx.retentionMs);
  const rollupCutoff = nowMs - ctx.rollupRetentionMs;
  // The bucket last written for a series that goes on in the next step: written again there, it is counted once.
  let carried: { id: number; bucket: number } | undefined;

  // 1. Fold raw points older than the cutoff into rollups (a late point in a bucket already rolled up merges into it).
  let id = firstSeriesFrom(ctx.history, 1);
  while (id !== undefined && !ctx.closed()) {
    await ctx.exclusive(async () => {
      const started = performance.now();
      const edits: [ChunkDatabase, number, SeriesEdit][] = [];
      let rows = 0;
      let cells = 0;
      let next: { id: number; bucket: number } | undefined;
      while (id !== undefined && rows < PRUNE_CHUNK && performance.now() - started < PRUNE_SLICE_MS) {
        const cut = cutChunks(ctx.history, id, HISTORY_COLUMNS, rawCutoff, PRUNE_CHUNK - rows);
        if (cut.edit.removes.length > 0) {
          const folded = foldIntoCells(cut.old);
          edits.push(
            [ctx.history, id, cut.edit],
            [ctx.rollup, id, planSeriesRows(ctx.rollup, id, ROLLUP_COLUMNS, folded, 'merge-cells')],
          );
          rows += cut.old.ts.length;
          cells += folded.ts.length;
          if (carried?.id === id && folded.ts[0] === carried.bucket) cells--;
          if (cut.more) next = { id, bucket: folded.ts[folded.ts.length - 1]! };
        }
        if (cut.more) break; // this series goes on in the next step
        id = firstSeriesFrom(ctx.history, id + 1);
      }
      carried = next;
      if (edits.length === 0) return; // only probed series without old points for a whole slice
      await ctx.commit(edits);
      result.deletedRaw += rows;
      result.rolledUp += cells;
    });
    await yieldToLoop();
  }

  // 2. Drop rollup cells past their retention.
  id = firstSeriesFrom(ctx.rollup, 1);
  while (id !== undefined && !ctx.closed()) {
    await ctx.exclusive(async () => {
      const started = performance.now();
      const edits: [ChunkDatabase, number, SeriesEdit][] = [];
      let rows = 0;
      while (id !== undefined && rows < PRUNE_CHUNK && performance.now() - started < PRUNE_SLICE_MS) {
        const cut = cutChunks(ctx.rollup, id, ROLLUP_COLUMNS, rollupCutoff, PRUNE_CHUNK - rows);
        if (cut.edit.removes.length > 0) {
          edits.push([ctx.rollup, id, cut.edit]);
          rows += cut.old.ts.length;
        }
        if (cut.more) break;
        id = firstSeriesFrom(ctx.rollup, id + 1);
      }
      if (edits.length === 0) return;
      await ctx.commit(edits);
      result.deletedRollups += rows;
    });
    await yieldToLoop();
  }
  return result;
}
