/**
 * What the end-to-end benches share: starting and stopping a service process (bench/e2e-server.ts),
 * a bounded autocannon burst against it, and the service's CPU time read from outside, per thread
 * and split into user and system time, from Linux's /proc/<pid>/task/<tid>/stat.
 */
import autocannon from 'autocannon';
import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { profileShares, type ProfileShares } from './cpu-profile-shares.js';

/** Keep-alive connections of every burst. */
export const CONNECTIONS = 10;

/**
 * Pins every thread of process `pid` to CPU `cpu` with `taskset` (Linux, at least 2 CPUs): the
 * servers on one core and the load generator on another, so the two never queue for one core
 * (other processes of the machine still can). Returns whether it pinned.
 */
export function pin(pid: number, cpu: number): boolean {
  if (os.cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false; // no taskset (not Linux, or not installed): unpinned
  }
}

/** The CPU the services are pinned to when `E2E_PIN` is on (see {@link pin}); the load generator takes the next one. */
export const SERVER_CPU = 0;
/** Whether benches pin: on unless `E2E_PIN=0`. */
export const PINNING = process.env.E2E_PIN !== '0';

export interface Service {
  child: ChildProcess;
  port: number;
}

/** The service process's CPU time so far (ms), asked over its IPC channel. */
export function cpuMsOf(service: Service): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: { usage?: { cpuMs: number } }) => {
      if (m?.usage === undefined) return;
      service.child.off('message', on);
      resolve(m.usage.cpuMs);
    };
    service.child.on('message', on);
    service.child.send({ type: 'usage' });
  });
}

/**
 * Forks bench/e2e-server.js in `mode` (with Node flags `execArgv`, e.g. `--cpu-prof`) and waits until
 * it listens; `pipeStdout` gives the parent its stdout (`child.stdout`, e.g. for `--trace-gc-nvp`).
 */
export async function startService(mode: string, execArgv: string[] = [], pipeStdout = false): Promise<Service> {
  const child = fork(fileURLToPath(new URL('./e2e-server.js', import.meta.url)), [mode], {
    stdio: ['ignore', pipeStdout ? 'pipe' : 'inherit', 'inherit', 'ipc'],
    execArgv,
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port?: number }) =>
      typeof m?.port === 'number' ? resolve(m.port) : reject(new Error(`e2e server sent ${JSON.stringify(m)}`)),
    );
    child.once('exit', (code) => reject(new Error(`e2e server (${mode}) exited with ${code} before listening`)));
  });
  // Pinned once listening: its threads (V8's, libuv's) exist by then; a worker started later
  // (the store's writer) inherits the main thread's mask.
  if (PINNING) pin(child.pid!, SERVER_CPU);
  return { child, port };
}

/** Stops the service (killed after 10 s); resolves with its RSS just before it stopped (NaN if unknown). */
export async function stopService(child: ChildProcess): Promise<number> {
  return new Promise<number>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('message', (m: { stopped?: boolean; rssBytes?: number }) => {
      if (m?.stopped) resolve(m.rssBytes ?? Number.NaN);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(Number.NaN);
    });
    child.send({ type: 'stop' });
  });
}

export interface LoadResult {
  ok: number;
  errors: number;
  durationS: number;
  /** Per-response latency, ms (fractional; autocannon's own histogram keeps whole ms). */
  latencies: number[];
}

