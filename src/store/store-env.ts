/**
 * Opening the store's LMDB env: the options every opener shares, the named databases of the layout
 * and its version check, and the errors `MetricStore.open` turns into coded refusals.
 */
import * as lmdb from 'lmdb';
import type { Database, DatabaseOptions, RootDatabase, RootDatabaseOptions, RootDatabaseOptionsWithPath } from 'lmdb';
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import { type Headroom, headroomFor } from './headroom.js';
import { type ChunkDatabase, chunkDbOptions } from './history-chunks.js';
import { LAYOUT2, LAYOUT2_MARKER, type Layout2Remnant, laterChunkDb } from './migrate-layout2.js';
import type { SeriesTimeKey } from './point-codec.js';
import type { SeriesDef } from './types.js';

/**
 * Version of the on-disk layout (docs/STORAGE.md). 1 had ordered-binary `[id, ts]` keys and
 * msgpack point values; 2 one entry per point in `points` and per cell in `rollup_1m`; 3 per-series
 * chunks in `history` and `rollup`.
 */
export const LAYOUT_VERSION = 3;
/** lmdb errors that mean the file itself is bad (not a permission or space problem). */
export const DAMAGE_ERRORS = /MDB_INVALID|MDB_CORRUPTED|MDB_VERSION_MISMATCH|MDB_PAGE_NOTFOUND/;

/** Directories with a writable store open in this process (a second one would reuse series ids). */
export const writersInProcess = new Set<string>();

export interface Databases {
  series: Database<SeriesDef, number>;
  seriesKey: Database<number, string>;
  meta: Database<unknown, string>;
  current: Database<unknown, number>;
  /** Raw history: per-series chunks (`history-chunks.ts`). */
  history: ChunkDatabase;
  /** 1-minute rollup cells: per-series chunks of six columns. */
  rollup: ChunkDatabase;
  /** While a layout-2 store converts: what it has not moved yet (migrate-layout2.ts). */
  layout2?: Layout2Remnant;
}

/** The msgpack encoder lmdb-js attaches to each database (not in its typings). */
export interface ValueEncoder {
  /** `mode`: msgpackr's buffer modes (REUSE_BUFFER_MODE, RESET_BUFFER_MODE). */
  encode(value: unknown, mode?: number): Uint8Array;
}

/**
 * Damage lmdb-js reported or that was found in the records: `open` turns it into the coded error.
 * `movable` only when lmdb refused to open the env at all: one it has mapped is still being closed
 * (asynchronously) while `open` runs, so it is not moved aside under it.
 */
export class EnvDamage extends Error {
  constructor(
    message: string,
    readonly movable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The refusal of an env that is not a metric store: `open` then also removes the writer lock file if it made it. */
export class ForeignEnvError extends MonitorError {}

/**
 * lmdb-js records every database it opens in its exported `allDbs` map (keyed by directory name
 * and database name) and never reads or removes an entry, so each store opened in another
 * directory kept its 7 closed database objects: ~34 KB of heap per store (measured). A closed
 * env's entries are removed here.
 */
export function forgetDatabases(env: RootDatabase): void {
  const all = (lmdb as unknown as { allDbs?: unknown }).allDbs;
  if (!(all instanceof Map)) return;
  const native = (env as unknown as { env?: unknown }).env;
  for (const [key, db] of all) if ((db as { env?: unknown } | null)?.env === native) all.delete(key);
}

/**
 * Flushes of at most this many puts (current values plus points) are written from the main
 * thread, so a small table never waits for the writer thread to start (0.4–1.2 s at a store's
 * first flush, measured). The price: a flush of 1,000 changed series takes 4.4 ms of main-thread

/**
 * Options every opener of the env must share: value encoding is part of the file format. Plain
 * msgpack maps (`useRecords: false`) decode anywhere and encode ~6x faster than lmdb-js's default
 * records without shared structures (10k small snapshots: 2.4 ms vs 15 ms, measured here).
 * `noSubdir: false` always: lmdb-js otherwise guesses from the path, taking a data dir whose name
 * has a dot (`/var/lib/my.app`, `mktemp -d`'s `tmp.XXXX`) for a file and failing with EISDIR.
 */
export const ENV_OPTIONS = {
  maxDbs: 64,
  useRecords: false,
  noSubdir: false,
} as const satisfies Partial<RootDatabaseOptionsWithPath> & { useRecords: boolean };

/** lmdb-js documents `keyEncoder` and `encoder` as database options; its typings list them only on the root options. */
export type DbOptions = DatabaseOptions & Pick<RootDatabaseOptions, 'keyEncoder' | 'encoder'>;

export function openDatabases(env: RootDatabase, dir: string): Databases {
  const openOne = <V, K extends string | number | SeriesTimeKey>(name: string, options: DbOptions): Database<V, K> => {
    const db = env.openDB<V, K>(name, options) as Database<V, K> | undefined;
    if (db === undefined) {
      throw new MonitorError(ErrorCode.StoreFailed, `${dir} is not a metric store (it has no "${name}" database)`);
    }
    return db;
  };
  // The layout first: a store of another layout gets no new database before it is refused.
  const meta = openOne<unknown, string>('meta', {});
  const layout = meta.get('layout');
  if (layout !== undefined && layout !== LAYOUT_VERSION && layout !== LAYOUT2) {
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `${dir} holds metric store layout ${describeValue(layout)}; this version reads only layout ${LAYOUT_VERSION} and does not convert ` +
        'old data: move that directory aside (or delete it) and open again to start a new store there',
    );
  }
  // A layout-2 store opened read-only has no chunk databases yet (migrate-layout2.ts reads its old ones),
  // nor has one whose conversion stopped (close, SIGKILL) before its first step committed.
  const chunks = (name: string): ChunkDatabase =>
    layout === LAYOUT2 || meta.get(LAYOUT2_MARKER) !== undefined
      ? laterChunkDb(() => env.openDB(name, chunkDbOptions()))
      : openOne(name, chunkDbOptions() as DbOptions);
  return {
    series: openOne('series', { keyEncoding: 'uint32' }),
    seriesKey: openOne('series_key', {}),
    meta,
    current: openOne('current', { keyEncoding: 'uint32' }),
    history: chunks('history'),
    rollup: chunks('rollup'),
  };
}

/**
 * Records the layout version in a new store, and drops the `writer` mark (pid, host) that older
 * versions kept: the writer lock replaced it.
 */
export function writeLayout(env: RootDatabase, meta: Database<unknown, string>, headroom: Headroom): void {
  if (meta.get('layout') !== undefined && meta.get('writer') === undefined) return;
  headroom.ensure('open', headroomFor(2, 1024));
  env.transactionSync(() => {
    if (meta.get('layout') === undefined) meta.putSync('layout', LAYOUT_VERSION);
    if (meta.get('writer') !== undefined) meta.removeSync('writer');
  });
}
