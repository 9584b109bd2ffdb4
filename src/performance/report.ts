/**
 * The performance report (the source's `get_performance_report`): the measurements, the summary
 * scores and the recommendations, plus what is currently firing. One is built at every check,
 * stored in LMDB (`perf_reports`) and returned by the `report` call.
 */
import type { Severity } from '../alerts/severity.js';
import type { PerformanceMonitorConfig } from '../config/schema.js';
import type { Scores } from '../server/protocol.js';
import type { BurnRateStatus } from './burn-rate.js';
import type { Measurements } from './measurements.js';
import { recommend, type Recommendation } from './recommendations.js';
import { computeScores } from './scores.js';

export interface PerformanceReport {
  /** When it was built, ms since the epoch. */
  at: number;
  /** The configured window for latency, throughput and error rate, ms (each metric says what it covers). */
  window_ms: number;
  metrics: Measurements;
  /** `null` when `scoring_enabled` is false. */
  scores: Scores | null;
  /** `null` when `recommendations_enabled` is false. */
  recommendations: Recommendation[] | null;
  /** Error-budget burn rates of the availability / error-rate SLOs. */
  burn_rates: BurnRateStatus[];
  /** Conditions this monitor reports as firing (alert key → severity), e.g. `{ 'latency.p95': 'info' }`. */
  firing: Record<string, Severity>;
}

/** Builds a report from one check's figures. */
export function buildReport(
  at: number,
  config: PerformanceMonitorConfig,
  metrics: Measurements,
  burnRates: BurnRateStatus[],
  firing: Record<string, Severity>,
): PerformanceReport {
  return {
    at,
    window_ms: config.window,
    metrics,
    scores: config.scoring_enabled ? computeScores(metrics, config) : null,
    recommendations: config.recommendations_enabled ? recommend(metrics, config) : null,
    burn_rates: burnRates,
    firing,
  };
}
