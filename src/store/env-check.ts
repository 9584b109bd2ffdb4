/**
 * Checks an LMDB environment before lmdb-js maps it, and moves a damaged one aside. lmdb-js trusts
 * `data.mdb`: a short or foreign file faults in native code (SIGSEGV/SIGBUS) where no JS can catch
 * it, so the head of the file is read first and whatever LMDB would misread is refused (no magic,
 * another version, a bad page size, meta pages pointing past the end). An env holding databases that
 * are not ours is refused before anything is written. Meta page offsets: docs/design-notes.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ErrorCode, MonitorError, toError } from '../errors.js';

const MDB_MAGIC = 0xbeef_c0de;
const MDB_DATA_VERSION = 2;
const P_META = 0x08;
/** lmdb-js's fork: page number (8), txnid (8), pad (2), flags (2), bounds (4). */
const PAGE_HEADER_BYTES = 24;
/** Stock LMDB's page header, without the txnid: a file with its magic here was written by another LMDB build. */
const STOCK_PAGE_HEADER_BYTES = 16;
const META_BYTES = 144;
const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 0x1_0000;
/** Reads of the meta pages before a file counts as damaged (see `checkDataFile`). */
const CHECK_ATTEMPTS = 3;
/** `P_INVALID`: an empty tree's root. */
const NO_PAGE = 0xffff_ffff_ffff_ffffn;

/** Named databases a metric store has (see `lmdb-store.ts`); `rec:<name>` collections come on top. */
export const STORE_DB_NAMES: readonly string[] = [
  'series',
  'series_key',
  'meta',
  'current',
  'points',
  'rollup_1m',
  'history',
  'rollup',
];

/** What `on_corrupt` does with a damaged env at open: refuse (`fail`) or move it aside and start a new one. */
export type OnCorrupt = 'fail' | 'move_aside';
export const ON_CORRUPT_CHOICES: readonly OnCorrupt[] = ['fail', 'move_aside'];

/** The env's files: LMDB's data and lock file. */
const ENV_FILES = ['data.mdb', 'lock.mdb'] as const;

/**
 * What is wrong with `<dir>/data.mdb`, in words, or `undefined` if LMDB can map it safely (or
 * there is no file yet, or an empty one, which LMDB initialises). Reads the file; never writes.
 *
 * @throws {MonitorError} `EMON_STORE_FAILED` if the file exists but cannot be read
 */
export function checkDataFile(dir: string): string | undefined {
  const file = path.join(dir, 'data.mdb');
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `cannot read ${file} to check it before opening: ${toError(err).message}`,
      { cause: err },
    );
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return 'it is not a regular file';
    // A reader may check while the writer commits: a meta page read half-written is not damage, so
    // only what persists across reads counts.
    let damage: string | undefined;
    for (let attempt = 0; attempt < CHECK_ATTEMPTS; attempt++) {
      damage = describeDamage(fd);
      if (damage === undefined) return undefined;
    }
    return damage;
  } catch (err) {
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `cannot read ${file} to check it before opening: ${toError(err).message}`,
      { cause: err },
    );
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The file's size is taken after its meta pages are read: a writer extends the file before it
 * writes the meta page that points into the new pages, so the size read last always covers them.
 */
function describeDamage(fd: number): string | undefined {
  const sizeNow = (): number => fs.fstatSync(fd).size;
  const first = readAt(fd, 0, PAGE_HEADER_BYTES + META_BYTES);
  if (first.length === 0 && sizeNow() === 0) return undefined;
  if (first.length < PAGE_HEADER_BYTES + 4)
    return `it is only ${sizeNow()} bytes, too short for an LMDB meta page: truncated, or not LMDB at all`;
  if (first.readUInt32LE(PAGE_HEADER_BYTES) !== MDB_MAGIC) {
    if (first.readUInt32LE(STOCK_PAGE_HEADER_BYTES) === MDB_MAGIC) {
      return 'it is an LMDB file of another LMDB build (16-byte page headers), which lmdb-js cannot read';
    }
    return `it is not an LMDB data file (no LMDB magic 0xBEEFC0DE at byte ${PAGE_HEADER_BYTES}; first bytes ${first.subarray(0, 8).toString('hex')})`;
  }
  if (first.length < PAGE_HEADER_BYTES + META_BYTES)
    return `it is ${sizeNow()} bytes, shorter than one LMDB meta page: truncated`;
  const meta0 = readMeta(first);
  if ((meta0.flags & P_META) === 0) return 'page 0 is not marked as an LMDB meta page';
  if ((meta0.version & 0xffff) !== MDB_DATA_VERSION) {
    return `it has LMDB data format version ${meta0.version & 0xffff}; this lmdb-js reads version ${MDB_DATA_VERSION}`;
  }
  const pageSize = meta0.pageSize;
  if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) {
    return `its meta page gives page size ${pageSize} (expected a power of two from ${MIN_PAGE_SIZE} to ${MAX_PAGE_SIZE})`;
  }
  const second = readAt(fd, pageSize, PAGE_HEADER_BYTES + META_BYTES);
  if (second.length < PAGE_HEADER_BYTES + META_BYTES)
    return `it is ${sizeNow()} bytes, shorter than its two ${pageSize}-byte meta pages: truncated`;
  const meta1 = readMeta(second);
  if ((meta1.flags & P_META) === 0 || meta1.magic !== MDB_MAGIC) return 'its second meta page (page 1) is damaged';
  // The overlapping-sync copy in page 0's second half is picked when its txnid is the highest.
  const half = readMeta(readAt(fd, pageSize / 2, PAGE_HEADER_BYTES + META_BYTES));
  const size = sizeNow();
  const candidates = [
    { name: 'meta page 0', meta: meta0 },
    { name: 'meta page 1', meta: meta1 },
    ...(half.txnid > 0n ? [{ name: 'the meta copy in page 0', meta: half }] : []),
  ];
  for (const { name, meta } of candidates) {
    if (meta.pageSize !== pageSize) return `${name} gives page size ${meta.pageSize}, meta page 0 ${pageSize}`;
    const needed = (meta.lastPage + 1n) * BigInt(pageSize);
    if (meta.lastPage < 1n || needed > BigInt(size)) {
      return `it is ${size} bytes but ${name} says its data runs to ${needed} bytes (${meta.lastPage + 1n} pages of ${pageSize}): truncated`;
    }
    for (const [tree, root] of [
      ['free-list', meta.freeRoot],
      ['main', meta.mainRoot],
    ] as const) {
      if (root !== NO_PAGE && (root < 2n || root > meta.lastPage)) {
        return `${name} puts the ${tree} tree's root at page ${root}, outside pages 2..${meta.lastPage}`;
      }
    }
  }
  return undefined;
}

