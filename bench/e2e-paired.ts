/**
 * `node dist/bench/e2e-paired.js [--preset P | --modes a,b,...] [--blocks B] [--rounds R] [--seconds S]`
 * (`--help` prints the usage): the end-to-end overhead at the precision of a 1 % change. Services
 * (bench/e2e-server.ts), by preset: `http` (default): `plain` node:http, a second `plain`
 * (`plain-b`, the A/A control), `instrumented` (the whole tree and `mon.instrument.http`);
 * `fastify`: `fastify-plain`, a second one (`fastify-plain-b`, its A/A), `fastify-route`
 * (`instrumentHttp` with `fastifyRoute`); `all`: both sets in one run (fewer rounds per minute).
 * A mode ending in `-b` is a second process of the mode before it. Every round sends one burst of
 * S seconds (autocannon, 10 connections) to each, in the orders of a balanced Latin square, and
 * pairs each with its baseline's burst of the same round (`plain`, or `fastify-plain` for a
 * Fastify mode). Fresh processes every block of R rounds
 * (warmed past the tree's first flush). The services are pinned to one core and this process (the
 * load generator) to the other with `taskset` (off with `E2E_PIN=0`), so they never queue for the
 * same core; other processes on the machine still can, hence the A/A control, and the load
 * average printed with every figure.
 *
 * Reports per pair the paired ratio of throughput, server CPU per request and p99 latency: the
 * Hodges–Lehmann estimate with the 95 % interval of the signed-rank test (bench/harness.ts
 * `hodgesLehmann`; the sign-based median interval, a fifth wider, is printed for the A/A too).
 * `--json F` also writes every burst to F.
 */
import os from 'node:os';
import {
  cpuMsOf,
  load,
  pin,
  PINNING,
  requestsServed,
  SERVER_CPU,
  type Service,
  startService,
  stopService,
} from './e2e-control.js';
import { writeFileSync } from 'node:fs';
import { balancedOrder, hodgesLehmann, median, medianInterval, quantile } from './harness.js';

/** A server mode of bench/e2e-server.ts; `<mode>-b` is a second process of `<mode>` (an A/A control). */
type Mode = string;
const PRESETS: Record<string, Mode[]> = {
  http: ['plain', 'plain-b', 'instrumented'],
  fastify: ['fastify-plain', 'fastify-plain-b', 'fastify-route'],
  all: ['plain', 'plain-b', 'instrumented', 'fastify-plain', 'fastify-plain-b', 'fastify-route'],
};
const USAGE = `usage: node dist/bench/e2e-paired.js [--preset http|fastify|all] [--modes a,b,...] [--blocks B] [--rounds R] [--seconds S] [--json F]
  --preset http     plain, plain-b (A/A), instrumented: node:http with the whole tree and instrument.http (default)
  --preset fastify  fastify-plain, fastify-plain-b (A/A), fastify-route: instrumentHttp with fastifyRoute
  --preset all      both sets in one run
  --modes a,b,...   any modes of bench/e2e-server.ts (e.g. http-only, fastify-http, fastify-hook); x-b is a second x
  --blocks B        blocks of fresh processes (default 8)
  --rounds R        paired rounds per block (default 8): B x R rounds in all
  --seconds S       seconds per burst (default 1)
  --json F          also write every burst (req/s, CPU µs per request, p99 ms) to F
  E2E_PIN=0         no taskset pinning (default: services on CPU ${SERVER_CPU}, load generator on CPU ${SERVER_CPU + 1})
Each compared mode is paired with plain (or fastify-plain) burst by burst; the A/A rows are the run's own noise.`;
if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const modesAt = process.argv.indexOf('--modes');
const presetAt = process.argv.indexOf('--preset');
const preset = presetAt >= 0 ? process.argv[presetAt + 1]! : 'http';
if (PRESETS[preset] === undefined) {
  console.error(`e2e-paired: unknown preset ${JSON.stringify(preset)}\n${USAGE}`);
  process.exit(2);
}
/** `--modes a,b,...` or the preset's: each is paired with `fastify-plain` if it is a Fastify mode, else with `plain`. */
const MODES: Mode[] = modesAt >= 0 ? process.argv[modesAt + 1]!.split(',') : PRESETS[preset];
const processMode = (mode: Mode) => (mode.endsWith('-b') ? mode.slice(0, -2) : mode);
const baselineOf = (mode: Mode): Mode => (mode.startsWith('fastify-') ? 'fastify-plain' : 'plain');
/** Each compared mode and the baseline its bursts are paired with. */
const PAIRS: [Mode, Mode, string][] = MODES.filter((m) => m !== baselineOf(m) && MODES.includes(baselineOf(m))).map(
  (m) => [
    m,
    baselineOf(m),
    m.endsWith('-b') ? `A/A: ${baselineOf(m)} vs ${baselineOf(m)} (the noise of this run)` : `${m} vs ${baselineOf(m)}`,
  ],
);
const WARM_UP_MS = 12_000;

