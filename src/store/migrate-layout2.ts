/**
 * Layout 2 -> 3: moves a layout-2 store's per-point history entries into layout 3's chunks, in the
 * background while the store runs (converting before `open` returns took minutes on a large store).
 * Each step converts a batch and deletes the old entries in ONE transaction, so the old databases are
 * their own progress marker and a SIGKILL at any moment leaves a store that reopens and carries on.
 * Reads meanwhile take the union of old and new ({@link Layout2Remnant}). How, measurements, and what
 * is not converted: docs/design-notes.md.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { Database, RootDatabase } from 'lmdb';
import { ErrorCode, MonitorError, toError } from '../errors.js';
import { committed } from './commit-guard.js';
import {
  applyEdit,
  type ChunkDatabase,
  emptyRows,
  HISTORY_COLUMNS,
  planSeriesRows,
  ROLLUP_COLUMNS,
} from './history-chunks.js';
import { float64ValueEncoder, type SeriesTimeKey, seriesTimeKeyEncoder } from './point-codec.js';
import { isRollupCell, mergeCells, type RollupCell } from './rollup.js';
import { readRows } from './store-queries.js';

/** The layout version this module converts from. */
export const LAYOUT2 = 2;
/** The meta key of the progress marker; present while a conversion is unfinished. */
export const LAYOUT2_MARKER = 'layout2';
/**
 * Old entries (points or rollup cells) converted per transaction. Measured on the shared 2-core test
 * VM at load ~16 (100 series x 8,640 points; a step's main-thread time, plan plus queueing):
 * 2,000 entries: median 1.7 ms, p99 50 ms, 5.5% of steps over 20 ms; 1,000: median 1.0, p99 20,
 * 0.9%; 500: median 0.6, p99 6.2, 0.2% (preemption on that machine: identical steps vary 10x),
 * for 20% more total time than 1,000.
 */
export const CONVERT_STEP_ENTRIES = 500;

export type { Layout2Progress } from './types.js';
import type { Layout2Progress } from './types.js';

/** The two layout-2 history databases, opened with layout 2's key and value encodings. */
export interface Layout2Dbs {
  points: Database<number, SeriesTimeKey>;
  rollups: Database<RollupCell, SeriesTimeKey>;
}

/**
 * What the conversion needs from the layout-3 store. `planHistory`, `planRollups` and
 * `storedTimestamps` are only called inside `commit`'s `plan`.
 */
export interface Layout3Target {
  /**
   * Under the store's history lock (no flush or prune step in between), calls `plan`, which reads
   * the committed snapshot and returns the step's writes; queues them as ONE transaction and
   * resolves once it is durable and reads see it. Nothing is written if `plan` throws.
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if there is no room or the commit fails
   */
  commit(op: string, entries: number, plan: () => () => void): Promise<void>;
  /** Plans one series' points (ascending, distinct ts) into history chunks, merged with the chunks stored; returns the writes. */
  planHistory(id: number, ts: number[], values: number[]): () => void;
  /** Plans one series' rollup cells (ascending bucket starts) into rollup chunks; a stored cell of the same bucket is merged (`mergeCells`). */
  planRollups(id: number, starts: number[], cells: RollupCell[]): () => void;
  /** The timestamps of raw points already stored in layout 3 for `id` in `[fromMs, toMs]`. */
  storedTimestamps(id: number, fromMs: number, toMs: number): ReadonlySet<number>;
}

/** What {@link layout3Target} needs from the store. */
export interface ConversionHost {
  env: RootDatabase;
  history: ChunkDatabase;
  rollup: ChunkDatabase;
  /** Throws `EMON_STORE_FAILED` if data.mdb has no room for a write of `entries` entries (headroom.ts). */
  ensureRoom(op: string, entries: number): void;
  /** Runs `work` under the store's history lock (after the flushes and prune steps queued before it). */
  withHistory<T>(work: () => Promise<T>): Promise<T>;
}

