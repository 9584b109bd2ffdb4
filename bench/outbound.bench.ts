/**
 * Outbound: what `instrument.outbound` costs a client calling another service with `fetch`.
 * The called service is bench/e2e-server.ts (`plain`) in its own process; the client is this
 * process, 8 concurrent `fetch` loops over keep-alive connections to 127.0.0.1 for a short burst.
 * Three modes, switched in this one process between bursts (the instrumentation is Node's
 * diagnostics channels: subscribed or not, nothing else differs): `plain`, `plain-b` (the same
 * again: the A/A control, the noise of the run) and `instrumented` (`instrumentOutbound` on a
 * bare table; what the tree costs a process is the end-to-end suite's). Bursts go in the orders
 * of a balanced Latin square, and each round gives paired ratios against its plain burst:
 * requests/s, and this process's CPU time per request (user + system; the load on the machine
 * moves throughput more than CPU per request).
 *
 * On a loaded shared machine the paired ratios of a fetch costing ~180 µs are noisy to about
 * ±10 % (see the A/A row); the figure the load does not move is the instrumentation's own time
 * per request, measured by publishing a request's `create` and `headers` messages on the real
 * channels (with minus without the subscribers), as a share of a plain fetch's CPU time.
 */
import diagnostics from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { Registry } from '../src/metrics/registry.js';
import { createLogger } from '../src/logger.js';
import { instrumentOutbound } from '../src/sources/outbound-instrument.js';
import { startService, stopService } from './e2e-control.js';
import {
  balancedOrder,
  type Check,
  median,
  medianInterval,
  quantile,
  type SuiteOptions,
  type SuiteResult,
} from './harness.js';

/** Issue 18: instrumented fetch keeps at least this fraction of plain fetch's throughput. */
export const FETCH_TARGET = 0.95;
const CONCURRENCY = 8;
type Mode = 'plain' | 'plain-b' | 'instrumented';
const MODES: Mode[] = ['plain', 'plain-b', 'instrumented'];

interface Burst {
  requestsPerSecond: number;
  cpuUsPerRequest: number;
  errors: number;
}