interface Burst {
  rps: number;
  cpuUs: number;
  p99: number;
}

async function burst(service: Service, seconds: number): Promise<Burst> {
  const served0 = await requestsServed(service.child);
  const cpu0 = await cpuMsOf(service);
  const r = await load(service.port, seconds);
  const cpu1 = await cpuMsOf(service);
  const served = (await requestsServed(service.child)) - served0;
  return { rps: r.ok / r.durationS, cpuUs: ((cpu1 - cpu0) * 1000) / served, p99: quantile(r.latencies, 0.99) };
}

function arg(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const jsonAt = process.argv.indexOf('--json');
const jsonFile = jsonAt >= 0 ? process.argv[jsonAt + 1] : undefined;
const blocks = arg('blocks', 8);
const roundsPerBlock = arg('rounds', 8);
const seconds = arg('seconds', 1);
const pinned = PINNING && pin(process.pid, SERVER_CPU + 1);
const loads: number[] = [os.loadavg()[0]!];
const bursts: Record<Mode, Burst[]> = Object.fromEntries(MODES.map((m) => [m, []]));
/** The entry of `mode` in a record filled for every mode of MODES. */
function entry<T>(record: Record<Mode, T>, mode: Mode): T {
  const value = record[mode];
  if (value === undefined) throw new Error(`e2e-paired: no entry for mode ${mode}`);
  return value;
}
for (let block = 0; block < blocks; block++) {
  const services = {} as Record<Mode, Service>;
  try {
    const startOrder = [...MODES.slice(block % MODES.length), ...MODES.slice(0, block % MODES.length)];
    for (const mode of startOrder) services[mode] = await startService(processMode(mode));
    const warmUntil = Date.now() + WARM_UP_MS;
    while (Date.now() < warmUntil) for (const mode of MODES) await load(entry(services, mode).port, 1);
    for (let r = 0; r < roundsPerBlock; r++) {
      for (const i of balancedOrder(MODES.length, block * roundsPerBlock + r))
        entry(bursts, MODES[i]!).push(await burst(entry(services, MODES[i]!), seconds));
    }
  } finally {
    for (const mode of MODES) if (services[mode] !== undefined) await stopService(services[mode].child);
  }
  loads.push(os.loadavg()[0]!);
  process.stderr.write(`e2e-paired: block ${block + 1}/${blocks} done, load average ${os.loadavg()[0]!.toFixed(2)}\n`);
}

const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(2)}%`;
const cell = (ratios: number[]) => {
  const ci = hodgesLehmann(ratios);
  return `${pct(ci.estimate)} (95 % CI ${pct(ci.low)} … ${pct(ci.high)})`;
};
const rounds = blocks * roundsPerBlock;
console.log(`| ${rounds} paired rounds of ${seconds} s bursts | throughput | server CPU per request | p99 latency |`);
console.log('|---|---|---|---|');
for (const [mode, base, label] of PAIRS) {
  const ratio = (f: (b: Burst) => number) => entry(bursts, mode).map((b, i) => f(b) / f(entry(bursts, base)[i]!));
  console.log(
    `| ${label} | ${cell(ratio((b) => b.rps))} | ${cell(ratio((b) => b.cpuUs))} | ${cell(ratio((b) => b.p99))} |`,
  );
}
console.log();
for (const [mode, base] of PAIRS) {
  if (!mode.endsWith('-b')) continue;
  const ratios = entry(bursts, mode).map((b, i) => b.rps / entry(bursts, base)[i]!.rps);
  const ci = hodgesLehmann(ratios);
  const signs = medianInterval(ratios);
  const within = ci.low >= 0.99 && ci.high <= 1.01;
  console.log(
    `A/A (${base}) throughput interval ${pct(ci.low)} … ${pct(ci.high)}: ${within ? 'within' : 'NOT within'} ±1 %${within ? '' : ' (too noisy to show a 1 % change: more rounds, or a quieter machine)'}` +
      `; the sign-based median interval: ${pct(signs.low)} … ${pct(signs.high)}`,
  );
}
console.log();
for (const mode of MODES) {
  const bs = entry(bursts, mode);
  console.log(
    `${mode}: ${median(bs.map((b) => b.rps)).toFixed(0)} req/s, ${median(bs.map((b) => b.cpuUs)).toFixed(1)} µs CPU/request, p99 ${median(bs.map((b) => b.p99)).toFixed(3)} ms (medians of ${bs.length} bursts)`,
  );
}
console.log(
  `pinning: ${pinned ? `services on CPU ${SERVER_CPU}, load generator on CPU ${SERVER_CPU + 1}` : 'off'}; ${os.cpus().length} CPUs; ` +
    `load average (1 min) ${loads.map((l) => l.toFixed(1)).join(' → ')} (start, after each block)`,
);
if (jsonFile !== undefined) {
  writeFileSync(jsonFile, JSON.stringify({ seconds, blocks, roundsPerBlock, loads, bursts }, null, 1));
  console.log(`bursts written to ${jsonFile}`);
}
