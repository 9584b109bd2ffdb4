/**
 * `node dist/bench/e2e-attribution.js [--rounds N] [--seconds S] [mode...]`: where the end-to-end
 * overhead of the instrumented service goes (a diagnostic, not part of `npm run bench`).
 *
 * One service process per mode (bench/e2e-server.ts; default: `plain`, a second `plain` for the
 * A/A noise, `http-only`, the tree grown one part at a time, and the full `instrumented` tree) all
 * run side by side. Each round sends one autocannon burst to each in turn, in the orders of a
 * balanced Latin square (`balancedOrder`). Around every burst, every service's CPU time is read from
 * /proc/<pid>/task/<tid>/stat, per thread, user and system apart:
 * - the loaded service's CPU per request, main thread (user, system) and the other threads by name;
 * - the other, idle services' CPU per second of wall time: the tree's own cost without load.
 * Each mode's figures are compared with the plain burst of the same round (paired), and the
 * median and the quartiles of the paired differences are printed next to the plain-vs-plain A/A.
 *
 * `--profile S [mode...]` instead runs each mode (default `instrumented`, `http-only`) alone under
 * `node --cpu-prof`, loads it for 12 s of warm-up and then S s, and prints what share of the busy
 * main-thread time of those S s went into each of the library's modules (bench/cpu-profile-shares.ts).
 * Shares within one profile hold however much CPU the machine gave the process, so this attributes
 * the main-thread cost even when the machine is too loaded for timings to mean much.
 */
import { performance } from 'node:perf_hooks';
import {
  cpuBetween,
  type CpuSplit,
  load,
  type ProcessCpu,
  profileService,
  readProcessCpu,
  requestsServed,
  type Service,
  startService,
  stopService,
} from './e2e-control.js';
import { balancedOrder, median, quantile } from './harness.js';

const DEFAULT_MODES = [
  'plain',
  'plain#2',
  'http-only',
  'tree:collector',
  'tree:collector,process',
  'tree:collector,process,flush',
  'tree:collector,process,flush,perf',
  'tree:collector,process,flush,perf,alerting',
  'tree:collector,process,flush,perf,alerting,dashboard',
  'instrumented',
];

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`${name} needs a positive number, got ${args[i + 1]}`);
    process.exit(2);
  }
  args.splice(i, 2);
  return value;
};
const profileSeconds = option('--profile', 0);
if (profileSeconds > 0) {
  await profileModes(args.length > 0 ? args : ['instrumented', 'http-only'], profileSeconds);
  process.exit(0);
}
const rounds = option('--rounds', 8);
const seconds = option('--seconds', 2);
const idleSeconds = option('--idle', 20);
const rateOption = option('--rate', 0);
const rate = rateOption > 0 ? rateOption : undefined;
// `mode#n` runs another copy of `mode` under its own name (for A/A comparisons).
const modes = args.length > 0 ? args : DEFAULT_MODES;
if (!modes.includes('plain')) modes.unshift('plain');

interface Burst {
  mode: string;
  round: number;
  rps: number;
  requests: number;
  cpu: CpuSplit;
}

