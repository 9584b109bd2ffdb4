/**
 * Per-series chunks in LMDB (layout 3): how rows of one series are written into the `history`
 * database (raw points) and the `rollup` database (1-minute cells), and read back.
 *
 * A series' chunks are adjacent, in time order and never overlap; the last one is the head, resumed
 * in O(1) until {@link isFull}. Rows older than the head's last row take the slow path (decode,
 * merge, rewrite: {@link needsMerge} tells). Only the writer thread caches where heads start
 * (`head-cache.ts`). Key layout and merge sizing ({@link MERGE_SLACK}): docs/design-notes.md.
 */
import { ChunkEncoder, chunkInfo, decodeChunkInto } from './chunk-codec.js';
import { type SeriesTimeKey, seriesTimeKeyEncoder } from './point-codec.js';
import { mergeCells, type RollupCell } from './rollup.js';

/**
 * A chunk is full (sealed) once it holds this many bytes: big enough that the 12-byte key and
 * LMDB's ~10 bytes per entry cost little per point, small enough to stay well under LMDB's
 * largest in-page value (~2 KB at 4 KiB pages; a bigger one goes to overflow pages of its own).
 */
export const SEAL_BYTES = 1024;
/** ... or this many rows (a constant series encodes to almost nothing per row). */
export const SEAL_ROWS = 2048;
/** ... or once it spans this long, so a query or prune decodes little outside its range. */
export const SEAL_SPAN_MS = 6 * 3_600_000;

/** Value columns of a `history` chunk and of a `rollup` chunk (the {@link RollupCell}). */
export const HISTORY_COLUMNS = 1;
export const ROLLUP_COLUMNS = 6;

/** A range of chunk keys, as lmdb-js takes it. */
export interface ChunkRange {
  start?: SeriesTimeKey;
  end?: SeriesTimeKey;
  reverse?: boolean;
  limit?: number;
  inclusiveEnd?: boolean;
}

/**
 * A `history` or `rollup` database (an lmdb-js `Database<Uint8Array, SeriesTimeKey>` opened with
 * {@link chunkDbOptions}): `[id, firstTs]` keys, chunk values. Declared here, not as lmdb's type,
 * so the package's public declarations carry no lmdb types (see record-db.ts).
 */
export interface ChunkDatabase {
  get(key: SeriesTimeKey): Uint8Array | undefined;
  /** As `get`, without the copy: the bytes are valid until the next read on this thread. */
  getBinaryFast?(key: SeriesTimeKey): Uint8Array | undefined;
  getRange(options: ChunkRange): Iterable<{ key: SeriesTimeKey; value: Uint8Array }>;
  getKeys(options: ChunkRange): Iterable<SeriesTimeKey>;
  put(key: SeriesTimeKey, value: Uint8Array): Promise<boolean>;
  remove(key: SeriesTimeKey): Promise<boolean>;
}

/** Rows of one series, ascending by strictly increasing `ts`; `cols[c][i]` is column `c` of row `i`. */
export interface ChunkRows {
  ts: number[];
  cols: number[][];
}

/** How a stored row and a new row at the same timestamp combine. */
export type Combine = 'replace' | 'merge-cells';

/** The writes that store new rows of one series: chunks to remove (by first ts), then chunks to put. */
export interface SeriesEdit {
  removes: number[];
  puts: [start: number, chunk: Uint8Array][];
}

/**
 * How far past the seal limits a chunk re-encoded by the slow path may grow (1.5 × 1 KiB stays
 * well inside a 4 KiB page). Sealing it at the plain limits split a full chunk hit by one late
 * point into a full chunk and a chunk of a few rows, never merged again: 200 late points into
 * 5,000 turned 6 history entries into 102.
 */
export const MERGE_SLACK = 1.5;

/** Whether an encoder should take no more rows (`slack` scales every limit). */
export function isFull(
  enc: { byteLength: number; count: number; firstTs: number; lastTs: number },
  slack = 1,
): boolean {
  return (
    enc.count >= SEAL_ROWS * slack ||
    enc.lastTs - enc.firstTs >= SEAL_SPAN_MS * slack ||
    enc.byteLength >= SEAL_BYTES * slack
  );
}

/** Empty rows of `columns` columns. */
export function emptyRows(columns: number): ChunkRows {
  return { ts: [], cols: Array.from({ length: columns }, () => []) };
}

/** Whether rows starting at `firstTs` take the slow path of series `id` (O(1): the head's header). */
export function needsMerge(db: ChunkDatabase, id: number, firstTs: number): boolean {
  const head = headChunk(db, id);
  return head !== undefined && firstTs <= chunkInfo(head.bytes).lastTs;
}

/** The last chunk of series `id`, or undefined. */
export function headChunk(db: ChunkDatabase, id: number): { start: number; bytes: Uint8Array } | undefined {
  for (const { key, value } of db.getRange({
    start: [id, Number.MAX_VALUE],
    end: [id] as unknown as SeriesTimeKey,
    reverse: true,
    limit: 1,
  })) {
    return { start: key[1], bytes: value };
  }
  return undefined;
}

