/**
 * Small real filesystems for the disk-full fault tests, made here as root: an 8 MiB tmpfs and a
 * 14 MB ext4 loop image without reserved blocks (`mkfs.ext4 -m 0`, so root really gets ENOSPC).
 * `cannotMount()` says why this machine cannot (and throws under REQUIRE_SYSTEM_DEPS=1);
 * `unmountAll()` undoes every mount, for afterAll.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const MIB = 1024 * 1024;

export interface SmallFs {
  /** Where it is mounted. */
  dir: string;
  /** Bytes of ballast written before the tree starts and deleted to free space. */
  ballast: number;
  unmount(): void;
}

/** Every mount made here, unmounted in afterAll whatever happened. */
export const mounted: SmallFs[] = [];

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
}

export function mountTmpfs(): SmallFs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-tmpfs-'));
  try {
    run('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir]);
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const fsys: SmallFs = {
    dir,
    ballast: 3 * MIB,
    unmount: () => {
      run('umount', [dir]);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  mounted.push(fsys);
  return fsys;
}

export function mountExt4(): SmallFs {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-ext4-'));
  const image = path.join(work, 'disk.img');
  const dir = path.join(work, 'mnt');
  fs.mkdirSync(dir);
  let loop: string | undefined;
  try {
    fs.writeFileSync(image, '');
    fs.truncateSync(image, 14_336_000); // 14 MB, whole 512-byte sectors
    run('mkfs.ext4', ['-q', '-F', '-m', '0', image]);
    loop = run('losetup', ['--find', '--show', image]).trim();
    run('mount', ['-t', 'ext4', loop, dir]);
  } catch (err) {
    if (loop !== undefined) run('losetup', ['-d', loop]);
    fs.rmSync(work, { recursive: true, force: true });
    throw err;
  }
  const device = loop;
  const fsys: SmallFs = {
    dir,
    ballast: 4 * MIB,
    unmount: () => {
      try {
        run('umount', [dir]);
      } finally {
        run('losetup', ['-d', device]);
        fs.rmSync(work, { recursive: true, force: true });
      }
    },
  };
  mounted.push(fsys);
  return fsys;
}

/** Why this machine cannot run the suite (a trial mount failed), or undefined. Throws under REQUIRE_SYSTEM_DEPS=1. */
export function cannotMount(): string | undefined {
  let reason: string | undefined;
  for (const [name, make] of [
    ['tmpfs', mountTmpfs],
    ['ext4 loop image', mountExt4],
  ] as const) {
    try {
      const trial = make();
      mounted.splice(mounted.indexOf(trial), 1);
      trial.unmount();
    } catch (err) {
      const detail = String((err as { stderr?: string }).stderr ?? (err as Error).message)
        .trim()
        .split('\n')[0];
      reason = `cannot mount a ${name} here (needs root, mount rights and loop devices): ${detail}`;
      break;
    }
  }
  if (reason !== undefined && process.env.REQUIRE_SYSTEM_DEPS === '1')
    throw new Error(`REQUIRE_SYSTEM_DEPS=1 and ${reason}`);
  return reason;
}

/** Unmounts every filesystem mounted here; returns the errors (expected: none). */
export function unmountAll(): unknown[] {
  const errors: unknown[] = [];
  for (const fsys of mounted.splice(0)) {
    try {
      fsys.unmount();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}

export interface Health {
  status: string;
  processes: Record<string, string>;
  store?: { status: string; error?: string; reason?: string };
}

/** Polls `check` every `intervalMs` until it returns true; fails with `message()` after `timeoutMs`. */
export async function until(
  check: () => Promise<boolean>,
  o: { timeoutMs: number; intervalMs: number; message: () => string },
): Promise<void> {
  const deadline = performance.now() + o.timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(o.message());
    await new Promise((resolve) => setTimeout(resolve, o.intervalMs));
  }
}

export async function health(port: number): Promise<Health> {
  const res = await fetch(`http://127.0.0.1:${port}/health`);
  return (await res.json()) as Health;
}
