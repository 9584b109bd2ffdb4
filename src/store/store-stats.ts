/**
 * `MetricStore#stats()`: entries and pages of every named database of the env, the file's size
 * and its used part, for `erlmcp-monitor inspect` and the storage benches (bytes per point).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RootDatabase } from 'lmdb';
import { chunkInfo } from './chunk-codec.js';
import type { StoreStats } from './types.js';

/** What lmdb-js's `getStats()` returns for a database (not in its typings). */
interface DbStats {
  pageSize: number;
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
  entryCount: number;
  lastPageNumber?: number;
}

/**
 * Page and entry counts of every named database in `env` (the names its main database holds).
 * @param env the open root env
 * @param counts what the caller counted itself: series, raw points and rollup cells
 */
export function envStats(
  env: RootDatabase,
  dataDir: string,
  layout: number,
  counts: { series: number; points: number; rollupCells: number },
): StoreStats {
  const root = env.getStats() as DbStats;
  const databases: StoreStats['databases'] = [];
  // Names first: opening a database while a cursor walks the main database invalidates the walk (MDB_BAD_TXN).
  const names = [...env.getKeys()].filter((name): name is string => typeof name === 'string');
  for (const name of names) {
    const db = env.openDB(name, { encoding: 'binary', keyEncoding: 'binary' });
    if (db === undefined) continue;
    const s = db.getStats() as DbStats;
    const pages = s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
    databases.push({ name, entries: s.entryCount, pages, bytes: pages * s.pageSize });
  }
  let fileBytes = 0;
  try {
    fileBytes = fs.statSync(path.join(dataDir, 'data.mdb')).size;
  } catch {
    // a store always has data.mdb; 0 only if it was removed under us
  }
  return {
    dataDir,
    layout,
    ...counts,
    fileBytes,
    usedBytes: ((root.lastPageNumber ?? 0) + 1) * root.pageSize,
    pageSize: root.pageSize,
    databases,
  };
}

/** Entries of one database, from LMDB's own count (no scan). */
export function entryCount(db: { getStats(): unknown }): number {
  return (db.getStats() as DbStats).entryCount;
}

/** Rows stored in a chunk database (`history`, `rollup`): the sum of its chunks' counts (headers only). */
export function rowCount(db: { getRange(options: object): Iterable<{ value: Uint8Array }> }): number {
  let rows = 0;
  for (const { value } of db.getRange({ start: [0] })) rows += chunkInfo(value).count;
  return rows;
}
