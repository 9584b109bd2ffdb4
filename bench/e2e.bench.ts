/**
 * End to end: a node:http service (bench/e2e-server.ts) under a bounded loopback load from
 * autocannon (10 connections, a fixed number of seconds per burst), plain and instrumented
 * (`startMonitoring` with the full tree and process metrics, plus `mon.instrument.http(server)`).
 * A third service, `instrument.http` on a bare table without the tree, tells the per-request
 * cost from the tree's. The servers run side by side in their own processes, and short bursts
 * go to each in turn, the order reversed every other round (A B C, C B A, ...): on a shared
 * machine the load from other processes drifts within seconds, and only neighbouring bursts see
 * the same conditions, so the targets are checked on the median of each round's paired ratios
 * (each service's best burst is printed too). Server CPU per request is read in the server
 * process around each burst: throughput at saturation on a core of its own is its inverse.
 * Latency percentiles come from autocannon's per-response times (fractional ms; its own result
 * histogram keeps whole ms).
 */
import autocannon from 'autocannon';
import { type ChildProcess, fork } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { type Check, median, quantile, type SuiteOptions, type SuiteResult } from './harness.js';

/** SPEC §10: the instrumented service serves at least this fraction of the plain one's throughput. */
export const THROUGHPUT_TARGET = 0.95;
const CONNECTIONS = 10;

/** `http-only`: `instrumentHttp` on a bare metric table, no tree: splits the overhead into the per-request part and the tree's. */
type Mode = 'plain' | 'instrumented' | 'http-only';
const MODES: Mode[] = ['plain', 'instrumented', 'http-only'];

interface Run {
  mode: Mode;
  requestsPerSecond: number;
  /** Server process CPU time per request answered during the burst (µs). */
  cpuUsPerRequest: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

async function startServer(mode: Mode): Promise<{ child: ChildProcess; port: number }> {
  const child = fork(fileURLToPath(new URL('./e2e-server.js', import.meta.url)), [mode], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m: { port?: number }) => (typeof m?.port === 'number' ? resolve(m.port) : reject(new Error(`e2e server sent ${JSON.stringify(m)}`))));
    child.once('exit', (code) => reject(new Error(`e2e server (${mode}) exited with ${code} before listening`)));
  });
  return { child, port };
}