/** One autocannon burst of `seconds` against 127.0.0.1:`port`, as fast as it answers or at `rate` requests/s. */
export function load(port: number, seconds: number, rate?: number): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon(
      {
        url: `http://127.0.0.1:${port}/`,
        connections: CONNECTIONS,
        duration: seconds,
        ...(rate === undefined ? {} : { overallRate: rate }),
      },
      (err, result) => {
        if (err) reject(err);
        else
          resolve({
            ok: result['2xx'],
            errors: result.errors + result.timeouts + result.non2xx,
            durationS: result.duration,
            latencies,
          });
      },
    );
    instance.on('response', (_c, status, _b, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

/**
 * Runs the service in `mode` alone under `node --cpu-prof`, loads it for `warmUpMs` and then for
 * `seconds`, and returns the library's shares of the busy main-thread time of those seconds.
 */
export async function profileService(
  mode: string,
  warmUpMs: number,
  seconds: number,
): Promise<{ shares: ProfileShares; served: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-e2e-prof-'));
  try {
    const t0 = performance.now();
    const service = await startService(mode, ['--cpu-prof', `--cpu-prof-dir=${dir}`]);
    const warmUntil = performance.now() + warmUpMs;
    while (performance.now() < warmUntil) await load(service.port, 2);
    // The profile's clock starts after the process's own start-up, so this keeps a little of the warm-up.
    const skipMs = performance.now() - t0;
    const servedBefore = await requestsServed(service.child);
    await load(service.port, seconds);
    const served = (await requestsServed(service.child)) - servedBefore;
    const exited = new Promise((resolve) =>
      service.child.exitCode !== null ? resolve(undefined) : service.child.once('exit', resolve),
    );
    await stopService(service.child);
    await exited; // the profile is written as the process exits
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (file === undefined) throw new Error(`no CPU profile written by the ${mode} service`);
    return { shares: profileShares(path.join(dir, file), skipMs), served };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Requests the service has answered so far (asked over IPC). */
export function requestsServed(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    const on = (m: { usage?: { cpuMs: number; requests: number } }) => {
      if (m?.usage === undefined) return;
      child.off('message', on);
      resolve(m.usage.requests);
    };
    child.on('message', on);
    child.send({ type: 'usage' });
  });
}

/** CPU time of one thread, ms. */
export interface ThreadCpu {
  name: string;
  userMs: number;
  systemMs: number;
}

/** CPU time of a process by thread id (the main thread's id is the pid), or undefined off Linux. */
export type ProcessCpu = Map<number, ThreadCpu>;

const TICK_MS = 10; // USER_HZ is 100 on every Linux this runs on (getconf CLK_TCK)

/** Reads every thread's utime and stime of process `pid` from /proc. Undefined where /proc is absent. */
export function readProcessCpu(pid: number): ProcessCpu | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const threads: ProcessCpu = new Map();
  for (const tid of tids) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    // "tid (comm) state ...": comm may hold spaces and parentheses, so split at the last ')'.
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const fields = stat.slice(close + 2).split(' ');
    // After comm: state is field 3, utime 14 and stime 15 (1-based over the whole line).
    threads.set(Number(tid), { name, userMs: Number(fields[11]) * TICK_MS, systemMs: Number(fields[12]) * TICK_MS });
  }
  return threads;
}

/** What a thread group used between two readings. */
export interface CpuSplit {
  /** The main (event-loop) thread. */
  mainUserMs: number;
  mainSystemMs: number;
  /**
   * The other threads, in two groups (Node 20 leaves them all named "node"): `startup` (those
   * already there when `startup` was read: V8's platform workers) and `later` (started since:
   * the libuv pool, worker threads such as the store's writer).
   */
  others: Record<'startup' | 'later', { userMs: number; systemMs: number }>;
  totalMs: number;
}

/**
 * The CPU `pid` used between `before` and `after`, main thread apart from the others (threads that
 * ended in between are lost). `startup` is a reading taken when the process had just started.
 */
export function cpuBetween(pid: number, before: ProcessCpu, after: ProcessCpu, startup: ProcessCpu): CpuSplit {
  const split: CpuSplit = {
    mainUserMs: 0,
    mainSystemMs: 0,
    others: { startup: { userMs: 0, systemMs: 0 }, later: { userMs: 0, systemMs: 0 } },
    totalMs: 0,
  };
  for (const [tid, now] of after) {
    const then = before.get(tid) ?? { userMs: 0, systemMs: 0 };
    const userMs = now.userMs - then.userMs;
    const systemMs = now.systemMs - then.systemMs;
    split.totalMs += userMs + systemMs;
    if (tid === pid) {
      split.mainUserMs = userMs;
      split.mainSystemMs = systemMs;
    } else {
      const group = split.others[startup.has(tid) ? 'startup' : 'later'];
      group.userMs += userMs;
      group.systemMs += systemMs;
    }
  }
  return split;
}
