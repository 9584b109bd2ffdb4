/**
 * A thin layer over tinybench: runs a suite's tasks, and turns each into a row with ops/s (median,
 * min-max over the samples) scaled by the work one iteration does (`perIteration`), plus latency
 * percentiles. Ratios are always between rows of the same run: this machine is shared and noisy.
 *
 * Figures with a target become {@link Check}s: printed under the suite's table, written to
 * latest.json, and enforced by `npm run bench:check` (a check fails only when the figure misses
 * its target by more than its margin, so one noisy sample does not fail the build).
 */
import { performance } from 'node:perf_hooks';
import { Bench } from 'tinybench';

/** How long to run: `quick` (bench:check) still takes at least 3 samples of every task. */
export interface SuiteOptions {
  quick: boolean;
}

/** A figure with a target. `better` says which direction passes. */
export interface Check {
  name: string;
  measured: number;
  target: number;
  better: 'higher' | 'lower';
  /** Fraction of the target a figure may miss by before bench:check fails (0.1 = 10%). */
  margin: number;
  unit: string;
}

export type CheckStatus = 'meets' | 'within margin' | 'FAILS';

/** `meets` the target, misses it by no more than the margin, or `FAILS`. NaN (not measured) fails. */
export function checkStatus(c: Check): CheckStatus {
  const meets = c.better === 'higher' ? c.measured >= c.target : c.measured <= c.target;
  if (meets) return 'meets';
  const within =
    c.better === 'higher' ? c.measured >= c.target * (1 - c.margin) : c.measured <= c.target * (1 + c.margin);
  return within ? 'within margin' : 'FAILS';
}

/** A markdown table of checks: measured, wanted, the limit bench:check fails beyond, and the status. */
export function checksTable(checks: readonly Check[]): string {
  const fmt = (v: number, unit: string) =>
    `${Number.isFinite(v) ? (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2)) : 'n/a'}${unit}`;
  return [
    '| target | measured | wanted | fails beyond | status |',
    '|---|---|---|---|---|',
    ...checks.map((c) => {
      const limit = c.better === 'higher' ? c.target * (1 - c.margin) : c.target * (1 + c.margin);
      return `| ${c.name} | ${fmt(c.measured, c.unit)} | ${c.better === 'higher' ? '>=' : '<='} ${fmt(c.target, c.unit)} | ${c.better === 'higher' ? '<' : '>'} ${fmt(limit, c.unit)} | ${checkStatus(c)} |`;
    }),
  ].join('\n');
}

/** One tinybench task; `fn` is one sample. */
export interface BenchTask {
  name: string;
  /** Operations one iteration performs (e.g. 10,000 casts), to report per-operation rates. */
  perIteration?: number;
  fn: () => unknown;
  beforeAll?: () => void | Promise<void>;
  afterAll?: () => void | Promise<void>;
}

/** One task's figures: rates per operation (scaled by `perIteration`) and per-sample latency. */
export interface BenchRow {
  name: string;
  opsMedian: number;
  opsMin: number;
  opsMax: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  samples: number;
}

/** What a suite returns to run.ts: printed as markdown and written to latest.json. */
export interface SuiteResult {
  /** Title of the printed table. */
  suite: string;
  rows: BenchRow[];
  notes: string[];
  /** A pre-rendered markdown table that replaces the default one-row-per-task table. */
  table?: string;
  /** Figures with a target (see {@link Check}). */
  checks?: Check[];
  /** Anything else the suite measured, as plain JSON, for latest.json. */
  figures?: unknown;
}

/** Median of a non-empty list (sorts a copy). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The p-quantile (0..1) of a list by nearest rank (sorts a copy). */
export function quantile(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

/**
 * The order in which to visit `n` treatments in round `round`: a Williams design (a balanced
 * Latin square). Over every `n` consecutive rounds starting at a multiple of `n` (`2n` when `n`
 * is odd) each treatment takes each place equally often and directly follows each other
 * treatment equally often, so neither a place in the round nor the neighbour before it favours
 * any of them. (Rotating and reversing alternately does not do that: with 4 treatments the first
 * one led 4 rounds out of 6.)
 * @returns a permutation of 0..n-1
 * @throws {RangeError} if `n` is not a positive integer or `round` a non-negative integer
 */
export function balancedOrder(n: number, round: number): number[] {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`balancedOrder: n must be a positive integer, got ${n}`);
  if (!Number.isInteger(round) || round < 0)
    throw new RangeError(`balancedOrder: round must be a non-negative integer, got ${round}`);
  // First row 0, 1, n-1, 2, n-2, ...; row i adds i (mod n); for odd n the reversed rows follow.
  const first: number[] = [];
  for (let j = 0; j < n; j++) first.push(j % 2 === 1 ? (j + 1) / 2 : (n - j / 2) % n);
  const shift = round % n;
  const row = first.map((t) => (t + shift) % n);
  return n % 2 === 1 && Math.floor(round / n) % 2 === 1 ? row.reverse() : row;
}

