/**
 * Helpers for the store tests: a fresh LMDB directory per test, error assertions, a seeded PRNG,
 * and child processes (plain ESM scripts in `fixtures/` that import the built store from `dist/`)
 * with line-based stdout and a hard timeout.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ErrorCode } from '../../src/errors.js';
import { FlushWriter } from '../../src/store/flush-writer.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import type { StoreOptions } from '../../src/store/types.js';
import { expectMonitorError } from '../helpers.js';

/**
 * Counts the flushes handed to a writer thread (`FlushWriter.write`) from now on; `restore()` puts
 * the real method back. For tests of which thread writes a flush.
 */
export function countWriterThreadWrites(): { readonly count: number; restore(): void } {
  const realWrite = FlushWriter.prototype.write;
  let count = 0;
  FlushWriter.prototype.write = function (this: FlushWriter, ...args: Parameters<FlushWriter['write']>) {
    count++;
    return realWrite.apply(this, args);
  };
  return {
    get count() {
      return count;
    },
    restore: () => {
      FlushWriter.prototype.write = realWrite;
    },
  };
}

/** A temp dir plus the stores opened on it; `cleanup()` closes them all and removes the dir. */
export function tempStores() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-store-'));
  const opened: MetricStore[] = [];
  return {
    dir,
    open(options: StoreOptions = {}): MetricStore {
      const store = MetricStore.open({ dataDir: dir, ...options });
      opened.push(store);
      return store;
    },
    async cleanup(): Promise<void> {
      for (const store of opened.splice(0)) await store.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Asserts that `promise` rejects with a MonitorError with this code and a message matching `message`. */
export async function expectMonitorRejection(
  promise: Promise<unknown>,
  code: ErrorCode,
  message: string | RegExp,
): Promise<void> {
  let thrown: unknown;
  try {
    await promise;
  } catch (err) {
    thrown = err;
  }
  expectError(thrown, code, message);
}

function expectError(thrown: unknown, code: ErrorCode, message: string | RegExp): void {
  expectMonitorError(
    () => {
      throw thrown;
    },
    code,
    message,
  );
}

export { expectMonitorError, mulberry32 as seededRandom } from '../helpers.js';

/** The compiled store the child scripts import. `npm test` builds it before vitest runs. */
export const BUILT_STORE = fileURLToPath(new URL('../../dist/src/store/lmdb-store.js', import.meta.url));

/** Fails clearly when `dist/` is missing instead of letting the child die with a module error. */
export function assertBuilt(): void {
  if (!fs.existsSync(BUILT_STORE)) {
    throw new Error(
      `${BUILT_STORE} is missing: run \`npx tsc -p tsconfig.build.json\` (npm test does) before these tests`,
    );
  }
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** SIGKILLs every fixture child still running and waits for them (for afterEach). */
export async function killChildren(): Promise<void> {
  const exits = [...running].map((proc) => new Promise((resolve) => proc.once('close', resolve)));
  for (const proc of running) proc.kill('SIGKILL');
  await Promise.all(exits);
}

/** A child node process speaking lines on stdin/stdout. */
export interface LineChild {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Every stdout line received so far, in order. */
  readonly lines: string[];
  /** Resolves with the next stdout line not yet taken; rejects if the child exits or times out first. */
  nextLine(): Promise<string>;
  /** Writes one line to the child's stdin. */
  send(line: string): void;
  /** Resolves when the child has exited (with its code and signal); rejects on the hard timeout. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Stderr so far, for failure messages. */
  stderr(): string;
}

/**
 * Spawns `node test/store/fixtures/<script> ...args`. After `timeoutMs` the child is SIGKILLed and
 * every pending wait rejects, so a hung child fails the test instead of hanging it.
 */
export function spawnFixture(script: string, args: string[], timeoutMs: number): LineChild {
  const file = fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url));
  const proc = spawn(process.execPath, [file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(proc);
  const lines: string[] = [];
  let taken = 0;
  let waiter: { resolve: (line: string) => void; reject: (err: Error) => void } | undefined;
  let failure: Error | undefined;
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => (stderr += chunk));
  const fail = (err: Error): void => {
    failure ??= err;
    waiter?.reject(failure);
    waiter = undefined;
  };
  createInterface({ input: proc.stdout }).on('line', (line) => {
    lines.push(line);
    if (waiter !== undefined) {
      const w = waiter;
      waiter = undefined;
      w.resolve(lines[taken++]!);
    }
  });
  const timer = setTimeout(() => {
    proc.kill('SIGKILL');
    fail(new Error(`child ${script} did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
  }, timeoutMs);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    // 'close' (not 'exit'): stdout has ended, so every line the child wrote has been read.
    proc.on('close', (code, signal) => {
      running.delete(proc);
      clearTimeout(timer);
      // Let readline deliver the last lines before pending waits learn about the exit.
      setImmediate(() => fail(new Error(`child ${script} exited (code ${code}, signal ${signal}); stderr: ${stderr}`)));
      if (failure !== undefined) reject(failure);
      else resolve({ code, signal });
    });
  });
  exited.catch(() => undefined);
  return {
    proc,
    lines,
    nextLine() {
      if (taken < lines.length) return Promise.resolve(lines[taken++]!);
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise((resolve, reject) => (waiter = { resolve, reject }));
    },
    send(line) {
      proc.stdin.write(`${line}\n`);
    },
    exited,
    stderr: () => stderr,
  };
}
