/**
 * Whether a writer has the store open, found WITHOUT touching its lock.
 *
 * Probing `<dataDir>/writer.lock` with a lock of our own would make a writer starting at that
 * instant fail with `EMON_STORE_LOCKED`: the probe would break the application it inspects. So on
 * Linux it reads `/proc/locks` (no lock, no change); elsewhere the answer is `unknown` with the pid
 * the last writer noted, never a guess. Details: docs/design-notes.md.
 */
import fs from 'node:fs';
import path from 'node:path';
import { WRITER_LOCK_FILE } from '../store/writer-lock.js';

export type WriterState =
  | { alive: true; pid: number; how: string }
  | { alive: false; how: string }
  | { alive: 'unknown'; how: string; notedPid?: number };

/**
 * @param dataDir the store's directory (absolute)
 * @param procLocks the kernel's lock table (a test may point it elsewhere)
 */
export function probeWriter(dataDir: string, procLocks = '/proc/locks'): WriterState {
  const file = path.join(dataDir, WRITER_LOCK_FILE);
  let stat: fs.BigIntStats;
  try {
    stat = fs.statSync(file, { bigint: true });
  } catch {
    return { alive: false, how: `no ${WRITER_LOCK_FILE}: no writer has opened this store (with this release)` };
  }
  let table: string;
  try {
    table = fs.readFileSync(procLocks, 'utf8');
  } catch {
    const noted = notedPid(file);
    return {
      alive: 'unknown',
      how: `cannot read ${procLocks} (not Linux?); the lock file notes pid ${noted ?? '?'} as its last writer`,
      ...(noted === undefined ? {} : { notedPid: noted }),
    };
  }
  const dev = `${hex(major(stat.dev))}:${hex(minor(stat.dev))}`;
  const noted = notedPid(file);
  for (const line of table.split('\n')) {
    // "1: FLOCK  ADVISORY  WRITE 1234 fe:00:260072 0 EOF"; waiters are marked "->" and hold nothing.
    const m = /^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line);
    if (m === null || BigInt(m[4]!) !== stat.ino) continue;
    const pid = Number(m[1]);
    const sameDevice = `${hex(BigInt(`0x${m[2]}`))}:${hex(BigInt(`0x${m[3]}`))}` === dev;
    // On overlayfs (and btrfs subvolumes) /proc/locks shows another device than stat: the inode plus the noted pid stand in for it.
    if (sameDevice || pid === noted)
      return { alive: true, pid, how: `pid ${pid} holds the flock on ${file} (seen in ${procLocks})` };
  }
  return { alive: false, how: `nobody holds the flock on ${file} (${procLocks})` };
}

function major(dev: bigint): bigint {
  return ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
}

function minor(dev: bigint): bigint {
  return (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
}

function hex(n: bigint): string {
  return n.toString(16).padStart(2, '0');
}

/** The pid the writer wrote into the lock file when it took the lock (for people; may be stale). */
function notedPid(file: string): number | undefined {
  try {
    const note = JSON.parse(fs.readFileSync(file, 'utf8').slice(0, 512)) as { pid?: unknown };
    return typeof note.pid === 'number' ? note.pid : undefined;
  } catch {
    return undefined;
  }
}
