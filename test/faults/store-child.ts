/**
 * Child processes opening a data dir (`fixtures/store-open-child.mjs`, plain ESM on the compiled
 * `dist/`): a damaged file that faults LMDB kills only the child, and the test sees the signal.
 * A child may run under a wrapper such as `unshare --uts` (another host name) or `unshare --pid --fork`.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./fixtures/store-open-child.mjs', import.meta.url));
const BUILT_INDEX = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
/** A child that has not exited by then is SIGKILLed (its own deadline is 30 s). */
const HARD_TIMEOUT_MS = 45_000;

/** Fails clearly when `dist/` is missing instead of letting the child die with a module error. */
export function assertBuilt(): void {
  if (!fs.existsSync(BUILT_INDEX)) {
    throw new Error(
      `${BUILT_INDEX} is missing: run \`npx tsc -p tsconfig.build.json\` (npm test does) before these tests`,
    );
  }
}

export type ChildLine = { type: string } & Record<string, unknown>;

export interface StoreChild {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: ChildLine[];
  /** Resolves with the first line of this type (already received or to come); rejects if the child exits first. */
  waitFor(type: string): Promise<ChildLine>;
  /** The first line of any of these types. */
  waitForAny(...types: string[]): Promise<ChildLine>;
  send(line: string): void;
  /** Settles once the child has exited and its output is read. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

/**
 * Starts the fixture with `options`, optionally under `wrapper` (argv of a command that runs the
 * rest, e.g. `['unshare', '--uts', 'sh', '-c', 'hostname x && exec "$@"', 'sh']`).
 */
export function spawnStoreChild(options: Record<string, unknown>, wrapper: readonly string[] = []): StoreChild {
  const argv = [...wrapper, process.execPath, CHILD, JSON.stringify(options)];
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: ChildLine[] = [];
  const waiters: { types: string[]; resolve: (line: ChildLine) => void; reject: (err: Error) => void }[] = [];
  let err = '';
  let done = false;
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => {
    err += chunk;
  });
  const out = createInterface({ input: proc.stdout });
  out.on('line', (text) => {
    let line: ChildLine;
    try {
      line = JSON.parse(text) as ChildLine;
    } catch {
      line = { type: 'noise', text };
    }
    lines.push(line);
    for (const w of waiters.splice(0)) {
      if (w.types.includes(line.type)) w.resolve(line);
      else waiters.push(w);
    }
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), HARD_TIMEOUT_MS);
  const outClosed = new Promise<void>((resolve) => out.once('close', resolve));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      void outClosed.then(() => {
        done = true;
        for (const w of waiters.splice(0))
          w.reject(
            new Error(
              `child exited (code ${code}, signal ${signal}) before a line of type ${w.types.join('|')}; stderr: ${err}`,
            ),
          );
        resolve({ code, signal });
      });
    });
  });
  const waitForAny = (...types: string[]): Promise<ChildLine> => {
    const seen = lines.find((l) => types.includes(l.type));
    if (seen !== undefined) return Promise.resolve(seen);
    if (done) return Promise.reject(new Error(`child exited before a line of type ${types.join('|')}; stderr: ${err}`));
    return new Promise((resolve, reject) => waiters.push({ types, resolve, reject }));
  };
  return {
    proc,
    lines,
    waitFor: (type) => waitForAny(type),
    waitForAny,
    send: (line) => {
      if (proc.stdin.writable) proc.stdin.write(`${line}\n`);
    },
    exited,
    stderr: () => err,
  };
}

/** Runs a "start" child to its end: its exit and its last line. */
export async function runStart(
  options: Record<string, unknown>,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; line: ChildLine | undefined; stderr: string }> {
  const child = spawnStoreChild({ mode: 'start', ...options });
  child.proc.stdin.end();
  const { code, signal } = await child.exited;
  return { code, signal, line: child.lines.at(-1), stderr: child.stderr() };
}

/** sha256 of a file. */
export function sha256(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/**
 * Whether `unshare` with these flags works here; the reason when it does not. Never throws: the
 * caller decides between a visible skip and a failure (REQUIRE_SYSTEM_DEPS=1).
 */
export function unshareRefused(...flags: string[]): string | undefined {
  const probe = spawnSync('unshare', [...flags, 'true'], { encoding: 'utf8', timeout: 10_000 });
  if (probe.error !== undefined) return `unshare ${flags.join(' ')} cannot run: ${probe.error.message} (util-linux)`;
  if (probe.status !== 0)
    return `unshare ${flags.join(' ')} was refused (exit ${probe.status}: ${probe.stderr.trim()}); it needs root or user namespaces`;
  return undefined;
}
