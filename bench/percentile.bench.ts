/**
 * Percentile accuracy: the relative error of p50/p95/p99 against the exact quantiles (nearest
 * rank over the sorted values) on several distributions drawn from a seeded PRNG, for our
 * histogram's sketch and for prom-client's Histogram with its default buckets, read the way
 * Prometheus reads it: `histogram_quantile`'s linear interpolation inside the bucket that holds
 * the rank (promql/quantile.go `bucketQuantile`), implemented here over prom-client's cumulative
 * bucket counts. prom-client's defaults are in seconds, so it observes seconds; relative errors do
 * not depend on the unit.
 */
import client from 'prom-client';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import type { Check, SuiteOptions, SuiteResult } from './harness.js';
import { mulberry32 } from './prng.js';

/** SPEC §10: every percentile within this relative error of the exact value. */
export const PERCENTILE_ERROR_TARGET = 0.01;
const QUANTILES = [0.5, 0.95, 0.99] as const;

function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

interface Distribution {
  name: string;
  /** One value in ms. */
  draw: (rand: () => number) => number;
}

/** The distributions, each drawn from its own seeded PRNG. */
export const DISTRIBUTIONS: Distribution[] = [
  { name: 'log-normal latency (median 20 ms, sigma 1)', draw: (r) => Math.exp(Math.log(20) + normal(r)) },
  { name: 'uniform 1–1,000 ms', draw: (r) => 1 + 999 * r() },
  {
    name: 'bimodal: 80% ~5 ms hits, 20% ~300 ms misses',
    draw: (r) => (r() < 0.8 ? Math.exp(Math.log(5) + 0.3 * normal(r)) : Math.exp(Math.log(300) + 0.4 * normal(r))),
  },
  { name: 'Pareto (x_m 1 ms, alpha 1.5)', draw: (r) => 1 / Math.pow(1 - r(), 1 / 1.5) },
];

/** Exact q-quantile by nearest rank, the definition the sketch uses too. */
function exactQuantile(sorted: Float64Array, q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/**
 * Prometheus `histogram_quantile` over cumulative buckets sorted by upper bound, the last +Inf
 * (promql/quantile.go `bucketQuantile`, classic histograms).
 */
export function histogramQuantile(q: number, buckets: readonly { le: number; count: number }[]): number {
  if (buckets.length < 2 || buckets[buckets.length - 1]!.le !== Infinity) return Number.NaN;
  const observations = buckets[buckets.length - 1]!.count;
  if (observations === 0) return Number.NaN;
  let rank = q * observations;
  let b = buckets.findIndex((x, i) => i < buckets.length - 1 && x.count >= rank);
  if (b === -1) b = buckets.length - 1;
  if (b === buckets.length - 1) return buckets[buckets.length - 2]!.le;
  if (b === 0 && buckets[0]!.le <= 0) return buckets[0]!.le;
  let start = 0;
  let count = buckets[b]!.count;
  if (b > 0) {
    start = buckets[b - 1]!.le;
    count -= buckets[b - 1]!.count;
    rank -= buckets[b - 1]!.count;
  }
  return start + (buckets[b]!.le - start) * (rank / count);
}

async function promBuckets(h: client.Histogram): Promise<{ le: number; count: number }[]> {
  const { values } = await h.get();
  return values
    .filter((v) => v.metricName?.endsWith('_bucket'))
    .map((v) => ({ le: v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), count: v.value }))
    .sort((a, b) => a.le - b.le);
}

/** The percentile-accuracy suite (`quick`: 50,000 values per distribution instead of 200,000). */
export async function percentileSuite(options: SuiteOptions): Promise<SuiteResult> {
  const n = options.quick ? 50_000 : 200_000;
  const lines = [
    '| distribution | quantile | exact | erlmcp-monitor (sketch) | error | prom-client, default buckets (histogram_quantile) | error |',
    '|---|---|---|---|---|---|---|',
  ];
  const checks: Check[] = [];
  const figures: Record<string, unknown>[] = [];
  for (const [d, dist] of DISTRIBUTIONS.entries()) {
    const rand = mulberry32(0x5eed + d);
    const values = new Float64Array(n);
    for (let i = 0; i < n; i++) values[i] = dist.draw(rand);
    const ours = new Registry({ logger: createLogger({ level: 'silent' }) })
      .histogram('latency', { unit: 'ms' })
      .bind();
    const prom = new client.Histogram({ name: 'latency_seconds', help: 'latency', registers: [] });
    for (let i = 0; i < n; i++) {
      ours.observe(values[i]!);
      prom.observe(values[i]! / 1000);
    }
    const sorted = values.slice().sort();
    const buckets = await promBuckets(prom);
    let worst = 0;
    for (const q of QUANTILES) {
      const exact = exactQuantile(sorted, q);
      const mine = ours.quantile(q)!;
      const theirs = histogramQuantile(q, buckets) * 1000;
      const errMine = Math.abs(mine - exact) / exact;
      const errTheirs = Math.abs(theirs - exact) / exact;
      worst = Math.max(worst, errMine);
      figures.push({
        distribution: dist.name,
        q,
        exact,
        ours: mine,
        oursError: errMine,
        promClient: theirs,
        promClientError: errTheirs,
      });
      const pct = (e: number) => `${(e * 100).toFixed(e < 0.1 ? 2 : 0)}%`;
      lines.push(
        `| ${q === 0.5 ? dist.name : ''} | p${q * 100} | ${exact.toPrecision(4)} ms | ${mine.toPrecision(4)} ms | ${pct(errMine)} | ${theirs.toPrecision(4)} ms | ${pct(errTheirs)} |`,
      );
    }
    checks.push({
      name: `worst p50/p95/p99 relative error, ${dist.name}`,
      measured: worst * 100,
      target: PERCENTILE_ERROR_TARGET * 100,
      better: 'lower',
      margin: 0,
      unit: '%',
    });
  }
  return {
    suite: 'Percentile accuracy (bench/percentile.bench.ts)',
    rows: [],
    table: lines.join('\n'),
    notes: [
      `${n.toLocaleString()} values per distribution from a seeded PRNG; exact quantiles by nearest rank over the sorted values. ` +
        'prom-client default buckets: 5 ms … 10 s (11 buckets); Prometheus interpolates linearly inside the bucket holding the rank, ' +
        'and answers the last finite bound when the rank falls in +Inf. Deterministic: the same figures on every machine.',
    ],
    checks,
    figures,
  };
}