async function stopServer(child: ChildProcess): Promise<number> {
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

function load(port: number, seconds: number): Promise<{ ok: number; errors: number; durationS: number; latencies: number[] }> {
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon({ url: `http://127.0.0.1:${port}/`, connections: CONNECTIONS, duration: seconds }, (err, result) => {
      if (err) reject(err);
      else resolve({ ok: result['2xx'], errors: result.errors + result.timeouts + result.non2xx, durationS: result.duration, latencies });
    });
    instance.on('response', (_c, status, _b, ms) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

function usage(child: ChildProcess): Promise<{ cpuMs: number; requests: number }> {
  return new Promise((resolve) => {
    const on = (m: { usage?: { cpuMs: number; requests: number } }) => {
      if (m?.usage === undefined) return;
      child.off('message', on);
      resolve(m.usage);
    };
    child.on('message', on);
    child.send({ type: 'usage' });
  });
}

async function burst(mode: Mode, server: { child: ChildProcess; port: number }, seconds: number): Promise<Run> {
  const before = await usage(server.child);
  const r = await load(server.port, seconds);
  const after = await usage(server.child);
  const cpuUsPerRequest = ((after.cpuMs - before.cpuMs) * 1000) / (after.requests - before.requests);
  return { mode, requestsPerSecond: r.ok / r.durationS, cpuUsPerRequest, p50Ms: quantile(r.latencies, 0.5), p99Ms: quantile(r.latencies, 0.99), errors: r.errors };
}

/** The end-to-end suite: plain, instrumented and instrument.http-only services under autocannon bursts. */
export async function endToEndSuite(options: SuiteOptions): Promise<SuiteResult> {
  const seconds = options.quick ? 1 : 2;
  const pairs = options.quick ? 4 : 10;
  const loadBefore = os.loadavg()[0]!;
  const servers = { plain: await startServer('plain'), instrumented: await startServer('instrumented'), 'http-only': await startServer('http-only') };
  const runs: Run[] = [];
  const rss: Record<Mode, number> = { plain: Number.NaN, instrumented: Number.NaN, 'http-only': Number.NaN };
  try {
    for (const mode of MODES) await load(servers[mode].port, 1);
    for (let p = 0; p < pairs; p++) {
      const order: Mode[] = p % 2 === 0 ? MODES : [...MODES].reverse();
      for (const mode of order) runs.push(await burst(mode, servers[mode], seconds));
    }
  } finally {
    for (const mode of MODES) rss[mode] = await stopServer(servers[mode].child);
  }
  const loadAfter = os.loadavg()[0]!;
  const of = (mode: Mode) => runs.filter((r) => r.mode === mode);
  const summary = (mode: Mode) => ({
    rps: median(of(mode).map((r) => r.requestsPerSecond)),
    min: Math.min(...of(mode).map((r) => r.requestsPerSecond)),
    best: Math.max(...of(mode).map((r) => r.requestsPerSecond)),
    cpu: median(of(mode).map((r) => r.cpuUsPerRequest)),
    bestCpu: Math.min(...of(mode).map((r) => r.cpuUsPerRequest)),
    p50: median(of(mode).map((r) => r.p50Ms)),
    p99: median(of(mode).map((r) => r.p99Ms)),
    errors: of(mode).reduce((n, r) => n + r.errors, 0),
  });
  const plain = summary('plain');
  const inst = summary('instrumented');
  const httpOnly = summary('http-only');
  // Paired: each round's instrumented (or http-only) burst against the plain burst of the same
  // round, which ran next to it in time and so under the same load from other processes.
  const paired = (mode: Mode, f: (r: Run) => number) => of(mode).map((r, i) => f(r) / f(of('plain')[i]!));
  const pairedRatios = paired('instrumented', (r) => r.requestsPerSecond);
  const ratio = median(pairedRatios);
  // At saturation on a core of its own a service's throughput is 1 / (CPU per request), so this
  // is the throughput a CPU-bound service keeps; the load generator shares the cores here, so the
  // raw throughput ratio can hide a cost that this shows.
  const cpuRatios = paired('instrumented', (r) => r.cpuUsPerRequest);
  const cpuRatio = 1 / median(cpuRatios);
  const httpOnlyCpu = median(paired('http-only', (r) => r.cpuUsPerRequest));
  const p99Ratio = median(paired('instrumented', (r) => r.p99Ms));
  const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
  const k = (n: number) => `${(n / 1000).toFixed(1)}k`;
  const row = (name: string, m: typeof plain, mode: Mode) =>
    `| ${name} | ${k(m.best)}/s | ${k(m.rps)}/s (${k(m.min)}–${k(m.best)}) | ${m.bestCpu.toFixed(1)} µs (${m.cpu.toFixed(1)} µs) | ${m.p50.toFixed(2)} ms | ${m.p99.toFixed(2)} ms | ${(rss[mode] / 2 ** 20).toFixed(0)} MiB | ${m.errors} |`;
  const table = [
    `| service | requests/s, best burst | median of ${pairs} bursts (min–max) | server CPU per request, best (median) | p50 | p99 | RSS at the end | errors |`,
    '|---|---|---|---|---|---|---|---|',
    row('plain node:http', plain, 'plain'),
    row('instrumented, full tree running', inst, 'instrumented'),
    row('instrument.http only, no tree (diagnostic)', httpOnly, 'http-only'),
    `| instrumented vs plain, median of paired rounds | ${pct(inst.best / plain.best)} (best bursts) | ${pct(ratio)} | ${pct(1 / cpuRatio)} (best bursts: ${pct(inst.bestCpu / plain.bestCpu)}) | | ${pct(p99Ratio)} | | |`,
    `| instrument.http only vs plain, median of paired rounds | | | ${pct(httpOnlyCpu)} | | | | |`,
  ].join('\n');
  const checks: Check[] = [
    { name: 'instrumented / plain throughput (median of paired rounds)', measured: ratio * 100, target: THROUGHPUT_TARGET * 100, better: 'higher', margin: 0.02, unit: '%' },
    { name: 'instrumented / plain CPU-bound throughput (1 / median paired ratio of server CPU per request)', measured: cpuRatio * 100, target: THROUGHPUT_TARGET * 100, better: 'higher', margin: 0.02, unit: '%' },
  ];
  return {
    suite: 'End to end (bench/e2e.bench.ts)',
    rows: [],
    table,
    notes: [
      `autocannon, ${CONNECTIONS} keep-alive connections to 127.0.0.1, ${pairs} rounds of ${seconds} s bursts to each server (order reversed every other round) after a 1 s warm-up of each. ` +
        'The handler answers a 50-byte JSON body, so the relative overhead is the worst case. ' +
        'Server CPU per request is measured in the server process around each burst. On a shared machine the other processes swing every raw figure, ' +
        'so the targets are checked on the median of the rounds\' paired ratios (each burst against the plain burst next to it). Paired throughput ratios, round by round: ' +
        pairedRatios.map((x) => x.toFixed(2)).join(', ') +
        '; paired CPU-per-request ratios: ' +
        cpuRatios.map((x) => x.toFixed(2)).join(', ') +
        `. Machine load average (1 min) ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after, on ${os.cpus().length} cores.`,
    ],
    checks,
    figures: { runs, pairedRatios, cpuRatios, rssBytes: rss },
  };
}
