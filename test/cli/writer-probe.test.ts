/**
 * The writer probe reads the kernel's lock table; here a written copy of one stands in for
 * /proc/locks, so each case (the lock held, held on another device, only waited for) is exact.
 * The live cases (a real writer, a writer starting while probed) are in commands.integration.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { probeWriter } from '../../src/cli/writer-probe.js';

let dir: string;
let lockFile: string;
let table: string;

function devOf(file: string): string {
  const { dev } = fs.statSync(file, { bigint: true });
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return `${major.toString(16).padStart(2, '0')}:${minor.toString(16).padStart(2, '0')}`;
}

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-probe-'));
  lockFile = path.join(dir, 'writer.lock');
  table = path.join(dir, 'locks');
  fs.writeFileSync(lockFile, `${JSON.stringify({ pid: 4242, host: 'h', since: 'then' })}\n`);
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('probeWriter', () => {
  it("finds the writer's flock by the lock file's device and inode", () => {
    const ino = fs.statSync(lockFile).ino;
    fs.writeFileSync(
      table,
      `1: POSIX  ADVISORY  WRITE 99 ${devOf(lockFile)}:${ino + 1} 0 EOF\n2: FLOCK  ADVISORY  WRITE 777 ${devOf(lockFile)}:${ino} 0 EOF\n`,
    );
    expect(probeWriter(dir, table)).toEqual({
      alive: true,
      pid: 777,
      how: `pid 777 holds the flock on ${lockFile} (seen in ${table})`,
    });
  });

  it('ignores a lock on another file, another device (unless the noted pid holds it), and a waiter', () => {
    const ino = fs.statSync(lockFile).ino;
    fs.writeFileSync(
      table,
      `1: FLOCK  ADVISORY  WRITE 777 ${devOf(lockFile)}:${ino + 7} 0 EOF\n2: FLOCK  ADVISORY  WRITE 778 ab:cd:${ino} 0 EOF\n3: -> FLOCK  ADVISORY  WRITE 779 ${devOf(lockFile)}:${ino} 0 EOF\n`,
    );
    expect(probeWriter(dir, table)).toMatchObject({ alive: false });
    // overlayfs shows the upper layer's device: the inode and the pid the writer noted identify it.
    fs.appendFileSync(table, `4: FLOCK  ADVISORY  WRITE 4242 00:99:${ino} 0 EOF\n`);
    expect(probeWriter(dir, table)).toMatchObject({ alive: true, pid: 4242 });
  });

  it('says no writer without a lock file, and unknown (with the noted pid) without a lock table', () => {
    expect(probeWriter(dir, path.join(dir, 'missing'))).toEqual({
      alive: 'unknown',
      notedPid: 4242,
      how: `cannot read ${path.join(dir, 'missing')} (not Linux?); the lock file notes pid 4242 as its last writer`,
    });
    fs.rmSync(lockFile);
    expect(probeWriter(dir, table)).toMatchObject({ alive: false, how: expect.stringContaining('no writer.lock') });
  });
});
