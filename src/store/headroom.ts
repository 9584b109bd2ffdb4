/**
 * `Headroom`: keeps written space past the last page of `data.mdb`, so LMDB's page writes never fail
 * for lack of space: on a failed page write the LMDB in lmdb-js 3.5.6 overflows a heap buffer
 * (`mdb_page_flush`) and the host aborts. Before each write the store appends zeros up to
 * {@link headroomFor} bytes past the last committed page, inside a write transaction, so it overwrites
 * nothing LMDB uses; if that append fails, the write is refused with the filesystem's error before
 * LMDB sees it. Why this is enough: docs/design-notes.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, MonitorError, toError } from '../errors.js';

/** Room always kept past the last page: more than any single write of this store makes LMDB add. */
export const MIN_HEADROOM_BYTES = 1024 * 1024;
/** Extra room appended beyond what a write needs, so appends stay rare. */
const EXTEND_STEP_BYTES = 1024 * 1024;
/** Bytes a queued put may cost in pages: its key, value and node header, on half-full leaves, plus branch pages. */
const PUT_OVERHEAD_BYTES = 64;
const ZEROS = Buffer.alloc(256 * 1024);

/** The part of lmdb-js's root env this needs (its native env: `info()`, `stat()`). */
export interface HeadroomEnv {
  env: { info(): { lastPageNumber: number }; stat(): { pageSize: number } };
  transactionSync<T>(action: () => T): T;
}

/**
 * The room a write needs past the last page: twice an estimate of the pages it may add, and at
 * least {@link MIN_HEADROOM_BYTES}.
 * @param puts how many puts/removes the transaction holds
 * @param payloadBytes the bytes of their keys and values
 */
export function headroomFor(puts: number, payloadBytes: number): number {
  return Math.max(MIN_HEADROOM_BYTES, 2 * (payloadBytes + puts * PUT_OVERHEAD_BYTES));
}

/** Pages LMDB keeps dirty in memory before it spills (writes) some ahead of the commit: `MDB_IDL_UM_MAX` in lmdb-js 3.5.6's midl.h. */
export const SPILL_PAGES = (1 << 17) - 1;
/** The most a row of one value column costs in a chunk: ts and value each at most ~85 bits in chunk-codec.ts's worst case, rounded up. */
const ROW_BYTES = 32;

/** A flush as the writer thread sees it, for {@link flushRoomBefore}. */
export interface FlushSize {
  /** Current values put and their msgpack bytes. */
  currents: number;
  currentBytes: number;
  /** Points and distinct series among them. */
  points: number;
  series: number;
}

/**
 * Room a flush may need before its puts run, for pages LMDB spills ahead of the commit; `0`
 * when it cannot dirty {@link SPILL_PAGES} pages, so nothing reaches the file before
 * {@link flushRoomAtCommit} is checked. A transaction dirties each existing page of the
 * databases it touches at most once (copy on write: `dbPages`), plus the pages its growth
 * splits off: twice the growth for leaves (a split leaves pages at least about half full), and
 * once more for the branch pages above them and the freelist's own pages (8 B per freed page).
 * The growth: the current values, per point at most {@link ROW_BYTES} added to a head chunk,
 * and a new entry (key, node, chunk header) per current value and up to two per series.
 * @param dbPages branch, leaf and overflow pages of `current` and `history` now
 */
export function flushRoomBefore(size: FlushSize, dbPages: number, pageSize: number): number {
  const growth = size.currentBytes + size.points * ROW_BYTES + (size.currents + 2 * size.series) * PUT_OVERHEAD_BYTES;
  const bound = dbPages * pageSize + 3 * growth + MIN_HEADROOM_BYTES;
  return bound >= SPILL_PAGES * pageSize ? bound : 0;
}

/**
 * Room a flush needs at its commit, once its puts are known: {@link headroomFor} of the exact
 * bytes put (current values and the new chunks, with their 12-byte keys). The earlier estimate
 * before the puts had to assume each changed series rewrites a head of up to half a sealed
 * chunk (512 B, x2): ~100-200 MB of zeros appended for 100,000 series whose real heads were
 * ~30 B each.
 * @param puts current values and chunks put, plus chunks removed
 * @param bytes their value bytes
 */