/** A distribution-free confidence interval of a median: two order statistics of the sample. */
export interface MedianInterval {
  low: number;
  high: number;
  /** The interval's actual coverage (order statistics give only discrete levels; at least `confidence` when n allows). */
  coverage: number;
}

/**
 * The confidence interval of the median of `values` from order statistics (no assumption on the
 * distribution): the k-th smallest and k-th largest values, k the largest rank with
 * P(Binomial(n, 1/2) < k) <= (1 - confidence) / 2. With too few values for that level it is the
 * whole range, and `coverage` says what that range covers (5 values: 93.75 %).
 * @throws {RangeError} on an empty list or a confidence outside (0, 1)
 */
export function medianInterval(values: readonly number[], confidence = 0.95): MedianInterval {
  const n = values.length;
  if (n === 0) throw new RangeError('medianInterval: no values');
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`medianInterval: confidence must be in (0, 1), got ${confidence}`);
  const s = [...values].sort((a, b) => a - b);
  // cdf[j] = P(B <= j) for B ~ Binomial(n, 1/2), built from the pmf's ratio recurrence.
  let pmf = 0.5 ** n;
  let below = 0; // P(B < k)
  let k = 0;
  while (k < n >> 1 && below + pmf <= (1 - confidence) / 2) {
    below += pmf;
    pmf = (pmf * (n - k)) / (k + 1);
    k++;
  }
  const rank = Math.max(1, k); // 1-based rank of the lower bound
  const tail = k === 0 ? 0.5 ** n : below; // P(B < rank)
  return { low: s[rank - 1]!, high: s[n - rank]!, coverage: 1 - 2 * tail };
}

/** The Hodges–Lehmann estimate of a centre and its distribution-free confidence interval. */
export interface CentreInterval extends MedianInterval {
  /** The median of the Walsh averages (the means of every pair of values, each value with itself too). */
  estimate: number;
}

/**
 * The Hodges–Lehmann estimate of the centre of `values` (paired differences or ratios) with the
 * confidence interval that inverts the Wilcoxon signed-rank test: the C-th smallest and C-th
 * largest of the n(n+1)/2 Walsh averages, C from the exact null distribution of the signed-rank
 * statistic, for any n. That is R's `wilcox.test(x, conf.int = TRUE)` below 50 values without ties
 * or zeros; from 50 values (e2e-paired's default 64 rounds) R uses a normal approximation, so its
 * interval may differ slightly. It assumes only that the values are spread symmetrically around
 * their centre (true of an A/A pair by construction), and for the same values its interval is
 * about a fifth narrower than {@link medianInterval}'s, which uses only the values' signs.
 * @throws {RangeError} on an empty list or a confidence outside (0, 1)
 */
export function hodgesLehmann(values: readonly number[], confidence = 0.95): CentreInterval {
  const n = values.length;
  if (n === 0) throw new RangeError('hodgesLehmann: no values');
  if (!(confidence > 0 && confidence < 1))
    throw new RangeError(`hodgesLehmann: confidence must be in (0, 1), got ${confidence}`);
  const walsh = new Float64Array((n * (n + 1)) / 2);
  let w = 0;
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) walsh[w++] = (values[i]! + values[j]!) / 2;
  walsh.sort();
  const m = walsh.length;
  // dist[t] = P(T = t) for the signed-rank statistic T of n values: rank r joins the sum or not, each with chance 1/2.
  let dist = new Float64Array(m + 1);
  dist[0] = 1;
  for (let r = 1; r <= n; r++) {
    const next = new Float64Array(m + 1);
    for (let t = 0; t <= m; t++) {
      const p = dist[t]!;
      if (p === 0) continue;
      next[t]! += p / 2;
      next[t + r]! += p / 2;
    }
    dist = next;
  }
  // qu: the smallest t with P(T <= t) >= (1 - confidence) / 2 (R's qsignrank), at least 1.
  let below = 0; // P(T <= qu - 1)
  let qu = 0;
  while (qu < m && below + dist[qu]! < (1 - confidence) / 2) below += dist[qu++]!;
  if (qu === 0) qu = 1;
  const mid = m >> 1;
  const estimate = m % 2 === 1 ? walsh[mid]! : (walsh[mid - 1]! + walsh[mid]!) / 2;
  return { estimate, low: walsh[qu - 1]!, high: walsh[m - qu]!, coverage: 1 - 2 * (qu === 1 ? 0.5 ** n : below) };
}