/** The {@link Layout3Target} of a store: its chunk writers (`history-chunks.ts`) under its history lock. */
export function layout3Target(host: ConversionHost): Layout3Target {
  return {
    commit: (op, entries, plan) =>
      host.withHistory(async () => {
        const apply = plan();
        host.ensureRoom(op, entries);
        try {
          await committed(host.env.batch(apply), op);
        } finally {
          host.env.resetReadTxn();
        }
      }),
    planHistory: (id, ts, values) => {
      const edit = planSeriesRows(host.history, id, HISTORY_COLUMNS, { ts, cols: [values] }, 'replace');
      return () => applyEdit(host.history, id, edit);
    },
    planRollups: (id, starts, cells) => {
      const rows = emptyRows(ROLLUP_COLUMNS);
      for (let i = 0; i < starts.length; i++) {
        rows.ts.push(starts[i]!);
        for (let c = 0; c < ROLLUP_COLUMNS; c++) rows.cols[c]!.push(cells[i]![c]!);
      }
      const edit = planSeriesRows(host.rollup, id, ROLLUP_COLUMNS, rows, 'merge-cells');
      return () => applyEdit(host.rollup, id, edit);
    },
    storedTimestamps: (id, fromMs, toMs) => new Set(readRows(host.history, id, HISTORY_COLUMNS, fromMs, toMs).ts),
  };
}

/**
 * Opens the layout-2 history databases if the env has them (`create: false`).
 * @returns undefined for a store that never had layout 2's history
 */
export function openLayout2Dbs(env: RootDatabase): Layout2Dbs | undefined {
  const open = <V>(name: string, encoder?: object): Database<V, SeriesTimeKey> | undefined => {
    try {
      return (
        env.openDB<V, SeriesTimeKey>(name, {
          create: false,
          keyEncoder: seriesTimeKeyEncoder,
          ...(encoder ? { encoder } : {}),
        } as never) ?? undefined
      );
    } catch {
      return undefined; // no such database
    }
  };
  const points = open<number>('points', float64ValueEncoder);
  const rollups = open<RollupCell>('rollup_1m');
  if (points === undefined && rollups === undefined) return undefined;
  return { points: points ?? emptyDb(), rollups: rollups ?? emptyDb() } as Layout2Dbs;
}

/** Stand-in for an old database the env lacks (a layout-2 store has both): reads nothing. */
function emptyDb(): unknown {
  return {
    get: () => undefined,
    getRange: () => [],
    getKeys: () => [],
    getCount: () => 0,
    getStats: () => ({ entryCount: 0 }),
    doesExist: () => false,
  };
}

/** A range bound below every `[id, ts]` key (ids start at 1); lmdb-js's default start does not go through the key encoder. */
const FIRST_KEY = [0] as unknown as SeriesTimeKey;

/** Entries of an old database, from LMDB's own count (`getCount` walks a default range, which these keys do not have). */
function entryCount(db: Database<unknown, SeriesTimeKey>): number {
  return (db.getStats() as { entryCount: number }).entryCount;
}

/**
 * A chunk database a read-only opener of a layout-2 store does not have yet: the writer creates it
 * when it starts converting, maybe after this opener opened. Reads nothing until it exists; then
 * reads it (every read tries to open it, so a reader that stays open sees the moved points).
 * @param open opens the database, or returns undefined while it does not exist
 */
export function laterChunkDb(open: () => ChunkDatabase | undefined): ChunkDatabase {
  let db: ChunkDatabase | undefined;
  const current = (): ChunkDatabase | undefined => {
    if (db === undefined) {
      try {
        db = open();
      } catch {
        db = undefined; // not there yet
      }
    }
    return db;
  };
  return {
    get: (key) => current()?.get(key),
    getRange: (options) => current()?.getRange(options) ?? [],
    getKeys: (options) => current()?.getKeys(options) ?? [],
    put: (key, value) => current()!.put(key, value),
    remove: (key) => current()!.remove(key),
  };
}

/**
 * Marks a layout-2 store as layout 3 under conversion (writable open only): `meta.layout = 3` and
 * the progress marker, in one transaction, before any layout-3 write. Idempotent.
 * @param layout3 the version written (layout 3)
 */
