/**
 * `prepareLockFile`: allocates the blocks of LMDB's `lock.mdb` while there is space, so a full
 * filesystem later cannot kill the process with SIGBUS.
 *
 * **Why.** LMDB sizes `lock.mdb` with `ftruncate` (8,272 bytes for 126 readers) and maps it
 * shared, read-write: only the page it initializes is allocated, the rest of the reader table
 * is a hole. The first touch of a hole page needs a block from the filesystem; when there is none
 * (tmpfs full; ext4 with no free blocks), the kernel answers the page fault with SIGBUS, which no
 * JS can catch. That touch comes when a new reader slot past the first ~60 is taken (a new thread
 * reading, a reader process): measured on a full 8 MiB tmpfs, the 62nd reader thread died with
 * SIGBUS (rc 135). The data file is written with `pwrite` (no write map), so a full disk there
 * gives a write error instead, which the store reports.
 *
 * **How.** Before LMDB opens the env in this process (after, closing any descriptor of the file
 * would drop the fcntl locks LMDB holds on it, and another process would then take this one's
 * reader slots: MDB_BAD_RSLOT): a missing lock file is created as {@link LOCK_FILE_BYTES} of
 * written zeros, which LMDB takes as it is (it sizes its reader table to an existing file at
 * least as large as it needs, and initializes the header itself); in an existing one, each 4 KiB
 * page that reads as all zeros is written back as zeros. A hole reads as zeros, so the content is
 * unchanged and the page is now allocated. Pages with a reader slot in use are never all zeros
 * (the pid is set), and a page with none is only claimed once ~60 slots below it are taken, so
 * this races with no other process in practice. Best effort: on a filesystem already full it
 * leaves what it cannot write.
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
      if (read === length && page.subarray(0, length).every((byte) => byte === 0)) written += fs.writeSync(fd, zeros, 0, length, at);
    }
  } catch {
    // A full disk already: nothing more can be allocated now.
  } finally {
    fs.closeSync(fd);
  }
  return written;
}
