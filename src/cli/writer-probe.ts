/**
 * Whether a writer has the store open, found WITHOUT touching its lock.
 *
 * A writable store holds an exclusive flock on `<dataDir>/writer.lock` (`writer-lock.ts`). Probing
 * it with a lock of our own (even a shared, non-blocking one held for a microsecond) would make a
 * writer that starts at that instant fail its own non-blocking flock with `EMON_STORE_LOCKED`: the
 * probe would break the application it inspects. So on Linux the kernel's lock table is read
 * instead: `/proc/locks` lists every held lock with its holder's pid and the locked file's device
 * (`major:minor`, hex) and inode. Reading it takes no lock and changes nothing; its only race is
 * that a writer starting or stopping just after the read is reported as it was just before, which
 * is the nature of any answer to "is it running?".
 *
 * Where there is no `/proc/locks` (macOS, or a container without /proc), the answer is `unknown`
 * with the pid the last writer noted in the file, never a guess from the note alone.
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
