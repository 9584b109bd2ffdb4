/**
 * A thin layer over tinybench: runs a suite's tasks, and turns each into a row with ops/s (median,
 * min-max over the samples) scaled by the work one iteration does (`perIteration`), plus latency
 * percentiles. Ratios are always between rows of the same run: this machine is shared and noisy.
 */
import { Bench } from 'tinybench';

export interface BenchTask {
  name: string;
  /** Operations one iteration performs (e.g. 10,000 casts), to report per-operation rates. */
  perIteration?: number;
  fn: () => unknown | Promise<unknown>;
  beforeAll?: () => void | Promise<void>;
  afterAll?: () => void | Promise<void>;
}

export interface BenchRow {
  name: string;
  opsMedian: number;
  opsMin: number;
  opsMax: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  samples: number;
}

export interface SuiteResult {
  suite: string;
  rows: BenchRow[];
  notes: string[];
}

export async function runTasks(tasks: BenchTask[], options: { time?: number; iterations?: number } = {}): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const task of tasks) {
    const bench = new Bench({ time: options.time ?? 1000, iterations: options.iterations ?? 10, warmup: true });
    bench.add(task.name, task.fn, { beforeAll: task.beforeAll, afterAll: task.afterAll });
    await bench.run();
    const result = bench.tasks[0]!.result as unknown as {
      state: string;
      error?: Error;
      throughput: { p50: number; min: number; max: number; samplesCount?: number };
      latency: { p50: number; p99: number; samplesCount?: number };
    };
    if (result.state !== 'completed') throw new Error(`bench task "${task.name}" ${result.state}: ${result.error?.message ?? ''}`);
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

export function formatOps(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k/s`;
  return `${n.toFixed(1)} /s`;
}

/** A markdown table of rows, with each row's ratio to `baseline` (by name) when given. */
export function markdownTable(result: SuiteResult, baseline?: string): string {
  const base = result.rows.find((r) => r.name === baseline);
  const lines = [`### ${result.suite}`, ''];
  if (result.rows.length === 0) {
    for (const note of result.notes) lines.push(note);
    return lines.join('\n');
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
  return lines.join('\n');
}

function fmtMs(ms: number): string {
  return ms < 1 ? `${(ms * 1000).toFixed(1)} µs` : `${ms.toFixed(2)} ms`;
}