/** The longest event-loop block seen by {@link startBlockProbe}, in ms. */
export interface BlockReading {
  /** Wall-clock: what a request arriving during the block waits. Inflated when the OS preempts us. */
  wallMs: number;
  /** Process CPU time (user + system) over the same stretch: the block's own cost, load-independent. */
  cpuMs: number;
}

/**
 * Measures the longest stretch the event loop was blocked while it runs: a chain of
 * `setImmediate` callbacks records the largest gap between two of them, in wall-clock time and
 * in process CPU time. Unlike `monitorEventLoopDelay` (a timer's lateness, quantised by its
 * resolution) it sees every turn. On a shared machine the wall-clock gap includes time the OS
 * gave to other processes; the CPU-time gap does not (it does include GC helper threads).
 * The probe itself costs a little throughput, so time a task without it and probe separately.
 */
export function startBlockProbe(): { stop(): BlockReading } {
  let last = performance.now();
  let lastCpu = cpuMs();
  let wall = 0;
  let cpu = 0;
  let running = true;
  const sample = () => {
    const now = performance.now();
    const nowCpu = cpuMs();
    if (now - last > wall) wall = now - last;
    if (nowCpu - lastCpu > cpu) cpu = nowCpu - lastCpu;
    last = now;
    lastCpu = nowCpu;
  };
  const tick = () => {
    sample();
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      running = false;
      sample();
      return { wallMs: wall, cpuMs: cpu };
    },
  };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Runs each task in its own tinybench run (time budget `time` ms, default 1000, and at least
 * `iterations` samples, default 10, after `warmupTime` ms of warm-up, default 250).
 */
export async function runTasks(
  tasks: BenchTask[],
  options: { time?: number; iterations?: number; warmupTime?: number } = {},
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const task of tasks) {
    const bench = new Bench({
      time: options.time ?? 1000,
      iterations: options.iterations ?? 10,
      warmup: true,
      warmupTime: options.warmupTime ?? 250,
    });
    bench.add(task.name, task.fn, { beforeAll: task.beforeAll, afterAll: task.afterAll });
    await bench.run();
    const result = bench.tasks[0]!.result as unknown as {
      state: string;
      error?: Error;
      throughput: { p50: number; min: number; max: number; samplesCount?: number };
      latency: { p50: number; p99: number; samplesCount?: number };
    };
    if (result.state !== 'completed')
      throw new Error(`bench task "${task.name}" ${result.state}: ${result.error?.message ?? ''}`);
    const k = task.perIteration ?? 1;
    rows.push({
      name: task.name,
      opsMedian: result.throughput.p50 * k,
      opsMin: result.throughput.min * k,
      opsMax: result.throughput.max * k,
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      samples: result.latency.samplesCount ?? 0,
    });
  }
  return rows;
}

/** Milliseconds with a sensible number of digits (µs below 1 ms). */
export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : ms < 100 ? `${ms.toFixed(2)} ms` : `${ms.toFixed(0)} ms`;
}

/** A rate as `x M/s`, `x k/s` or `x /s`. */
export function formatOps(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k/s`;
  return `${n.toFixed(1)} /s`;
}

/** A markdown table of rows, with each row's ratio to `baseline` (by name) when given. */
export function markdownTable(result: SuiteResult, baseline?: string): string {
  const base = result.rows.find((r) => r.name === baseline);
  const lines = [`### ${result.suite}`, ''];
  if (result.table !== undefined || result.rows.length === 0) {
    if (result.table !== undefined) lines.push(result.table);
    for (const note of result.notes) lines.push('', note);
    if (result.checks?.length) lines.push('', checksTable(result.checks));
    return lines.join('\n').replace(/\n{3,}/g, '\n\n');
  }
  lines.push(
    `| task | ops/s median | min – max | p50 | p99 | samples |${base ? ` vs ${baseline} |` : ''}`,
    `|---|---|---|---|---|---|${base ? '---|' : ''}`,
  );
  for (const r of result.rows) {
    const ratio = base ? ` ${(r.opsMedian / base.opsMedian).toFixed(2)}x |` : '';
    lines.push(
      `| ${r.name} | ${formatOps(r.opsMedian)} | ${formatOps(r.opsMin)} – ${formatOps(r.opsMax)} | ${fmtMs(r.latencyP50Ms)} | ${fmtMs(r.latencyP99Ms)} | ${r.samples} |${ratio}`,
    );
  }
  for (const note of result.notes) lines.push('', note);
  if (result.checks?.length) lines.push('', checksTable(result.checks));
  return lines.join('\n');
}
