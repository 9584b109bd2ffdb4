/**
 * TEMPORARY (until MetricStore#stats() lands from the store rewrite): the StoreStats of a layout-2
 * store, read from its own read-only view of the env.
 */
import fs from 'node:fs';
import path from 'node:path';
import { open } from 'lmdb';
import type { MetricStore } from '../store/lmdb-store.js';

export interface StoreStats {
  dataDir: string;
  layout: number;
  series: number;
  points: number;
  rollupCells: number;
  fileBytes: number;
  usedBytes: number;
  pageSize: number;
  databases: { name: string; entries: number; pages: number; bytes: number }[];
}

interface DbStat {
  pageSize: number;
  treeBranchPageCount: number;
  treeLeafPageCount: number;
  overflowPages: number;
  entryCount: number;
}

export async function storeStats(store: MetricStore): Promise<StoreStats> {
  const env = open({ path: store.dataDir, readOnly: true, maxDbs: 64, useRecords: false, noSubdir: false } as Parameters<typeof open>[0]);
  try {
    const names = [...env.getKeys()].filter((k): k is string => typeof k === 'string');
    const databases = names.map((name) => {
      const db = env.openDB({ name, encoding: 'binary', keyEncoding: 'binary' } as never) as unknown as { getStats(): DbStat };
      const s = db.getStats();
      const pages = s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
      return { name, entries: s.entryCount, pages, bytes: pages * s.pageSize };
    });
    const info = (env as unknown as { env: { info(): { lastPageNumber: number } } }).env.info();
    const pageSize = (env.getStats() as DbStat).pageSize;
    const entries = (name: string): number => databases.find((d) => d.name === name)?.entries ?? 0;
    return {
      dataDir: store.dataDir,
      layout: 2,
      series: entries('series'),
      points: entries('points'),
      rollupCells: entries('rollup_1m'),
      fileBytes: fs.statSync(path.join(store.dataDir, 'data.mdb')).size,
      usedBytes: (info.lastPageNumber + 1) * pageSize,
      pageSize,
      databases,
    };
  } finally {
    await env.close();
  }
}