/**
 * The chunks of `id` that may hold rows in `[fromMs, toMs]`: the one starting at or before
 * `fromMs` (if any), then every one starting in `(fromMs, toMs]`.
 */
export function* chunksOverlapping(
  db: ChunkDatabase,
  id: number,
  fromMs: number,
  toMs: number,
): Generator<{ start: number; bytes: Uint8Array }> {
  const end = [id] as unknown as SeriesTimeKey;
  let first: number | undefined;
  // Stored timestamps are integers: fromMs + 0.5 sorts after a key at fromMs and before fromMs + 1.
  for (const { key, value } of db.getRange({ start: [id, Math.floor(fromMs) + 0.5], end, reverse: true, limit: 1 })) {
    first = key[1];
    yield { start: key[1], bytes: value };
  }
  const from: SeriesTimeKey = first === undefined ? ([id] as unknown as SeriesTimeKey) : [id, first + 0.5];
  for (const { key, value } of db.getRange({ start: from, end: [id, toMs], inclusiveEnd: true }))
    yield { start: key[1], bytes: value };
}

/**
 * Plans the writes that add `rows` to series `id`: appended to the head when they are all newer
 * than it (the usual case), else merged with the chunks they overlap.
 * @param db the `history` or `rollup` database
 * @param columns value columns (1 for history, 6 for rollups)
 * @param rows strictly increasing timestamps
 * @param combine what a row at a stored timestamp does
 * @param headStart where the series' head starts if the caller knows it (NaN: look it up)
 */
export function planSeriesRows(
  db: ChunkDatabase,
  id: number,
  columns: number,
  rows: ChunkRows,
  combine: Combine,
  headStart = Number.NaN,
): SeriesEdit {
  const edit: SeriesEdit = { removes: [], puts: [] };
  const n = rows.ts.length;
  if (n === 0) return edit;
  let head: { start: number; bytes: Uint8Array } | undefined;
  if (!Number.isNaN(headStart)) {
    const bytes = db.get([id, headStart]);
    if (bytes !== undefined) head = { start: headStart, bytes };
  }
  head ??= headChunk(db, id);
  if (head === undefined) {
    encodeInto(edit, columns, rows, 0, undefined);
    return edit;
  }
  // The usual case: every row is newer than the head. Resuming reads only the header.
  const enc = ChunkEncoder.resume(head.bytes);
  if (rows.ts[0]! > enc.lastTs) {
    encodeInto(edit, columns, rows, 0, isFull(enc) ? undefined : enc);
    return edit;
  }
  // Slow path: decode the chunks the new rows overlap, merge, write them again.
  const stored = emptyRows(columns);
  for (const chunk of chunksOverlapping(db, id, rows.ts[0]!, rows.ts[n - 1]!)) {
    decodeChunkInto(chunk.bytes, 0, Number.MAX_SAFE_INTEGER, stored.ts, stored.cols);
    edit.removes.push(chunk.start);
  }
  encodeMerged(edit, columns, mergeRows(stored, rows, combine));
  return edit;
}

/**
 * Writes `rows` of series `id` into `db` inside the caller's transaction, merging with what is
 * stored: call it inside `env.transactionSync` (or `env.transaction`), where reads see the
 * transaction's own writes, once per series and batch of rows.
 * @returns the writes made
 */
export function writeSeriesRows(
  db: ChunkDatabase,
  id: number,
  columns: number,
  rows: ChunkRows,
  combine: Combine,
): SeriesEdit {
  const edit = planSeriesRows(db, id, columns, rows, combine);
  applyEdit(db, id, edit);
  return edit;
}

/** Queues an edit's removes, then its puts. */
export function applyEdit(db: ChunkDatabase, id: number, edit: SeriesEdit): void {
  for (const start of edit.removes) void db.remove([id, start]);
  for (const [start, chunk] of edit.puts) void db.put([id, start], chunk);
}

/**
 * For the layout 2 → 3 migration: writes one series' raw points (ascending, strictly increasing
 * `ts`) into `history` chunks inside the caller's transaction (see {@link writeSeriesRows}),
 * merging with the chunks already stored (a point at a stored ts replaces it).
 * @param history the `history` database (`openChunkDatabases`)
 * @throws RangeError for timestamps not strictly increasing, or a non-finite value
 */
export function writeSeriesHistory(
  history: ChunkDatabase,
  id: number,
  ts: ArrayLike<number>,
  values: ArrayLike<number>,
): SeriesEdit {
  return writeSeriesRows(history, id, HISTORY_COLUMNS, { ts: Array.from(ts), cols: [Array.from(values)] }, 'replace');
}

/**
 * For the layout 2 → 3 migration: writes one series' 1-minute cells (ascending bucket starts)
 * into `rollup` chunks inside the caller's transaction, merging a cell with a stored cell of the
 * same bucket (`mergeCells`).
 * @param rollup the `rollup` database (`openChunkDatabases`)
 */
