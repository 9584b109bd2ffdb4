/**
 * Resource probes for the hygiene suites: open file descriptors (all, and those under a
 * directory), lmdb-js's table of opened databases, and a real `gc()` without `--expose-gc` on the
 * command line.
 */
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import * as lmdb from 'lmdb';
import { onCleanup } from './tree-fixture.js';

/** Whether /proc/self/fd can be read (Linux). */
export const HAS_PROC_FD = fs.existsSync('/proc/self/fd');

/** Targets of this process's open file descriptors (deleted or unreadable ones as `?`). */
export function openFds(): string[] {
  return fs.readdirSync('/proc/self/fd').map((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '?'; // the fd readdir itself used, already closed
    }
  });
}

/** Open descriptors on files under `dir` (the LMDB data and lock files, for a store dir). */
export function fdsUnder(dir: string): string[] {
  const root = fs.realpathSync(dir) + path.sep;
  return openFds().filter((target) => target.startsWith(root));
}

/** How many databases lmdb-js has recorded as opened in this thread (it never removes one). */
export function lmdbDbCount(): number {
  // Exported by lmdb-js (open.js) but not in its typings.
  return (lmdb as unknown as { allDbs: Map<string, unknown> }).allDbs.size;
}

/** Counts calls of the named methods (which still run); restored at cleanup. */
export function countCalls<T extends object, K extends keyof T & string>(
  target: T,
  methods: readonly K[],
): Record<K, number> {
  const counts = Object.fromEntries(methods.map((m) => [m, 0])) as Record<K, number>;
  for (const method of methods) {
    const original = target[method] as unknown as (...args: unknown[]) => unknown;
    (target as Record<K, unknown>)[method] = function (this: unknown, ...args: unknown[]) {
      counts[method]++;
      return original.apply(this, args);
    };
    onCleanup(() => {
      (target as Record<K, unknown>)[method] = original;
    });
  }
  return counts;
}

let gcFn: (() => void) | undefined;

/**
 * A full, synchronous garbage collection. V8 exposes `gc` to contexts created after the flag is
 * set, so this works in a test worker started without `--expose-gc`.
 */
export function fullGc(): void {
  if (gcFn === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  gcFn();
  gcFn();
}

/** heapUsed after a full collection, in bytes. */
export function heapAfterGc(): number {
  fullGc();
  return process.memoryUsage().heapUsed;
}
