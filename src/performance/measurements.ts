/**
 * One check's measurements: latency p50/p95/p99 over the window, throughput and error rate over
 * the same window, CPU %, memory % and event-loop delay p99. Each says what window it covers and
 * how many samples it rests on; without data its value is `null` with the reason, never an
 * invented 0 (an idle service has no latency, not a latency of 0 ms).
 */
import type { Registry } from '../metrics/registry.js';
import { QUANTILES } from '../metrics/window-stats.js';
import type { CounterHistory, CounterSample } from './counter-history.js';
import { EVENT_LOOP_PERCENTILE, gaugeValue, INPUT_METRICS, latencyWindow } from './table-readings.js';

/** The measured figures, by the name used for alert keys and derived values. */
export const PERF_METRICS = [
  'latency.p50',
  'latency.p95',
  'latency.p99',
  'throughput',
  'error_rate',
  'cpu',
  'memory',
  'event_loop.p99',
] as const;
export type PerfMetricKey = (typeof PERF_METRICS)[number];

/** One measured figure. */
export interface Measured {
  /** `null`: no data (see `no_data`). */
  value: number | null;
  unit: 'ms' | 'req/s' | 'ratio' | 'percent';
  /**
   * The window the value covers, ms; `null` for a gauge's latest reading (CPU and event-loop
   * delay are measured by the collector over its own collection interval).
   */
  window_ms: number | null;
  /** Observations (latency), requests (throughput, error rate) or readings (gauges: 1 or 0) behind the value. */
  samples: number;
  /** Why there is no value. */
  no_data?: string;
}

export type Measurements = Record<PerfMetricKey, Measured>;

function noData(unit: Measured['unit'], windowMs: number | null, why: string): Measured {
  return { value: null, unit, window_ms: windowMs, samples: 0, no_data: why };
}

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}

/**
 * Measures everything from the table and the request history.
 * @param current this check's request totals (from `CounterHistory.reading`), undefined when
 *   `http.server.requests` does not exist
 */
export function measure(
  registry: Registry,
  requests: CounterHistory,
  current: CounterSample | undefined,
  windowMs: number,
  now: number,
): Measurements {
  const out = {} as Measurements;

  const latency = latencyWindow(registry, windowMs, now);
  const latencyWindowMs = latency?.windowMs ?? windowMs;
  const count = latency?.sketch.count ?? 0;
  for (const [key, q] of [
    ['latency.p50', QUANTILES.p50],
    ['latency.p95', QUANTILES.p95],
    ['latency.p99', QUANTILES.p99],
  ] as const) {
    if (latency === undefined)
      out[key] = noData('ms', latencyWindowMs, `no "${INPUT_METRICS.latency}" histogram in the table`);
    else if (count === 0)
      out[key] = noData('ms', latencyWindowMs, `no requests in the last ${seconds(latencyWindowMs)}`);
    else out[key] = { value: latency.sketch.quantile(q)!, unit: 'ms', window_ms: latencyWindowMs, samples: count };
  }

  const counts = current === undefined ? undefined : requests.over(windowMs, current);
  if (current === undefined) {
    const why = `no "${INPUT_METRICS.requests}" counter in the table`;
    out.throughput = noData('req/s', windowMs, why);
    out.error_rate = noData('ratio', windowMs, why);
  } else if (counts === undefined || counts.coveredMs <= 0) {
    const why = 'no earlier request count to compare with yet (first check)';
    out.throughput = noData('req/s', windowMs, why);
    out.error_rate = noData('ratio', windowMs, why);
  } else {
    out.throughput = {
      value: counts.requests / (counts.coveredMs / 1000),
      unit: 'req/s',
      window_ms: counts.coveredMs,
      samples: counts.requests,
    };
    out.error_rate =
      counts.requests === 0
        ? noData('ratio', counts.coveredMs, `no requests in the last ${seconds(counts.coveredMs)}`)
        : {
            value: Math.min(1, counts.errors / counts.requests),
            unit: 'ratio',
            window_ms: counts.coveredMs,
            samples: counts.requests,
          };
  }

  const gauge = (name: string, unit: Measured['unit'], labels?: Record<string, string>): Measured => {
    const value = gaugeValue(registry, name, labels);
    if (value === undefined) {
      const series = labels === undefined ? `"${name}"` : `"${name}{percentile="${labels.percentile}"}"`;
      return noData(unit, null, `no ${series} gauge in the table (is the collector's process source running?)`);
    }
    return { value, unit, window_ms: null, samples: 1 };
  };
  out.cpu = gauge(INPUT_METRICS.cpu, 'percent');
  out.memory = gauge(INPUT_METRICS.memory, 'percent');
  out['event_loop.p99'] = gauge(INPUT_METRICS.eventLoopDelay, 'ms', { percentile: EVENT_LOOP_PERCENTILE });
  return out;
}