export function flushRoomAtCommit(puts: number, bytes: number): number {
  return headroomFor(puts, bytes + puts * 12);
}

export class Headroom {
  readonly #env: HeadroomEnv;
  readonly #file: string;
  readonly #pageSize: number;
  /**
   * A lower bound of data.mdb's size: the file never shrinks (see above), so a stale value only
   * costs a `stat`. Without it every series definition paid a `stat` syscall (~40 µs of a
   * definition's ~40-120 µs at a million series).
   */
  #knownSize = 0;

  constructor(env: HeadroomEnv, dataDir: string) {
    this.#env = env;
    this.#file = path.join(dataDir, 'data.mdb');
    this.#pageSize = env.env.stat().pageSize;
  }

  /**
   * Makes sure `data.mdb` has `bytes` of written space past its last page, appending zeros if not.
   * Call it before queuing a write, outside any transaction of this thread.
   * @param what the write, for the message (`flush`, `alerts.put`, ...)
   * @param bytes from {@link headroomFor}
   * @throws {MonitorError} `EMON_STORE_FAILED` if the space cannot be had; `cause` is the filesystem's
   *   error (`ENOSPC: no space left on device`, ...), so the failure reason is the same as a failed commit's
   */
  ensure(what: string, bytes: number): void {
    // Unlocked first: the last page only moves on while a commit runs, so this mostly answers alone.
    if (this.#room() >= bytes) return;
    let failure: Error | undefined;
    try {
      this.#env.transactionSync(() => {
        failure = this.#extend(bytes);
      });
    } catch (err) {
      failure = toError(err);
    }
    if (failure !== undefined) throw this.#refusal(what, failure);
  }

  /**
   * {@link ensure} for a caller that already holds LMDB's write lock: inside its own
   * `transactionSync`, before its first put (the writer thread: appending there blocks no event
   * loop). Throwing aborts that transaction with nothing written.
   * @throws {MonitorError} `EMON_STORE_FAILED` as {@link ensure}
   */
  ensureLocked(what: string, bytes: number): void {
    if (this.#room() >= bytes) return;
    let failure: Error | undefined;
    try {
      failure = this.#extend(bytes);
    } catch (err) {
      failure = toError(err);
    }
    if (failure !== undefined) throw this.#refusal(what, failure);
  }

  /** Under the write lock: appends zeros up to `bytes` past the last page (and a step more if it can). */
  #extend(bytes: number): Error | undefined {
    const end = this.#lastPageEnd();
    const size = this.#statSize();
    if (size - end >= bytes) return undefined;
    const failure = this.#append(size, end + bytes + EXTEND_STEP_BYTES);
    return failure === undefined ? undefined : this.#append(this.#statSize(), end + bytes);
  }

  #refusal(what: string, failure: Error): MonitorError {
    return new MonitorError(
      ErrorCode.StoreFailed,
      `${what}: not written: the metric store has no room to grow ${this.#file}: ${failure.message}`,
      {
        cause: failure,
      },
    );
  }

  /** Written bytes past the last committed page. */
  #room(): number {
    const end = this.#lastPageEnd();
    if (this.#knownSize - end >= MIN_HEADROOM_BYTES) return this.#knownSize - end;
    return this.#statSize() - end;
  }

  #statSize(): number {
    this.#knownSize = fs.statSync(this.#file).size;
    return this.#knownSize;
  }

  #lastPageEnd(): number {
    return (this.#env.env.info().lastPageNumber + 1) * this.#pageSize;
  }

  /** Appends zeros from `from` up to `to`; returns the error if it could not write them all. */
  #append(from: number, to: number): Error | undefined {
    if (from >= to) return undefined;
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.#file, 'r+');
      for (let at = from; at < to;) {
        at += fs.writeSync(fd, ZEROS, 0, Math.min(ZEROS.length, to - at), at);
      }
      return undefined;
    } catch (err) {
      return toError(err);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}
