/**
 * `WriterLock`: one writer per data directory, enforced by the kernel: an exclusive `flock(2)` on
 * `<dataDir>/writer.lock`, held for the store's life, dropped by the kernel when the holder dies (no
 * stale lock), seen across containers sharing the volume. Not for network file systems. The file stays
 * after close (removing it would let two processes lock two files). flock comes from
 * `fs-ext-extra-prebuilt`, loaded on the first writable open. Details: docs/design-notes.md.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { ErrorCode, MonitorError, toError } from '../errors.js';

type Flock = (fd: number, flags: 'exnb') => number;
let flockSync: Flock | undefined;

function loadFlock(file: string): Flock {
  if (flockSync !== undefined) return flockSync;
  try {
    const addon = createRequire(import.meta.url)('fs-ext-extra-prebuilt') as { flockSync: Flock };
    flockSync = addon.flockSync;
    return flockSync;
  } catch (err) {
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `cannot take the writer lock on ${file}: the flock addon (fs-ext-extra-prebuilt) has no binary for ${process.platform}-${process.arch} ` +
        `and was not built (${toError(err).message}); allow its install script to build it (npm needs python3, make and a C++ compiler)`,
      { cause: err },
    );
  }
}

/** The lock file's name inside the data dir. */
export const WRITER_LOCK_FILE = 'writer.lock';

export class WriterLock {
  /** Absolute path of the lock file. */
  readonly file: string;
  /** Whether this lock created the file (it did not exist before). */
  readonly created: boolean;
  #fd: number | undefined;

  private constructor(file: string, fd: number, created: boolean) {
    this.file = file;
    this.#fd = fd;
    this.created = created;
  }

  /**
   * Takes the writer lock of `dir` without waiting.
   *
   * @param dir an existing data directory (absolute)
   * @throws {MonitorError} `EMON_STORE_LOCKED` if another store (in any process) holds it;
   *   `EMON_STORE_FAILED` if the lock file cannot be created or locked
   */
  static acquire(dir: string): WriterLock {
    const file = path.join(dir, WRITER_LOCK_FILE);
    let fd: number;
    let created = false;
    try {
      try {
        fd = fs.openSync(file, 'wx+');
        created = true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        fd = fs.openSync(file, 'r+');
      }
    } catch (err) {
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `cannot open the writer lock file ${file}: ${toError(err).message}`,
        { cause: err },
      );
    }
    let flock: Flock;
    try {
      flock = loadFlock(file);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    try {
      flock(fd, 'exnb');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      const holder = code === 'EAGAIN' || code === 'EWOULDBLOCK' ? readHolder(fd) : undefined;
      fs.closeSync(fd);
      if (holder !== undefined) {
        throw new MonitorError(
          ErrorCode.StoreLocked,
          `the metric store at ${dir} is already open for writing by another process${holder}: it holds the lock on ${file}. ` +
            'A store has one writer: stop that process, give this one another data_dir, or read the store with MetricStore.open({ dataDir, readOnly: true })',
        );
      }
      throw new MonitorError(
        ErrorCode.StoreFailed,
        `cannot lock ${file}: ${toError(err).message} (network file systems are not supported)`,
        { cause: err },
      );
    }
    try {
      const note = Buffer.from(
        `${JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() })}\n`,
      );
      fs.ftruncateSync(fd, 0);
      fs.writeSync(fd, note, 0, note.length, 0);
    } catch {
      // The note is for people; the lock is held either way.
    }
    return new WriterLock(file, fd, created);
  }

  /** Releases the lock (closing the file drops it). Idempotent. */
  release(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    fs.closeSync(fd);
  }

  /** Releases the lock and, when this lock created the file, removes it (a refused foreign directory is left as found). */
  releaseAndRemove(): void {
    const remove = this.created && this.#fd !== undefined;
    this.release();
    if (remove) fs.rmSync(this.file, { force: true });
  }
}

/** ` (pid 123 on host "a" since …, as it noted)` from the holder's note, or `''` if it is unreadable. */
function readHolder(fd: number): string {
  try {
    const buffer = Buffer.alloc(512);
    const n = fs.readSync(fd, buffer, 0, buffer.length, 0);
    const note = JSON.parse(buffer.subarray(0, n).toString('utf8')) as {
      pid?: unknown;
      host?: unknown;
      since?: unknown;
    };
    if (typeof note.pid !== 'number' || typeof note.host !== 'string' || typeof note.since !== 'string') return '';
    return ` (pid ${note.pid} on host ${JSON.stringify(note.host)} since ${note.since}, as it noted)`;
  } catch {
    return '';
  }
}