export function beginLayout2Conversion(
  env: RootDatabase,
  meta: Database<unknown, string>,
  old: Layout2Dbs,
  layout3: number,
): void {
  env.transactionSync(() => {
    if (meta.get(LAYOUT2_MARKER) === undefined) {
      const progress: Layout2Progress = {
        startedAt: Date.now(),
        points: entryCount(old.points),
        cells: entryCount(old.rollups),
        convertedPoints: 0,
        convertedCells: 0,
      };
      meta.putSync(LAYOUT2_MARKER, progress);
    }
    meta.putSync('layout', layout3);
  });
}

/** The stored progress marker, or undefined when no conversion is unfinished. */
export function layout2Progress(meta: Database<unknown, string>): Layout2Progress | undefined {
  const marker = meta.get(LAYOUT2_MARKER);
  if (marker === null || typeof marker !== 'object') return undefined;
  return marker as Layout2Progress;
}

/** How one step went: for the tests' structural bound and the measured block times. */
export interface StepReport {
  kind: 'points' | 'cells';
  entries: number;
  series: number;
  /** Main-thread ms of the step's synchronous parts (gathering, and the write callback), summed. */
  syncMs: number;
}

/** Measurement hook (bench and tests only): told of every committed step of every conversion in this process. */
export const conversionTrace: { onStep?: (step: StepReport) => void } = {};

/**
 * The background conversion of one open store. `run()` converts step by step until the old
 * databases are empty or `stop()` is called (the store's `close`); each step is one transaction.
 */
export class Layout2Conversion {
  readonly #meta: Database<unknown, string>;
  readonly #old: Layout2Dbs;
  readonly #target: Layout3Target;
  readonly #onStep: ((step: StepReport) => void) | undefined;
  #stopped = false;
  #running: Promise<Layout2Progress | undefined> | undefined;

  /**
   * @param onStep told after every committed step (tests measure with it)
   */
  constructor(
    meta: Database<unknown, string>,
    old: Layout2Dbs,
    target: Layout3Target,
    onStep?: (step: StepReport) => void,
  ) {
    this.#meta = meta;
    this.#old = old;
    this.#target = target;
    this.#onStep = onStep;
  }

  /**
   * Converts until done or stopped. Resolves with the final progress (undefined once the marker is
   * gone: the conversion finished). Calling it again returns the same run.
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if a step fails; nothing of that step is
   *   written, and the next open carries on
   */
  run(): Promise<Layout2Progress | undefined> {
    this.#running ??= this.#runNow();
    return this.#running;
  }

