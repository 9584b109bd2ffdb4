/**
 * Quantile sketch hot path: ns per observation for `sketchKey` plus `addKey` into the all-time
 * Sketch and the SlidingSketch (what a histogram's `observe` does per value), over 1e6
 * pre-generated log-normal latencies, with prom-client's bucketed `Histogram.observe` as anchor.
 *
 * Not wired into run.ts yet. Run it alone: `npx tsc -p tsconfig.build.json && node dist/bench/sketch.bench.js`.
 * It prints a tinybench table (ops/s) and a tight-loop ns/op table (best and median of 15 rounds).
 */
import { pathToFileURL } from 'node:url';
import { Histogram } from 'prom-client';
import { Sketch, SlidingSketch, sketchKey } from '../src/metrics/sketch.js';
import { SliceClock } from '../src/metrics/slice-clock.js';
import { type BenchTask, markdownTable, runTasks, type SuiteOptions, type SuiteResult } from './harness.js';

const VALUES = 1_000_000;

/** 1e6 log-normal latencies in ms (mu = 3, sigma = 1: median 20 ms), from a seeded PRNG. */
function latencies(): Float64Array {
  let a = 12345;
  const rand = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float64Array(VALUES);
  for (let i = 0; i < VALUES; i++)
    out[i] = Math.exp(3 + Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand()));
  return out;
}

interface Case {
  name: string;
  run: (values: Float64Array) => number;
}

function cases(): Case[] {
  const clock = new SliceClock();
  const all = new Sketch();
  const window = new SlidingSketch(clock);
  const allOnly = new Sketch();
  const windowOnly = new SlidingSketch(clock);
  const byValue = new Sketch();
  const byValueWindow = new SlidingSketch(clock);
  const prom = new Histogram({
    name: 'bench_latency_ms',
    help: 'bench',
    registers: [],
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
  });
  return [
    {
      name: 'loop only (sum values, baseline)',
      run(values) {
        let sum = 0;
        for (let i = 0; i < values.length; i++) sum += values[i]!;
        return sum;
      },
    },
    {
      name: 'sketchKey only',
      run(values) {
        let sum = 0;
        for (let i = 0; i < values.length; i++) sum += sketchKey(values[i]!);
        return sum;
      },
    },
    {
      name: 'Sketch.addKey(sketchKey(v))',
      run(values) {
        for (let i = 0; i < values.length; i++) allOnly.addKey(sketchKey(values[i]!));
        return allOnly.count;
      },
    },
    {
      name: 'SlidingSketch.addKey(sketchKey(v))',
      run(values) {
        clock.tick(Date.now());
        for (let i = 0; i < values.length; i++) windowOnly.addKey(sketchKey(values[i]!));
        return windowOnly.byteLength;
      },
    },
    {
      name: 'one key, both addKey (histogram hot path)',
      run(values) {
        clock.tick(Date.now());
        for (let i = 0; i < values.length; i++) {
          const key = sketchKey(values[i]!);
          all.addKey(key);
          window.addKey(key);
        }
        return all.count;
      },
    },
    {
      name: 'both add(v) (key computed twice)',
      run(values) {
        clock.tick(Date.now());
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          byValue.add(v);
          byValueWindow.add(v);
        }
        return byValue.count;
      },
    },
    {
      name: 'prom-client Histogram.observe, 12 buckets (anchor)',
      run(values) {
        for (let i = 0; i < values.length; i++) prom.observe(values[i]!);
        return values.length;
      },
    },
  ];
}

/** Tight-loop timing: every case runs 15 rounds of 1e6 values after 3 warm-up rounds. */
function nsPerOp(values: Float64Array): { name: string; bestNs: number; medianNs: number }[] {
  const rows = [];
  let sink = 0;
  for (const c of cases()) {
    for (let w = 0; w < 3; w++) sink += c.run(values);
    const times: number[] = [];
    for (let r = 0; r < 15; r++) {
      const t0 = process.hrtime.bigint();
      sink += c.run(values);
      times.push(Number(process.hrtime.bigint() - t0) / values.length);
    }
    times.sort((a, b) => a - b);
    rows.push({ name: c.name, bestNs: times[0]!, medianNs: times[7]! });
  }
  if (sink === 0.5) console.log('unreachable');
  return rows;
}

/** The quantile-sketch suite (opt-in: `npm run bench -- sketch`); it has no quick mode. */
export async function sketchSuite(_options?: SuiteOptions): Promise<SuiteResult> {
  const values = latencies();
  const tasks: BenchTask[] = cases().map((c) => ({ name: c.name, perIteration: VALUES, fn: () => c.run(values) }));
  const rows = await runTasks(tasks);
  const tight = nsPerOp(values);
  const notes = [
    'Rates are observations/s over 1e6 pre-generated log-normal latencies (median 20 ms) per iteration.',
    [
      'Tight loop, ns per observation (15 rounds of 1e6 after warm-up):',
      '',
      '| task | ns/op best | ns/op median |',
      '|---|---|---|',
      ...tight.map((r) => `| ${r.name} | ${r.bestNs.toFixed(2)} | ${r.medianNs.toFixed(2)} |`),
    ].join('\n'),
  ];
  return { suite: 'Quantile sketch (bench/sketch.bench.ts)', rows, notes };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(markdownTable(await sketchSuite(), 'loop only (sum values, baseline)'));
}
