/**
 * `prepareLockFile`: allocates the blocks of LMDB's `lock.mdb` while there is space, so a full
 * filesystem later cannot kill the process with SIGBUS (LMDB maps a sparse lock file; the first touch
 * of a hole page on a full disk faults, measured at the 62nd reader thread). It must run before LMDB
 * opens the env in this process (closing a descriptor afterwards would drop LMDB's fcntl locks).
 * Best effort: on a filesystem already full it leaves what it cannot write. Details:
 * docs/design-notes.md.
 */
import fs from 'node:fs';
import path from 'node:path';

const PAGE = 4096;
/** Three pages: more than LMDB's 8,272 bytes for its default 126 readers (it then has 190). */
export const LOCK_FILE_BYTES = 3 * PAGE;

/**
 * Call before this process opens the env.
 * @param dir the LMDB environment directory (it exists)
 * @returns bytes written (0 when the file was fully allocated, or nothing could be written)
 */
export function prepareLockFile(dir: string): number {
  const file = path.join(dir, 'lock.mdb');
  try {
    fs.writeFileSync(file, Buffer.alloc(LOCK_FILE_BYTES), { flag: 'wx' });
    return LOCK_FILE_BYTES;
  } catch {
    // it exists (or the disk is full): fill what is missing of it
  }
  // Opened (and so closed) only when it has holes: closing drops this process's fcntl locks on it.
  try {
    const { size, blocks } = fs.statSync(file);
    if (blocks * 512 >= size) return 0;
  } catch {
    return 0;
  }
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch {
    return 0;
  }
  let written = 0;
  try {
    const { size } = fs.fstatSync(fd);
    const page = Buffer.alloc(PAGE);
    const zeros = Buffer.alloc(PAGE);
    for (let at = 0; at < size; at += PAGE) {
      const length = Math.min(PAGE, size - at);
      const read = fs.readSync(fd, page, 0, length, at);
      if (read === length && page.subarray(0, length).every((byte) => byte === 0))
        written += fs.writeSync(fd, zeros, 0, length, at);
    }
  } catch {
    // A full disk already: nothing more can be allocated now.
  } finally {
    fs.closeSync(fd);
  }
  return written;
}
