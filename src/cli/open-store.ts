/**
 * Opening a data dir for the CLI: always read-only (no writer lock, nothing written, safe beside a
 * running writer), with the CLI's own words for the mistakes a person makes at a prompt (a typo'd
 * path, a file, a directory that is not a store) before the store's own checks run (damage,
 * another layout, another application's LMDB env), whose messages name the path and what to do.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, MonitorError } from '../errors.js';
import { MetricStore } from '../store/lmdb-store.js';

/**
 * @param dataDir as given on the command line (resolved against the cwd)
 * @throws {MonitorError} `EMON_STORE_FAILED` naming the path, what is wrong and what to do
 */
export function openReadOnly(dataDir: string): MetricStore {
  const dir = path.resolve(dataDir);
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir, { throwIfNoEntry: false });
  } catch (err) {
    throw new MonitorError(ErrorCode.StoreFailed, `cannot read ${dir}: ${(err as Error).message}`, { cause: err });
  }
  if (stat === undefined) {
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `${dir} does not exist: give the data dir of the application (monitoring.data_dir; default ./.erlmcp-monitor in the directory it runs in)`,
    );
  }
  if (!stat.isDirectory())
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `${dir} is not a directory: give the store's directory (the one holding data.mdb), not a file in it`,
    );
  if (!fs.existsSync(path.join(dir, 'data.mdb'))) {
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `${dir} is not a metric store (it has no data.mdb): give the application's monitoring.data_dir (default ./.erlmcp-monitor in the directory it runs in)`,
    );
  }
  return MetricStore.open({ dataDir: dir, readOnly: true });
}