  /** Stops after the step in progress; `run()`'s promise then settles. */
  stop(): Promise<unknown> {
    this.#stopped = true;
    return (this.#running ?? Promise.resolve()).catch(() => undefined);
  }

  async #runNow(): Promise<Layout2Progress | undefined> {
    await yieldToLoop(); // open() returns before the first step
    while (!this.#stopped && (await this.#step('points'))) await yieldToLoop();
    while (!this.#stopped && (await this.#step('cells'))) await yieldToLoop();
    if (this.#stopped) return layout2Progress(this.#meta);
    const left = entryCount(this.#old.points) + entryCount(this.#old.rollups);
    if (left > 0)
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `layout 2 conversion: ${left} entries are left in the old databases after the last step`,
      );
    await this.#target.commit('layout 2 conversion', 1, () => () => void this.#meta.remove(LAYOUT2_MARKER));
    return undefined;
  }

  /** Converts up to CONVERT_STEP_ENTRIES entries in one transaction; false when there were none left. */
  async #step(kind: 'points' | 'cells'): Promise<boolean> {
    const db = kind === 'points' ? this.#old.points : this.#old.rollups;
    let entries = 0;
    let series = 0;
    let syncMs = 0;
    await this.#target.commit('layout 2 conversion', CONVERT_STEP_ENTRIES, () => {
      const started = performance.now();
      let taken: { key: SeriesTimeKey; value: unknown }[];
      try {
        taken = Array.from(
          db.getRange({ start: FIRST_KEY, limit: CONVERT_STEP_ENTRIES }) as Iterable<{
            key: SeriesTimeKey;
            value: unknown;
          }>,
        );
      } catch (err) {
        const name = kind === 'points' ? 'points' : 'rollup_1m';
        throw new MonitorError(
          ErrorCode.StoreFailed,
          `layout 2 conversion: reading the old "${name}" database failed: ${toError(err).message}`,
          { cause: err },
        );
      }
      entries = taken.length;
      if (entries === 0) return () => undefined;
      const runs = bySeries(taken);
      series = runs.length;
      const writes = runs.map((run) => (kind === 'points' ? this.#planPoints(run) : this.#planCells(run)));
      const progress = layout2Progress(this.#meta);
      if (progress !== undefined) {
        if (kind === 'points') progress.convertedPoints += entries;
        else progress.convertedCells += entries;
      }
      syncMs += performance.now() - started;
      return () => {
        const began = performance.now();
        for (const write of writes) write();
        for (const { key } of taken) void db.remove(key);
        if (progress !== undefined) void this.#meta.put(LAYOUT2_MARKER, progress);
        syncMs += performance.now() - began;
      };
    });
    if (entries === 0) return false;
    const report: StepReport = { kind, entries, series, syncMs };
    this.#onStep?.(report);
    conversionTrace.onStep?.(report);
    return true;
  }

  #planPoints({ id, entries }: SeriesRun): () => void {
    const first = entries[0]!.key[1];
    const last = entries[entries.length - 1]!.key[1];
    // A point flushed since the upgrade at the same ts is newer: it replaced this one.
    const newer = this.#target.storedTimestamps(id, first, last);
    const ts: number[] = [];
    const values: number[] = [];
    for (const { key, value } of entries) {
      if (typeof value !== 'number' || newer.has(key[1])) continue;
      ts.push(key[1]);
      values.push(value);
    }
    return ts.length === 0
      ? () => undefined
      : this.#plan('history', id, () => this.#target.planHistory(id, ts, values));
  }

  #planCells({ id, entries }: SeriesRun): () => void {
    const starts: number[] = [];
    const cells: RollupCell[] = [];
    for (const { key, value } of entries) {
      if (!isRollupCell(value)) continue; // layout 2's reads skipped such a cell too
      starts.push(key[1]);
      cells.push(finiteCell(value));
    }
    return starts.length === 0
      ? () => undefined
      : this.#plan('rollups', id, () => this.#target.planRollups(id, starts, cells));
  }

  #plan(what: string, id: number, plan: () => () => void): () => void {
    try {
      return plan();
    } catch (err) {
      if (err instanceof MonitorError) throw err;
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `layout 2 conversion: the ${what} of series ${id} do not convert: ${toError(err).message}`,
        { cause: err },
      );
    }
  }
}

/**
 * A layout-2 cell whose sum overflowed to ±Infinity (points near ±1.8e308 in one minute) keeps
 * ±Number.MAX_VALUE as its sum: chunks hold finite numbers only. Its count, min, max and last stay
 * exact; layout 2 reported such a bucket's average as ±Infinity, layout 3 as MAX_VALUE / count.
 */
function finiteCell(cell: RollupCell): RollupCell {
  if (Number.isFinite(cell[1])) return cell;
  const copy: RollupCell = [...cell];
  copy[1] = Number.isNaN(cell[1]) ? 0 : cell[1] > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
  return copy;
}

interface SeriesRun {
  id: number;
  entries: { key: SeriesTimeKey; value: unknown }[];
}

/** Splits key-ordered entries into one run per series. */
function bySeries(entries: { key: SeriesTimeKey; value: unknown }[]): SeriesRun[] {
  const runs: SeriesRun[] = [];
  for (const entry of entries) {
    const last = runs[runs.length - 1];
    if (last !== undefined && last.id === entry.key[0]) last.entries.push(entry);
    else runs.push({ id: entry.key[0], entries: [entry] });
  }
  return runs;
}

/** Rows of one series, ascending (as `history-chunks.ts` reads them): `cols[c][i]` is column `c` of row `i`. */
interface Rows {
  ts: number[];
  cols: number[][];
}

/**
 * Reads of what a conversion has not moved yet, merged into the layout-3 reads (see the module
 * header). Each costs one cursor seek when the series has nothing left in the old databases.
 */
export class Layout2Remnant {
  readonly #old: Layout2Dbs;

