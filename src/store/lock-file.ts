/**
 * `fillLockFileHoles`: allocates the blocks of LMDB's `lock.mdb` while there is space, so a full
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
 * **How.** Each 4 KiB page of the lock file that reads as all zeros is written back as zeros: a
 * hole reads as zeros, so the content is unchanged and the page is now allocated. Reader slots
 * in use are never all-zero pages (their pid is set), and a page with no slot in use is only
 * claimed once ~60 slots below it are taken, so rewriting it races with nobody in practice.
 * Best effort: on an already full filesystem it leaves what it cannot write.
 */
import fs from 'node:fs';
import path from 'node:path';

const PAGE = 4096;

/**
 * @param dir the LMDB environment directory (holding `lock.mdb`)
 * @returns bytes written (0 when the file is fully allocated, missing, or the write failed)
 */
export function fillLockFileHoles(dir: string): number {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, 'lock.mdb'), 'r+');
  } catch {
    return 0;
  }
  let written = 0;
  try {
    const { size, blocks } = fs.fstatSync(fd);
    if (blocks * 512 >= size) return 0;
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
