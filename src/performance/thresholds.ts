/**
 * Threshold checks: each check compares latency p95, throughput, error rate, CPU %, memory % and
 * event-loop delay p99 with its configured threshold, as the source's `check_thresholds`, with
 * two corrections: throughput breaches when it falls BELOW its threshold (the source's
 * `value > threshold` would alert on a service doing more than expected, while its own scores
 * and recommendations treat low throughput as the problem), and a figure without data is not
 * breached (nothing measured, nothing to alert on). Throughput is checked only when
 * `throughput_threshold` is configured: a quiet service is not an unhealthy one.
 *
 * Severities are the source's (`performance_metric.severity`): latency and throughput `info`,
 * error rate, CPU and memory `warning`; event-loop delay (not in the source) `warning`.
 */
import type { Severity } from '../alerts/severity.js';
import type { PerformanceMonitorConfig } from '../config/schema.js';
import type { Measured, PerfMetricKey } from './measurements.js';

export interface ThresholdRule {
  /** The measured figure, also the alert key. */
  key: PerfMetricKey;
  /** For messages, e.g. `'latency p95'`. */
  label: string;
  threshold: number;
  /** `above`: breached when value > threshold; `below`: when value < threshold. */
  breachWhen: 'above' | 'below';
  severity: Severity;
}

/** The rules for `config`, in the source's order; throughput only when `throughput_threshold` is set. */
export function thresholdRules(config: PerformanceMonitorConfig): ThresholdRule[] {
  const throughput = config.throughput_threshold;
  return [
    {
      key: 'latency.p95',
      label: 'latency p95',
      threshold: config.latency_threshold,
      breachWhen: 'above',
      severity: 'info',
    },
    ...(throughput === undefined
      ? []
      : [
          {
            key: 'throughput',
            label: 'throughput',
            threshold: throughput,
            breachWhen: 'below',
            severity: 'info',
          } as const,
        ]),
    {
      key: 'error_rate',
      label: 'error rate',
      threshold: config.error_rate_threshold,
      breachWhen: 'above',
      severity: 'warning',
    },
    { key: 'cpu', label: 'CPU', threshold: config.cpu_threshold, breachWhen: 'above', severity: 'warning' },
    { key: 'memory', label: 'memory', threshold: config.memory_threshold, breachWhen: 'above', severity: 'warning' },
    {
      key: 'event_loop.p99',
      label: 'event-loop delay p99',
      threshold: config.event_loop_threshold,
      breachWhen: 'above',
      severity: 'warning',
    },
  ];
}

/** Whether `measured` breaches `rule`; `false` without data. */
export function isBreached(rule: ThresholdRule, measured: Measured): boolean {
  const v = measured.value;
  if (v === null) return false;
  return rule.breachWhen === 'above' ? v > rule.threshold : v < rule.threshold;
}

const UNIT_TEXT: Record<Measured['unit'], string> = { ms: ' ms', 'req/s': ' req/s', ratio: '', percent: ' %' };

/**
 * `182.4 ms`, `0.0312`, `85.0 %`; a percentage between 99 and 100 with five significant digits
 * (`99.973 %`: one decimal would call it 100.0 %).
 * @param exact for a configured figure (a threshold, a target): as above when that is exact,
 *   otherwise every digit it has (`99.999 %`, not `100.0 %`)
 */
export function formatValue(value: number, unit: Measured['unit'], exact = false): string {
  let text: string;
  if (unit === 'ratio') text = value.toPrecision(3);
  else if (!exact && unit === 'percent' && value > 99 && value < 100) text = value.toPrecision(5);
  else text = value.toFixed(1);
  if (exact && Number(text) !== value) text = String(Number(value.toPrecision(6)));
  return `${text}${UNIT_TEXT[unit]}`;
}

/** One line for people: `'latency p95 182.4 ms > threshold 100.0 ms (window 60 s, 5210 samples)'`. */
export function describeCheck(rule: ThresholdRule, measured: Measured): string {
  if (measured.value === null) return `${rule.label}: no data (${measured.no_data ?? 'unknown'})`;
  const breached = isBreached(rule, measured);
  const op = rule.breachWhen === 'above' ? (breached ? '>' : '<=') : breached ? '<' : '>=';
  const window =
    measured.window_ms === null
      ? 'latest reading'
      : `window ${Math.round(measured.window_ms / 1000)} s, ${measured.samples} samples`;
  return `${rule.label} ${formatValue(measured.value, measured.unit)} ${op} threshold ${formatValue(rule.threshold, measured.unit, true)} (${window})`;
}
