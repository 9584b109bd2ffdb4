/**
 * End to end: a node:http service (bench/e2e-server.ts, in its own process) under a bounded
 * loopback load from autocannon (10 connections, a fixed number of seconds per run), plain and
 * instrumented (`startMonitoring` with the full tree and process metrics, plus
 * `mon.instrument.http(server)`). The two alternate (plain, instrumented, plain, instrumented...)
 * so that drift in the shared machine's load hits both alike; each run gets a fresh server
 * process and a one-second warm-up first. Latency percentiles come from autocannon's per-response
 * times (fractional ms; its own result histogram keeps whole ms only).
 */
import autocannon from 'autocannon';
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Check, median, quantile, type SuiteOptions, type SuiteResult } from './harness.js';

/** SPEC §10: the instrumented service serves at least this fraction of the plain one's throughput. */
export const THROUGHPUT_TARGET = 0.95;
const CONNECTIONS = 10;

type Mode = 'plain' | 'instrumented';

interface Run {
  mode: Mode;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  rssBytes: number;
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

async function measure(mode: Mode, seconds: number): Promise<Run> {
  const { child, port } = await startServer(mode);
  try {
    await load(port, 1);
    const r = await load(port, seconds);
    const rssBytes = await stopServer(child);
    return { mode, requestsPerSecond: r.ok / r.durationS, p50Ms: quantile(r.latencies, 0.5), p99Ms: quantile(r.latencies, 0.99), errors: r.errors, rssBytes };
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

export async function endToEndSuite(options: SuiteOptions): Promise<SuiteResult> {
  const seconds = options.quick ? 3 : 5;
  const rounds = options.quick ? 2 : 3;
  const runs: Run[] = [];
  for (let r = 0; r < rounds; r++) {
    runs.push(await measure('plain', seconds));
    runs.push(await measure('instrumented', seconds));
  }
  const of = (mode: Mode) => runs.filter((r) => r.mode === mode);
  const summary = (mode: Mode) => ({
    rps: median(of(mode).map((r) => r.requestsPerSecond)),
    p50: median(of(mode).map((r) => r.p50Ms)),
    p99: median(of(mode).map((r) => r.p99Ms)),
    rss: median(of(mode).map((r) => r.rssBytes)),
    errors: of(mode).reduce((n, r) => n + r.errors, 0),
  });
  const plain = summary('plain');
  const inst = summary('instrumented');
  // Paired per round: each instrumented run against the plain run just before it.
  const pairedRatios = of('instrumented').map((r, i) => r.requestsPerSecond / of('plain')[i]!.requestsPerSecond);
  const ratio = median(pairedRatios);
  const pct = (a: number, b: number) => `${(((a - b) / b) * 100).toFixed(1)}%`;
  const perRun = (mode: Mode) => of(mode).map((r) => `${(r.requestsPerSecond / 1000).toFixed(1)}k`).join(', ');
  const table = [
    `| service | requests/s, median of ${rounds} (each run) | p50 | p99 | RSS at the end | errors |`,
    '|---|---|---|---|---|---|',
    `| plain node:http | ${(plain.rps / 1000).toFixed(1)} k/s (${perRun('plain')}) | ${plain.p50.toFixed(2)} ms | ${plain.p99.toFixed(2)} ms | ${(plain.rss / 2 ** 20).toFixed(0)} MiB | ${plain.errors} |`,
    `| instrumented, full tree running | ${(inst.rps / 1000).toFixed(1)} k/s (${perRun('instrumented')}) | ${inst.p50.toFixed(2)} ms | ${inst.p99.toFixed(2)} ms | ${(inst.rss / 2 ** 20).toFixed(0)} MiB | ${inst.errors} |`,
    `| overhead | ${pct(inst.rps, plain.rps)} throughput (paired median ratio ${ratio.toFixed(3)}) | ${pct(inst.p50, plain.p50)} | ${pct(inst.p99, plain.p99)} | | |`,
  ].join('\n');
  const checks: Check[] = [
    { name: 'instrumented / plain throughput (paired median)', measured: ratio * 100, target: THROUGHPUT_TARGET * 100, better: 'higher', margin: 0.02, unit: '%' },
  ];
  return {
    suite: 'End to end (bench/e2e.bench.ts)',
    rows: [],
    table,
    notes: [
      `autocannon, ${CONNECTIONS} keep-alive connections to 127.0.0.1, ${seconds} s per run after a 1 s warm-up, ${rounds} rounds of plain then instrumented, each in a fresh server process. ` +
        'The handler answers a 50-byte JSON body, so the figures are the worst case for relative overhead.',
    ],
    checks,
    figures: { runs },
  };
}