export function writeSeriesRollups(
  rollup: ChunkDatabase,
  id: number,
  starts: ArrayLike<number>,
  cells: readonly RollupCell[],
): SeriesEdit {
  const rows = emptyRows(ROLLUP_COLUMNS);
  for (let i = 0; i < starts.length; i++) {
    rows.ts.push(starts[i]!);
    for (let c = 0; c < ROLLUP_COLUMNS; c++) rows.cols[c]!.push(cells[i]![c]!);
  }
  return writeSeriesRows(rollup, id, ROLLUP_COLUMNS, rows, 'merge-cells');
}

/** Opens the chunk databases of layout 3 in `env` (creating them if writable and missing). */
export function openChunkDatabases(env: { openDB(name: string, options: object): unknown }): {
  history: ChunkDatabase;
  rollup: ChunkDatabase;
} {
  return {
    history: env.openDB('history', chunkDbOptions()) as ChunkDatabase,
    rollup: env.openDB('rollup', chunkDbOptions()) as ChunkDatabase,
  };
}

/** The options every opener of `history` and `rollup` uses: `[id, ts]` keys, binary chunk values. */
export function chunkDbOptions(): object {
  return { keyEncoder: seriesTimeKeyEncoder, encoding: 'binary' };
}

/** Row `i` of `rows` as a fresh array of its columns. */
export function rowAt(rows: ChunkRows, i: number): number[] {
  return rows.cols.map((col) => col[i]!);
}

/** Stored and new rows, merged by timestamp. */
export function mergeRows(stored: ChunkRows, incoming: ChunkRows, combine: Combine): ChunkRows {
  const columns = stored.cols.length;
  const out = emptyRows(columns);
  const push = (ts: number, row: ArrayLike<number>): void => {
    out.ts.push(ts);
    for (let c = 0; c < columns; c++) out.cols[c]!.push(row[c]!);
  };
  let a = 0;
  let b = 0;
  while (a < stored.ts.length || b < incoming.ts.length) {
    const ta = a < stored.ts.length ? stored.ts[a]! : Infinity;
    const tb = b < incoming.ts.length ? incoming.ts[b]! : Infinity;
    if (ta < tb) push(ta, rowAt(stored, a++));
    else if (tb < ta) push(tb, rowAt(incoming, b++));
    else {
      const row =
        combine === 'replace'
          ? rowAt(incoming, b)
          : mergeCells(rowAt(stored, a) as RollupCell, rowAt(incoming, b) as RollupCell);
      push(ta, row);
      a++;
      b++;
    }
  }
  return out;
}

/**
 * Encodes merged rows into as few chunks as the seal limits with {@link MERGE_SLACK} allow, of
 * even size: rows that seal into k chunks go into k - 1 if each fits with slack, else into k even
 * parts. Sealing at the plain limits left a small last chunk on every split.
 */
export function encodeMerged(edit: SeriesEdit, columns: number, rows: ChunkRows): void {
  const trial: SeriesEdit = { removes: [], puts: [] };
  encodeInto(trial, columns, rows, 0, undefined);
  const k = trial.puts.length;
  if (k <= 1) {
    edit.puts.push(...trial.puts);
    return;
  }
  const fewer = evenParts(columns, rows, k - 1);
  edit.puts.push(...(fewer.puts.length === k - 1 ? fewer : evenParts(columns, rows, k)).puts);
}

/** `rows` cut into `parts` runs of equal row count, each encoded with {@link MERGE_SLACK} (a run that does not fit splits). */
function evenParts(columns: number, rows: ChunkRows, parts: number): SeriesEdit {
  const edit: SeriesEdit = { removes: [], puts: [] };
  const n = rows.ts.length;
  for (let p = 0; p < parts; p++) {
    const from = Math.floor((p * n) / parts);
    const to = Math.floor(((p + 1) * n) / parts);
    if (to <= from) continue;
    const part = { ts: rows.ts.slice(from, to), cols: rows.cols.map((col) => col.slice(from, to)) };
    encodeInto(edit, columns, part, 0, undefined, MERGE_SLACK);
  }
  return edit;
}

/**
 * Encodes `rows` from `from` into chunks: first into `enc` (a resumed head, put again under its
 * own first ts) if given, then into new chunks, each started when the last is full.
 */
export function encodeInto(
  edit: SeriesEdit,
  columns: number,
  rows: ChunkRows,
  from: number,
  enc: ChunkEncoder | undefined,
  slack = 1,
): void {
  const row = new Array<number>(columns);
  let current = enc;
  for (let i = from; i < rows.ts.length; i++) {
    if (current === undefined || isFull(current, slack)) {
      if (current !== undefined) edit.puts.push([current.firstTs, current.bytes()]);
      current = new ChunkEncoder(columns);
    }
    if (columns === 1) current.append(rows.ts[i]!, rows.cols[0]![i]!);
    else {
      for (let c = 0; c < columns; c++) row[c] = rows.cols[c]![i]!;
      current.appendRow(rows.ts[i]!, row);
    }
  }
  if (current !== undefined && current.count > 0) edit.puts.push([current.firstTs, current.bytes()]);
}