async function burst(url: string, ms: number): Promise<Burst> {
  let ok = 0;
  let errors = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const deadline = t0 + ms;
  const loop = async () => {
    while (performance.now() < deadline) {
      try {
        const res = await fetch(url);
        await res.arrayBuffer();
        if (res.ok) ok++;
        else errors++;
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { requestsPerSecond: ok / seconds, cpuUsPerRequest: (cpu.user + cpu.system) / ok, errors };
}

/** Nanoseconds per request that the subscribers add to undici's `create` + `headers` publishes (median of 7 runs). */
function handlerNsPerRequest(): number {
  const create = diagnostics.channel('undici:request:create');
  const headers = diagnostics.channel('undici:request:headers');
  const response = { statusCode: 200, headers: [], statusText: 'OK' };
  const requests = 200_000;
  const publishAll = () => {
    const t0 = performance.now();
    for (let i = 0; i < requests; i++) {
      // A fresh object per request, as undici's Request is, with its fields.
      const request = { method: 'GET', origin: 'http://127.0.0.1:3000', path: '/', completed: false };
      create.publish({ request });
      headers.publish({ request, response });
    }
    return ((performance.now() - t0) * 1e6) / requests;
  };
  const registry = new Registry({ logger: createLogger({ level: 'silent' }) });
  const samples: number[] = [];
  for (let run = 0; run < 8; run++) {
    const bare = publishAll();
    const remove = instrumentOutbound(registry);
    try {
      const measured = publishAll();
      if (run > 0) samples.push(measured - bare); // run 0 warms both loops up
    } finally {
      remove();
    }
  }
  return median(samples);
}

/** The outbound suite: plain, plain again (A/A) and instrumented fetch bursts, paired by round. */
export async function outboundSuite(options: SuiteOptions): Promise<SuiteResult> {
  const burstMs = options.quick ? 300 : 600;
  const rounds = options.quick ? 6 : 12;
  const service = await startService('plain');
  const url = `http://127.0.0.1:${service.port}/`;
  const registry = new Registry({ logger: createLogger({ level: 'silent' }) });
  let remove: (() => void) | undefined;
  const runs: Record<Mode, Burst[]> = { plain: [], 'plain-b': [], instrumented: [] };
  try {
    // Warm-up of both paths: connections open, undici and the handlers compiled.
    for (let i = 0; i < 3; i++) {
      remove = instrumentOutbound(registry);
      await burst(url, burstMs);
      remove();
      remove = undefined;
      await burst(url, burstMs);
    }
    for (let round = 0; round < rounds; round++) {
      for (const i of balancedOrder(MODES.length, round)) {
        const mode = MODES[i]!;
        if (mode === 'instrumented') remove = instrumentOutbound(registry);
        runs[mode].push(await burst(url, burstMs));
        remove?.();
        remove = undefined;
      }
    }
  } finally {
    remove?.();
    await stopService(service.child);
  }
  const handlerNs = handlerNsPerRequest();
  const plainCpuUs = median(runs.plain.map((b) => b.cpuUsPerRequest));
  const handlerShare = handlerNs / 1000 / plainCpuUs;
  const counted = registry
    .require('http.client.requests', 'counter')
    .series()
    .reduce((n, s) => n + s.value, 0);

  const paired = (mode: Mode, f: (b: Burst) => number) => {
    const ratios = runs[mode].map((b, i) => f(b) / f(runs.plain[i]!));
    return {
      median: median(ratios),
      q1: quantile(ratios, 0.25),
      q3: quantile(ratios, 0.75),
      ...medianInterval(ratios),
    };
  };
  const throughput = {
    aa: paired('plain-b', (b) => b.requestsPerSecond),
    inst: paired('instrumented', (b) => b.requestsPerSecond),
  };
  const cpu = {
    aa: paired('plain-b', (b) => b.cpuUsPerRequest),
    inst: paired('instrumented', (b) => b.cpuUsPerRequest),
  };
  const pct = (x: number) => `${x >= 1 ? '+' : ''}${((x - 1) * 100).toFixed(1)}%`;
  const cell = (p: ReturnType<typeof paired>) =>
    `${pct(p.median)} (quartiles ${pct(p.q1)} … ${pct(p.q3)}; 95 % CI ${pct(p.low)} … ${pct(p.high)})`;
  const row = (name: string, mode: Mode) =>
    `| ${name} | ${(median(runs[mode].map((b) => b.requestsPerSecond)) / 1000).toFixed(2)}k/s | ${median(runs[mode].map((b) => b.cpuUsPerRequest)).toFixed(1)} µs | ${runs[mode].reduce((n, b) => n + b.errors, 0)} |`;
  const table = [
    `| fetch client (${CONCURRENCY} concurrent loops) | requests/s, median of ${rounds} bursts | client CPU per request | errors |`,
    '|---|---|---|---|',
    row('plain', 'plain'),
    row('plain, again (A/A control)', 'plain-b'),
    row('instrument.outbound', 'instrumented'),
    '',
    `| paired against the plain burst of the same round (${rounds} rounds) | throughput | client CPU per request |`,
    '|---|---|---|',
    `| plain vs plain (A/A: the noise of this run) | ${cell(throughput.aa)} | ${cell(cpu.aa)} |`,
    `| instrumented vs plain | ${cell(throughput.inst)} | ${cell(cpu.inst)} |`,
    '',
    `The instrumentation's own time per fetch (create + headers handlers, on the real channels): ${handlerNs.toFixed(0)} ns, ` +
      `${(handlerShare * 100).toFixed(2)} % of a plain fetch's ${plainCpuUs.toFixed(0)} µs of client CPU.`,
  ].join('\n');
  const checks: Check[] = [
    // The load-independent bound: the throughput a CPU-bound client keeps given the handlers' own time.
    {
      name: "instrumented fetch: 1 - handlers' time / plain fetch CPU time",
      measured: (1 - handlerShare) * 100,
      target: FETCH_TARGET * 100,
      better: 'higher',
      margin: 0.02,
      unit: '%',
    },
    {
      name: 'instrumented / plain fetch throughput (median of paired rounds)',
      measured: throughput.inst.median * 100,
      target: FETCH_TARGET * 100,
      better: 'higher',
      margin: 0.02,
      unit: '%',
    },
    {
      name: 'instrumented / plain fetch, CPU-bound throughput (1 / median paired ratio of client CPU per request)',
      measured: (1 / cpu.inst.median) * 100,
      target: FETCH_TARGET * 100,
      better: 'higher',
      margin: 0.02,
      unit: '%',
    },
  ];
  return {
    suite: 'Outbound fetch (bench/outbound.bench.ts)',
    rows: [],
    table,
    checks,
    notes: [
      `${rounds} rounds of ${burstMs} ms bursts per mode, orders of a balanced Latin square; the called service (bench/e2e-server.ts, plain) runs in its own process. ` +
        `The instrumented bursts counted ${counted} requests into http.client.requests.`,
    ],
    figures: { runs, throughput, cpu, counted, handlerNs, handlerShare },
  };
}
