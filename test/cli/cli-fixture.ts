/**
 * Helpers for the CLI tests: the built `erlmcp-monitor` binary run to its end, and child
 * processes (a live writer) with line-based stdout and a hard timeout.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { CliIo } from '../../src/cli/command.js';
import { runCli } from '../../src/cli/run-cli.js';

/** The compiled CLI as package.json's `bin` names it. `npm test` builds it before vitest runs. */
export const BIN = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

export function assertBuilt(): void {
  if (!fs.existsSync(BIN))
    throw new Error(`${BIN} is missing: run \`npx tsc -p tsconfig.build.json\` (npm test does) before these tests`);
}

export interface BinRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node dist/src/cli/main.js ...args` to its end (SIGKILLed after `timeoutMs`), never rejecting. */
export function runBin(args: string[], timeoutMs = 30_000): Promise<BinRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr }),
    );
  });
}

const running = new Set<ChildProcessWithoutNullStreams>();

/** SIGKILLs every child still running and waits for them (for afterEach). */
export async function killChildren(): Promise<void> {
  const exits = [...running].map((proc) => new Promise((resolve) => proc.once('close', resolve)));
  for (const proc of running) proc.kill('SIGKILL');
  await Promise.all(exits);
}

export interface LineChild {
  readonly proc: ChildProcessWithoutNullStreams;
  /** Every stdout line so far. */
  readonly lines: string[];
  stderr(): string;
  /** Resolves with the exit code once the child has exited and its output is read. */
  readonly exited: Promise<number | null>;
}

/**
 * Spawns `node <file> ...args` (a fixture in `fixtures/`, or the CLI binary); SIGKILLed after
 * `timeoutMs` so a hung child fails the test instead of hanging it.
 */
export function spawnChild(file: string, args: string[], timeoutMs: number): LineChild {
  const proc = spawn(process.execPath, [file, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(proc);
  const lines: string[] = [];
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (chunk: string) => (stderr += chunk));
  createInterface({ input: proc.stdout }).on('line', (line) => lines.push(line));
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<number | null>((resolve) => {
    proc.on('close', (code) => {
      running.delete(proc);
      clearTimeout(timer);
      resolve(code);
    });
  });
  return { proc, lines, stderr: () => stderr, exited };
}

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** The CLI run in this process (no build needed), its output collected; the clock is 6 Dec 2026. */
export async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (t) => (out += t),
    err: (t) => (err += t),
    now: () => Date.UTC(2026, 11, 6),
    signal: new AbortController().signal,
    env: {},
  };
  const code = await runCli(argv, io);
  return { code, out, err };
}
