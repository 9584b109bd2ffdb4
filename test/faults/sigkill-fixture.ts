/**
 * Child processes for the SIGKILL durability suite: `fixtures/tree-child.mjs` (plain ESM on the
 * compiled `dist/`, like the store's child fixtures) speaking JSON lines on stdout, with a hard
 * timeout and one spare child loading ahead; plus a raw read of the history points (decoded from
 * the `history` chunks) that the public API deliberately hides.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { open } from 'lmdb';
import { decodeChunkInto } from '../../src/store/chunk-codec.js';
import { openChunkDatabases } from '../../src/store/history-chunks.js';
import type { SeriesTimeKey } from '../../src/store/point-codec.js';

const CHILD = fileURLToPath(new URL('./fixtures/tree-child.mjs', import.meta.url));
const BUILT_INDEX = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));

/** Fails clearly when `dist/` is missing instead of letting the child die with a module error. */
export function assertBuilt(): void {
  if (!fs.existsSync(BUILT_INDEX)) {
    throw new Error(
      `${BUILT_INDEX} is missing: run \`npx tsc -p tsconfig.build.json\` (npm test does) before these tests`,
    );
  }
}

/** One line the child wrote: a JSON object with a `type`. */
export type ChildLine = { type: string } & Record<string, unknown>;

export interface TreeChild {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Every line received so far, in order. */
  readonly lines: ChildLine[];
  /** Sends the options (the child has loaded the library or is loading it) and starts the hard timeout. */
  start(options: Record<string, unknown>, timeoutMs: number): void;
  /** Resolves with the `nth` line (default the first; already received or to come) of this type; rejects if the child exits or times out first. */
  waitFor(type: string, nth?: number): Promise<ChildLine>;
  /** SIGKILLs the child and resolves once it is gone and every line it wrote has been read. */
  kill(): Promise<{ signal: NodeJS.Signals | null }>;
  /** Stderr so far, for failure messages. */
  stderr(): string;
}

/** Children started by a test; the spares are not among them until taken. */
const started = new Set<ChildProcessWithoutNullStreams>();
const spares: TreeChild[] = [];

/** SIGKILLs every started child still running and waits for them. */
export async function killChildren(): Promise<void> {
  await Promise.all([...started].map((proc) => killProc(proc)));
}

/** Ends the spare children (for afterAll). */
export async function killSpares(): Promise<void> {
  await Promise.all(spares.splice(0).map((child) => killProc(child.proc)));
}

function killProc(proc: ChildProcessWithoutNullStreams): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  proc.kill('SIGKILL');
  return closed;
}

/**
 * A child that has been loading the library since the previous call (the first call spawns two):
 * loading `dist/` is most of a child's start-up, and this way it overlaps the trial before.
 * (Running trials side by side did not help: on the loaded 2-core machine they only slowed each other.)
 */
export function takeTreeChild(): TreeChild {
  const child = spares.shift() ?? spawnTreeChild();
  if (spares.length === 0) spares.push(spawnTreeChild());
  started.add(child.proc);
  return child;
}

/** Spawns `node tree-child.mjs`; it loads the library and waits for its options on stdin. */
function spawnTreeChild(): TreeChild {
  const proc = spawn(process.execPath, [CHILD], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: ChildLine[] = [];
  const waiters: { type: string; nth: number; resolve: (line: ChildLine) => void; reject: (err: Error) => void }[] = [];
  const seen = (type: string): ChildLine[] => lines.filter((line) => line.type === type);
  let failure: Error | undefined;
  let stderr = '';
  let timer: NodeJS.Timeout | undefined;
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => (stderr += chunk));
  const fail = (err: Error): void => {
    failure ??= err;
    for (const w of waiters.splice(0)) w.reject(failure);
  };
  createInterface({ input: proc.stdout }).on('line', (text) => {
    let line: ChildLine;
    try {
      line = JSON.parse(text) as ChildLine;
    } catch {
      fail(new Error(`child wrote a line that is not JSON: ${text}`));
      return;
    }
    lines.push(line);
    const count = seen(line.type).length;
    for (const w of waiters.filter((w) => w.type === line.type && w.nth === count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(line);
    }
  });
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' (not 'exit'): stdout has ended, so every line the child wrote has been read.
    proc.on('close', (code, signal) => {
      started.delete(proc);
      clearTimeout(timer);
      setImmediate(() => fail(new Error(`tree child exited (code ${code}, signal ${signal}); stderr: ${stderr}`)));
      resolve({ code, signal });
    });
  });
  proc.stdin.on('error', () => undefined); // a write to a child that just died: its exit is reported instead
  return {
    proc,
    lines,
    start(options, timeoutMs) {
      proc.stdin.write(`${JSON.stringify(options)}\n`);
      timer = setTimeout(() => {
        proc.kill('SIGKILL');
        fail(new Error(`tree child did not finish within ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
    },
    waitFor(type, nth = 1) {
      const line = seen(type)[nth - 1];
      if (line !== undefined) return Promise.resolve(line);
      if (failure !== undefined) return Promise.reject(failure);
      return new Promise((resolve, reject) => waiters.push({ type, nth, resolve, reject }));
    },
    async kill() {
      proc.kill('SIGKILL');
      const { signal } = await closed;
      return { signal };
    },
    stderr: () => stderr,
  };
}

/**
 * Counts the raw history points of each series per 1-minute bucket, straight from the `history`
 * chunks. `queryRange` shows a rollup only where no raw point is left, so a bucket that was
 * both folded into a rollup and kept raw (counted twice) would be invisible through it.
 * Open it only while no MetricStore of this process has `dataDir` open.
 * @returns series id -> bucket start -> [count, sum]
 */
export async function rawPointsByBucket(
  dataDir: string,
  bucketMs: number,
): Promise<Map<number, Map<number, [number, number]>>> {
  // The store's env options (lmdb-store.ts ENV_OPTIONS); useRecords is missing from lmdb's typings.
  const env = open({ path: dataDir, readOnly: true, maxDbs: 64, useRecords: false } as Parameters<typeof open>[0] &
    object);
  try {
    const { history } = openChunkDatabases(env);
    const out = new Map<number, Map<number, [number, number]>>();
    // An open start would not encode with this key encoder (it yields nothing); series ids start at 1.
    for (const { key, value: chunk } of history.getRange({ start: [1] as unknown as SeriesTimeKey })) {
      const id = key[0];
      let series = out.get(id);
      if (series === undefined) out.set(id, (series = new Map()));
      const ts: number[] = [];
      const values: number[] = [];
      decodeChunkInto(chunk, 0, Number.MAX_SAFE_INTEGER, ts, [values]);
      for (let i = 0; i < ts.length; i++) {
        const start = ts[i]! - (ts[i]! % bucketMs);
        const cell = series.get(start) ?? [0, 0];
        cell[0] += 1;
        cell[1] += values[i]!;
        series.set(start, cell);
      }
    }
    return out;
  } finally {
    await env.close();
  }
}