interface Meta {
  flags: number;
  magic: number;
  version: number;
  pageSize: number;
  freeRoot: bigint;
  mainRoot: bigint;
  lastPage: bigint;
  txnid: bigint;
}

function readMeta(page: Buffer): Meta {
  if (page.length < PAGE_HEADER_BYTES + META_BYTES)
    return { flags: 0, magic: 0, version: 0, pageSize: 0, freeRoot: 0n, mainRoot: 0n, lastPage: 0n, txnid: 0n };
  const m = PAGE_HEADER_BYTES;
  return {
    flags: page.readUInt16LE(18),
    magic: page.readUInt32LE(m),
    version: page.readUInt32LE(m + 4),
    pageSize: page.readUInt32LE(m + 24),
    freeRoot: page.readBigUInt64LE(m + 64),
    mainRoot: page.readBigUInt64LE(m + 112),
    lastPage: page.readBigUInt64LE(m + 120),
    txnid: page.readBigUInt64LE(m + 128),
  };
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buffer, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buffer.subarray(0, got);
}

/**
 * The names in the env's main database that are not a metric store's, or `undefined` when every
 * name is ours (an empty env included). Reads only.
 */
export function foreignNames(env: { getKeys(): Iterable<unknown> }): string[] | undefined {
  const foreign: string[] = [];
  try {
    for (const key of env.getKeys()) {
      if (typeof key === 'string' && (STORE_DB_NAMES.includes(key) || key.startsWith('rec:'))) continue;
      foreign.push(typeof key === 'string' ? JSON.stringify(key) : `a ${typeof key} key`);
      if (foreign.length === 5) break;
    }
  } catch (err) {
    return [`an unreadable key (${toError(err).message})`];
  }
  return foreign.length === 0 ? undefined : foreign;
}

/**
 * The error for a damaged env: the path, what is wrong, and what to do. `movable`: whether
 * `on_corrupt: "move_aside"` would have moved it aside (damage found before lmdb-js mapped it).
 */
export function damagedEnvError(
  dir: string,
  what: string,
  options: { movable?: boolean; cause?: unknown } = {},
): MonitorError {
  const remedy =
    options.movable === true
      ? 'or set on_corrupt: "move_aside" in monitoring.json (MetricStore.open: onCorrupt) to have it moved aside and a new store started'
      : 'or move the directory aside (or delete it) to start a new store there';
  return new MonitorError(
    ErrorCode.StoreFailed,
    `the metric store at ${dir} is damaged: ${what}. Nothing was written to it. Restore ${path.join(dir, 'data.mdb')} from a backup, ${remedy}`,
    options.cause === undefined ? undefined : { cause: options.cause },
  );
}

/** Where a damaged env went. */
export interface MovedAside {
  /** The env directory. */
  dir: string;
  /** The directory now holding the damaged `data.mdb` (and `lock.mdb`). */
  to: string;
  /** What was wrong with it. */
  reason: string;
}

/**
 * Moves the env's files into a new `damaged-<UTC time>` directory inside `dir` (so a writer lock
 * held on a file in `dir` stays valid), leaving `dir` ready for a new env.
 *
 * @throws {MonitorError} `EMON_STORE_FAILED` if the files cannot be moved
 */
export function moveAside(dir: string, reason: string, now: Date = new Date()): MovedAside {
  const stamp = now.toISOString().replace(/[:.]/g, '-');
  let to = path.join(dir, `damaged-${stamp}`);
  try {
    for (let n = 2; fs.existsSync(to); n++) to = path.join(dir, `damaged-${stamp}-${n}`);
    fs.mkdirSync(to);
    for (const name of ENV_FILES) {
      if (fs.existsSync(path.join(dir, name))) fs.renameSync(path.join(dir, name), path.join(to, name));
    }
  } catch (err) {
    throw new MonitorError(
      ErrorCode.StoreFailed,
      `the metric store at ${dir} is damaged (${reason}) and moving it aside to ${to} failed: ${toError(err).message}`,
      {
        cause: err,
      },
    );
  }
  return { dir, to, reason };
}