const services = new Map<string, Service>();
/** Each service's threads just after it started (the others are started later: libuv pool, worker threads). */
const startup = new Map<string, ProcessCpu>();
for (const mode of modes) {
  const service = await startService(mode.split('#')[0]!);
  services.set(mode, service);
  const threads = readProcessCpu(service.child.pid!);
  if (threads === undefined) throw new Error('per-thread CPU needs Linux /proc');
  startup.set(mode, threads);
}
const lastStarted = performance.now();
const bursts: Burst[] = [];
/** Idle CPU of each service while another was loaded: CPU ms and wall seconds, summed. */
const idle = new Map<string, { cpuMs: number; wallS: number }>(modes.map((m) => [m, { cpuMs: 0, wallS: 0 }]));
const read = () => new Map([...services].map(([m, s]) => [m, readProcessCpu(s.child.pid!)] as const));
/** CPU of each service with no load at all, over `idleSeconds`, main thread and others. */
const quiet = new Map<string, CpuSplit>();
try {
  for (const [, s] of services) await load(s.port, 1);
  // Past every tree's first aggregation flush (10 s after its start; it starts the store's writer
  // thread), so the idle figures are the steady state.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, lastStarted + 12_000 - performance.now())));
  const before = read();
  const t0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
  const quietS = (performance.now() - t0) / 1000;
  const after = read();
  for (const [m, s] of services) quiet.set(m, cpuBetween(s.child.pid!, before.get(m)!, after.get(m)!, startup.get(m)!));
  process.stderr.write(`idle ${quietS.toFixed(1)} s measured\n`);
  for (let round = 0; round < rounds; round++) {
    for (const mode of balancedOrder(modes.length, round).map((i) => modes[i]!)) {
      const service = services.get(mode)!;
      const servedBefore = await requestsServed(service.child);
      const before = read();
      const t0 = performance.now();
      const r = await load(service.port, seconds, rate);
      const wallS = (performance.now() - t0) / 1000;
      const after = read();
      const served = (await requestsServed(service.child)) - servedBefore;
      for (const [m, s] of services) {
        const b = before.get(m);
        const a = after.get(m);
        if (b === undefined || a === undefined) throw new Error('per-thread CPU needs Linux /proc');
        const cpu = cpuBetween(s.child.pid!, b, a, startup.get(m)!);
        if (m === mode) bursts.push({ mode, round, rps: r.ok / r.durationS, requests: served, cpu });
        else {
          const sum = idle.get(m)!;
          sum.cpuMs += cpu.totalMs;
          sum.wallS += wallS;
        }
      }
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`);
  }
} finally {
  for (const [, s] of services) await stopService(s.child);
}

const perReq = (b: Burst, ms: number) => (ms * 1000) / b.requests;
const of = (mode: string) => bursts.filter((b) => b.mode === mode);
const plainOf = (round: number) => bursts.find((b) => b.mode === 'plain' && b.round === round)!;
const spread = (xs: number[], digits = 1) =>
  `${median(xs).toFixed(digits)} (${quantile(xs, 0.25).toFixed(digits)} … ${quantile(xs, 0.75).toFixed(digits)})`;
const pctDiff = (xs: number[]) => `${spread(xs.map((x) => (x - 1) * 100))}%`;

const lines = [
  `Attribution: ${rounds} rounds of ${seconds} s bursts${rate === undefined ? '' : ` at ${rate} requests/s`}, ${modes.length} services; figures are medians (quartiles) over the rounds; "paired" = against the plain burst of the same round.`,
  '',
  '| mode | req/s | paired throughput | CPU µs/req | paired CPU/req | main user µs/req | main sys µs/req | other threads µs/req | idle CPU ms/s (summed) |',
  '|---|---|---|---|---|---|---|---|---|',
];
for (const mode of modes) {
  const bs = of(mode);
  const others = bs.map((b) => b.cpu.totalMs - b.cpu.mainUserMs - b.cpu.mainSystemMs);
  const idleCpu = idle.get(mode)!;
  lines.push(
    `| ${mode} | ${(median(bs.map((b) => b.rps)) / 1000).toFixed(1)}k | ${pctDiff(bs.map((b) => b.rps / plainOf(b.round).rps))} | ${spread(bs.map((b) => perReq(b, b.cpu.totalMs)))} | ${pctDiff(bs.map((b) => perReq(b, b.cpu.totalMs) / perReq(plainOf(b.round), plainOf(b.round).cpu.totalMs)))} | ${spread(bs.map((b) => perReq(b, b.cpu.mainUserMs)))} | ${spread(bs.map((b) => perReq(b, b.cpu.mainSystemMs)))} | ${spread(
      bs.map((b, i) => perReq(b, others[i]!)),
      2,
    )} | ${(idleCpu.cpuMs / idleCpu.wallS).toFixed(2)} |`,
  );
}
lines.push(
  '',
  'Other threads, CPU µs per request, summed over the rounds (startup: threads there when the service had started, i.e. V8 platform workers; later: libuv pool, worker threads):',
  '',
  '| mode | startup user | startup sys | later user | later sys |',
  '|---|---|---|---|---|',
);
for (const mode of modes) {
  const bs = of(mode);
  const requests = bs.reduce((n, b) => n + b.requests, 0);
  const sum = (f: (c: CpuSplit) => number) => ((bs.reduce((n, b) => n + f(b.cpu), 0) * 1000) / requests).toFixed(2);
  lines.push(
    `| ${mode} | ${sum((c) => c.others.startup.userMs)} | ${sum((c) => c.others.startup.systemMs)} | ${sum((c) => c.others.later.userMs)} | ${sum((c) => c.others.later.systemMs)} |`,
  );
}
lines.push(
  '',
  `No load at all, ${idleSeconds} s, all services at once, from 12 s after the last one started: CPU ms per second of wall time.`,
  '',
  '| mode | total | main user | main sys | startup threads | later threads |',
  '|---|---|---|---|---|---|',
);
for (const mode of modes) {
  const q = quiet.get(mode)!;
  const f = (ms: number) => (ms / idleSeconds).toFixed(2);
  lines.push(
    `| ${mode} | ${f(q.totalMs)} | ${f(q.mainUserMs)} | ${f(q.mainSystemMs)} | ${f(q.others.startup.userMs + q.others.startup.systemMs)} | ${f(q.others.later.userMs + q.others.later.systemMs)} |`,
  );
}
console.log(lines.join('\n'));

/** `--profile`: each mode alone under --cpu-prof; the library's share of the busy main thread. */
async function profileModes(modes: string[], seconds: number): Promise<void> {
  const lines = [
    `CPU profiles: each service alone, 12 s of load to warm up, then ${seconds} s measured (shares of the busy main-thread time of those ${seconds} s, inclusive).`,
    '',
    '| mode | busy ms | requests | library | GC | top modules of the library (ms, share) |',
    '|---|---|---|---|---|---|',
  ];
  for (const mode of modes) {
    const { shares, served } = await profileService(mode, 12_000, seconds);
    const share = (ms: number) => `${((ms / shares.busyMs) * 100).toFixed(2)}%`;
    const top = shares.modules
      .slice(0, 8)
      .map(([m, ms]) => `${m} ${ms.toFixed(0)} (${share(ms)})`)
      .join('; ');
    lines.push(
      `| ${mode} | ${shares.busyMs.toFixed(0)} | ${served} | ${shares.libraryMs.toFixed(0)} ms (${share(shares.libraryMs)}) | ${share(shares.gcMs)} | ${top} |`,
    );
  }
  console.log(lines.join('\n'));
}
