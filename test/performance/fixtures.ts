import { performanceMonitorSchema, type PerformanceMonitorConfig } from '../../src/config/schema.js';
import type { Measured, Measurements } from '../../src/performance/measurements.js';

/** The shipped defaults with `overrides`, validated by the real schema. */
export function perfConfig(overrides: Record<string, unknown> = {}): PerformanceMonitorConfig {
  return performanceMonitorSchema.parse(overrides);
}

const noData = (unit: Measured['unit']): Measured => ({
  value: null,
  unit,
  window_ms: 60_000,
  samples: 0,
  no_data: 'no requests',
});

/** Measurements with every figure absent except those given (value only). */
export function measurements(values: Partial<Record<keyof Measurements, number>>): Measurements {
  const units: Record<keyof Measurements, Measured['unit']> = {
    'latency.p50': 'ms',
    'latency.p95': 'ms',
    'latency.p99': 'ms',
    throughput: 'req/s',
    error_rate: 'ratio',
    cpu: 'percent',
    memory: 'percent',
    'event_loop.p99': 'ms',
  };
  const out = {} as Measurements;
  for (const key of Object.keys(units) as (keyof Measurements)[]) {
    const v = values[key];
    out[key] = v === undefined ? noData(units[key]) : { value: v, unit: units[key], window_ms: 60_000, samples: 100 };
  }
  return out;
}
