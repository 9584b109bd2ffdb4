/**
 * The shapes that go in and out of the metric store ({@link MetricStore} in `lmdb-store.ts`).
 * They are plain data: what the store persists is exactly what these types describe.
 */

/** The kind of a persisted series. Derived series (e.g. `response_time.p95`) are usually gauges. */
export type SeriesType = 'counter' | 'gauge' | 'histogram';

/** A persisted series definition. `id` is assigned by the store; everything else comes from the caller. */
export interface SeriesDef {
  /** Small integer assigned by `defineSeries`, stable across restarts. Starts at 1. */
  id: number;
  /** The caller's stable identity for the series, e.g. `requests.total{method="GET"}`. */
  key: string;
  /** The metric name, e.g. `requests.total`. */
  name: string;
  type: SeriesType;
  help: string;
  unit: string;
  labels: Record<string, string>;
}

/** What `defineSeries` takes besides the key. `help` and `unit` default to `''`, `labels` to `{}`. */
export interface SeriesInput {
  name: string;
  type: SeriesType;
  help?: string;
  unit?: string;
  labels?: Record<string, string>;
}

/** Options of `MetricStore.open`. */
export interface StoreOptions {
  /** Directory of the LMDB environment; created when writable. Default `./.erlmcp-monitor`. */
  dataDir?: string;
  /** Open without write access (another process owns the writes). Default `false`. */
  readOnly?: boolean;
  /** How long raw points are kept before `prune` folds them into 1-minute rollups. Default 24 h. */
  retentionMs?: number;
  /** How long 1-minute rollups are kept. Default 7 days; must be >= `retentionMs`. */
  rollupRetentionMs?: number;
  /**
   * A writable open that finds `data.mdb` damaged: `'fail'` refuses it (`EMON_STORE_FAILED`);
   * `'move_aside'` moves it into `<dataDir>/damaged-<time>/` and starts a new store (see
   * `MetricStore.movedAside`). Default `'fail'`.
   */
  onCorrupt?: 'fail' | 'move_aside';
}

/** One history point of one series. `ts` is a Unix time in ms (a non-negative safe integer). */
export interface PointRecord {
  id: number;
  ts: number;
  value: number;
}

/** Everything one `flush` writes, in one transaction. */
export interface FlushBatch {
  /** `[seriesId, snapshot]` pairs; the snapshot is any msgpack/JSON-able value (counter value, histogram state). */
  current?: readonly (readonly [number, unknown])[];
  /** History points; any order (the store sorts them by series, then time). */
  points?: readonly PointRecord[];
}

/** What a committed flush wrote. */
export interface FlushResult {
  /** Number of points written. */
  points: number;
  /** Number of current values written. */
  current: number;
  /** Main-thread time spent inside `flush` (validate, encode, hand over to the writer thread), in ms, summed over its blocks. */
  syncMs: number;
  /** The longest of those blocks (between two yields to the event loop), in ms. */
  longestBlockMs: number;
  /** Who wrote it: this thread (a small flush that only appends) or the store's writer thread. */
  writer: 'main' | 'thread';
}

/** What one `prune` did. */
export interface PruneResult {
  /** Raw points deleted (each was first folded into its rollup bucket). */
  deletedRaw: number;
  /** Rollup buckets written (created or merged into). */
  rolledUp: number;
  /** Rollup buckets deleted because they were older than `rollupRetentionMs`. */
  deletedRollups: number;
}

/** One 1-minute rollup bucket of one series. */
export interface Rollup {
  /** Bucket start (ms, a multiple of 60,000). */
  start: number;
  avg: number;
  min: number;
  max: number;
  /** Number of raw points folded into the bucket. */
  count: number;
  /** The value of the latest raw point in the bucket, and its timestamp. */
  last: number;
  lastTs: number;
}

/** A point of a range query: `[timestampMs, value]`. */
export type RangePoint = [ts: number, value: number];

/** `MetricStore.writeStatus()`: whether writes commit, and if not since when and why. */
export type WriteStatus =
  | { ok: true }
  | {
      ok: false;
      /** Wall-clock ms of the first failed flush of this episode. */
      since: number;
      /** The newest cause, e.g. `No space left on device`. */
      error: string;
      /** A short, bounded reason: `ENOSPC`, `EIO`, `EDQUOT`, `EROFS`, `MDB_MAP_FULL` or `other`. */
      reason: string;
      /** Failed flushes in this episode. */
      attempts: number;
    };

/** `MetricStore.stats()`: what the store holds and what it costs on disk. */
export interface StoreStats {
  dataDir: string;
  /** The on-disk layout version (see docs/STORAGE.md). */
  layout: number;
  /** Series defined. */
  series: number;
  /** Raw history points stored. */
  points: number;
  /** 1-minute rollup cells stored. */
  rollupCells: number;
  /** Size of data.mdb in bytes. */
  fileBytes: number;
  /** Bytes up to the last used page: (last page + 1) * page size. */
  usedBytes: number;
  pageSize: number;
  /** Each named database: entries, pages (branch + leaf + overflow) and pages * pageSize. */
  databases: { name: string; entries: number; pages: number; bytes: number }[];
  /**
   * While a layout-2 store converts to layout 3 (`migrate-layout2.ts`): what there was to convert and
   * how much is done. `points` and `rollupCells` above count the unconverted entries too.
   */
  conversion?: { startedAt: number; points: number; cells: number; convertedPoints: number; convertedCells: number };
}

/** The progress marker: what there was to convert, and how much is done. */
export interface Layout2Progress {
  /** Wall ms when the conversion began (the first writable open of the layout-2 store). */
  startedAt: number;
  /** Raw points and rollup cells the layout-2 store held then. */
  points: number;
  cells: number;
  /** Converted so far (committed with the entries they count). */
  convertedPoints: number;
  convertedCells: number;
}
