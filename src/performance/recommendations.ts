/**
 * Recommendations, by the source's rules (`generate_recommendations`), which the source computed
 * and then discarded; here they are returned, each with the figure and the reason:
 * - latency p95 > latency_threshold          → optimize_database_queries, increase_cache_hit_rate
 * - throughput < 80 % of throughput_threshold → increase_connection_pool_size, optimize_hot_paths
 * - error rate > 50 % of error_rate_threshold → improve_error_handling, add_circuit_breakers
 * - CPU > 80 % of cpu_threshold               → optimize_cpu_intensive_operations, scale_horizontally
 * A figure without data, or a rule whose threshold is not configured, triggers nothing. (The
 * source reads memory but has no rule for it.)
 */
import type { PerformanceMonitorConfig } from '../config/schema.js';
import type { Measured, Measurements, PerfMetricKey } from './measurements.js';
import { formatValue } from './thresholds.js';

/** The source's recommendation atoms. */
export type RecommendationAction =
  | 'optimize_database_queries'
  | 'increase_cache_hit_rate'
  | 'increase_connection_pool_size'
  | 'optimize_hot_paths'
  | 'improve_error_handling'
  | 'add_circuit_breakers'
  | 'optimize_cpu_intensive_operations'
  | 'scale_horizontally';

export interface Recommendation {
  action: RecommendationAction;
  /** The figure that triggered it. */
  metric: PerfMetricKey;
  /** e.g. `'latency p95 182.4 ms > 100.0 ms'`. */
  reason: string;
}

interface Rule {
  metric: PerfMetricKey;
  label: string;
  /** The limit the value is compared with; undefined when its threshold is not configured. */
  limit: (config: PerformanceMonitorConfig) => number | undefined;
  /** What the limit is, for the reason, e.g. `'80 % of the throughput threshold'`. */
  limitText: string;
  when: 'above' | 'below';
  actions: [RecommendationAction, RecommendationAction];
}

const RULES: readonly Rule[] = [
  {
    metric: 'latency.p95',
    label: 'latency p95',
    limit: (c) => c.latency_threshold,
    limitText: 'the latency threshold',
    when: 'above',
    actions: ['optimize_database_queries', 'increase_cache_hit_rate'],
  },
  {
    metric: 'throughput',
    label: 'throughput',
    limit: (c) => (c.throughput_threshold === undefined ? undefined : c.throughput_threshold * 0.8),
    limitText: '80 % of the throughput threshold',
    when: 'below',
    actions: ['increase_connection_pool_size', 'optimize_hot_paths'],
  },
  {
    metric: 'error_rate',
    label: 'error rate',
    limit: (c) => c.error_rate_threshold * 0.5,
    limitText: '50 % of the error-rate threshold',
    when: 'above',
    actions: ['improve_error_handling', 'add_circuit_breakers'],
  },
  {
    metric: 'cpu',
    label: 'CPU',
    limit: (c) => c.cpu_threshold * 0.8,
    limitText: '80 % of the CPU threshold',
    when: 'above',
    actions: ['optimize_cpu_intensive_operations', 'scale_horizontally'],
  },
];

function triggers(rule: Rule, measured: Measured, limit: number): boolean {
  const v = measured.value;
  if (v === null) return false;
  return rule.when === 'above' ? v > limit : v < limit;
}

/** The recommendations for `m`, in rule order. */
export function recommend(m: Measurements, config: PerformanceMonitorConfig): Recommendation[] {
  const out: Recommendation[] = [];
  for (const rule of RULES) {
    const measured = m[rule.metric];
    const limit = rule.limit(config);
    if (limit === undefined || !triggers(rule, measured, limit)) continue;
    const reason = `${rule.label} ${formatValue(measured.value!, measured.unit)} ${rule.when === 'above' ? '>' : '<'} ${formatValue(limit, measured.unit)} (${rule.limitText})`;
    for (const action of rule.actions) out.push({ action, metric: rule.metric, reason });
  }
  return out;
}
