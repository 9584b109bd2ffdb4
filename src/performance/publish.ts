/**
 * Where a check's figures go besides the report, so others can read them by name:
 * - `DerivedValues` (alerting rules, the dashboard): `latency.p50`, `latency.p95`, `latency.p99`,
 *   `throughput`, `error_rate`, `cpu`, `memory`, `event_loop.p99`, `score.<kind>`,
 *   `sla.<name>.compliance`, `error_budget.<slo>`; a figure without data is removed.
 * - gauges in the table (so they get LMDB history and Prometheus exposition):
 *   `perf.latency{percentile="p50"|"p95"|"p99"}` (ms; not `quantile`, which Prometheus reserves
 *   for summaries), `perf.throughput` (requests per second),
 *   `perf.error_rate` (ratio), `perf.score{kind}`, `perf.sla.compliance{sla}` (%),
 *   `perf.error_budget.remaining{slo}` (ratio). A gauge cannot be unset: without data it keeps
 *   its last value (the derived value and the report say "no data").
 */
import type { DerivedValues } from '../metrics/derived-values.js';
import type { Gauge } from '../metrics/gauge.js';
import type { Registry } from '../metrics/registry.js';
import { SCORE_KINDS, type Scores } from '../server/protocol.js';
import { type Measurements, PERF_METRICS, type PerfMetricKey } from './measurements.js';
import type { SlaResult } from './sla.js';

const PERCENTILE_LABEL: Partial<Record<PerfMetricKey, string>> = {
  'latency.p50': 'p50',
  'latency.p95': 'p95',
  'latency.p99': 'p99',
};

export class PerfGauges {
  readonly #latency: Gauge;
  readonly #throughput: Gauge;
  readonly #errorRate: Gauge;
  readonly #score: Gauge;
  readonly #sla: Gauge;
  readonly #budget: Gauge;

  /** Registers the gauges. @throws {MonitorError} `EMON_METRIC_CONFLICT` if a name is taken otherwise */
  constructor(registry: Registry) {
    this.#latency = registry.gauge('perf.latency', {
      help: 'Response time percentiles over the performance window',
      unit: 'ms',
      labels: ['percentile'],
    });
    this.#throughput = registry.gauge('perf.throughput', {
      help: 'Requests per second over the performance window',
      unit: 'requests_per_second',
    });
    this.#errorRate = registry.gauge('perf.error_rate', {
      help: 'Failed requests / requests over the performance window',
      unit: 'ratio',
    });
    this.#score = registry.gauge('perf.score', { help: 'Performance scores, 0-100', labels: ['kind'] });
    this.#sla = registry.gauge('perf.sla.compliance', {
      help: 'SLA compliance, 0-100 %',
      unit: 'percent',
      labels: ['sla'],
    });
    this.#budget = registry.gauge('perf.error_budget.remaining', {
      help: 'Share of the error budget left over the SLO window',
      unit: 'ratio',
      labels: ['slo'],
    });
  }

  /** Sets every gauge that has a value this check. */
  update(metrics: Measurements, scores: Scores | null, slas: readonly SlaResult[]): void {
    for (const [key, percentile] of Object.entries(PERCENTILE_LABEL) as [PerfMetricKey, string][]) {
      const v = metrics[key].value;
      if (v !== null) this.#latency.set(v, { percentile });
    }
    if (metrics.throughput.value !== null) this.#throughput.set(metrics.throughput.value);
    if (metrics.error_rate.value !== null) this.#errorRate.set(metrics.error_rate.value);
    if (scores !== null) {
      for (const [kind, v] of Object.entries<Scores[keyof Scores]>(scores))
        if (v !== null) this.#score.set(v, { kind });
    }
    for (const sla of slas) {
      if (sla.compliance !== null) this.#sla.set(sla.compliance, { sla: sla.name });
      if (sla.budget_remaining != null) this.#budget.set(sla.budget_remaining, { slo: sla.name });
    }
  }
}

/** Writes the check's figures to `derived` (see the module comment). */
export function publishDerived(
  derived: DerivedValues,
  at: number,
  metrics: Measurements,
  scores: Scores | null,
  slas: readonly SlaResult[],
): void {
  for (const key of PERF_METRICS) {
    const m = metrics[key];
    derived.set(key, {
      value: m.value ?? NaN,
      at,
      ...(m.window_ms === null ? {} : { windowMs: m.window_ms }),
      samples: m.samples,
    });
  }
  for (const kind of SCORE_KINDS) {
    derived.set(`score.${kind}`, { value: scores?.[kind] ?? NaN, at });
  }
  for (const sla of slas) {
    derived.set(`sla.${sla.name}.compliance`, {
      value: sla.compliance ?? NaN,
      at,
      windowMs: sla.covered_ms,
      samples: sla.samples,
    });
    if (sla.budget_remaining !== undefined)
      derived.set(`error_budget.${sla.name}`, { value: sla.budget_remaining ?? NaN, at, windowMs: sla.covered_ms });
  }
}