  constructor(old: Layout2Dbs) {
    this.#old = old;
  }

  /** Entries still in the old databases (LMDB's own counts, no scan). */
  entries(): { points: number; cells: number } {
    return { points: entryCount(this.#old.points), cells: entryCount(this.#old.rollups) };
  }

  /** The old `points` database (a flush removes the unconverted points it replaces: `flush-apply.ts`). */
  get points(): Layout2Dbs['points'] {
    return this.#old.points;
  }

  /**
   * Merges the unconverted raw points of `id` in `[fromMs, toMs]` into layout-3 history rows; at an
   * equal ts the layout-3 point wins (a flush since the upgrade replaced it).
   * @returns the merged rows (`rows` itself when there was nothing old)
   */
  mergeHistory(id: number, fromMs: number, toMs: number, rows: Rows): Rows {
    const old: Rows = { ts: [], cols: [[]] };
    for (const { key, value } of this.#old.points.getRange({
      start: [id, fromMs],
      end: [id, toMs],
      inclusiveEnd: true,
    })) {
      if (typeof value !== 'number') continue;
      old.ts.push(key[1]);
      old.cols[0]!.push(value);
    }
    return old.ts.length === 0 ? rows : mergeByTs(rows, old, (kept) => kept);
  }

  /**
   * Merges the unconverted rollup cells of `id` starting in `[fromMs, toMs]` into layout-3 rollup
   * rows (six columns); cells of the same bucket are merged (`mergeCells`).
   */
  mergeRollups(id: number, fromMs: number, toMs: number, rows: Rows): Rows {
    const old: Rows = { ts: [], cols: [[], [], [], [], [], []] };
    for (const { key, value } of this.#old.rollups.getRange({
      start: [id, fromMs],
      end: [id, toMs],
      inclusiveEnd: true,
    })) {
      if (!isRollupCell(value)) continue;
      old.ts.push(key[1]);
      for (let c = 0; c < 6; c++) old.cols[c]!.push(value[c]!);
    }
    return old.ts.length === 0
      ? rows
      : mergeByTs(rows, old, (kept, other) => mergeCells(kept as RollupCell, other as RollupCell));
  }

  /**
   * The newest unconverted point of `id` at or before `atMs` (raw, or the last point of a rollup
   * cell), to combine with layout 3's `latest`/`latestAt`.
   */
  latestAt(id: number, atMs: number): [ts: number, value: number] | undefined {
    const start = [id, atMs + 0.5] as SeriesTimeKey;
    const end = [id] as unknown as SeriesTimeKey;
    let best: [number, number] | undefined;
    for (const { key, value } of this.#old.points.getRange({ start, end, reverse: true, limit: 1 })) {
      if (typeof value === 'number') best = [key[1], value];
    }
    for (const { value } of this.#old.rollups.getRange({ start, end, reverse: true, limit: 2 })) {
      if (isRollupCell(value) && value[5] <= atMs) {
        if (best === undefined || value[5] > best[0]) best = [value[5], value[4]];
        break;
      }
    }
    return best;
  }
}

/** Two ascending row sets merged by ts; at an equal ts `same(row of a, row of b)` gives the row. */
function mergeByTs(a: Rows, b: Rows, same: (kept: number[], other: number[]) => number[]): Rows {
  const columns = a.cols.length;
  const out: Rows = { ts: [], cols: a.cols.map(() => []) };
  const row = (r: Rows, i: number): number[] => r.cols.map((col) => col[i]!);
  const push = (ts: number, values: number[]): void => {
    out.ts.push(ts);
    for (let c = 0; c < columns; c++) out.cols[c]!.push(values[c]!);
  };
  let i = 0;
  let j = 0;
  while (i < a.ts.length || j < b.ts.length) {
    if (j >= b.ts.length || (i < a.ts.length && a.ts[i]! < b.ts[j]!)) push(a.ts[i]!, row(a, i++));
    else if (i >= a.ts.length || b.ts[j]! < a.ts[i]!) push(b.ts[j]!, row(b, j++));
    else push(a.ts[i]!, same(row(a, i++), row(b, j++)));
  }
  return out;
}
