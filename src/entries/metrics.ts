/**
 * `erlmcp-monitor/metrics`: the metric table on its own (a `Registry` without the tree) and its
 * metric kinds, for a table of your own or tests. Every export here is public API.
 */
export { Registry, DROPPED_SERIES_METRIC } from '../metrics/registry.js';
export { Counter, CounterSeries } from '../metrics/counter.js';
export { Gauge, GaugeSeries } from '../metrics/gauge.js';
export { Histogram, HistogramSeries, DEFAULT_BUCKETS, WINDOWS } from '../metrics/histogram.js';
export { Sketch, SlidingSketch } from '../metrics/sketch.js';
export { SliceClock } from '../metrics/slice-clock.js';
export { DerivedValues } from '../metrics/derived-values.js';

export type {
  AnyMetric,
  MetricSnapshot,
  MetricValue,
  RegistryOptions,
  RegisterOptions,
  SeriesValue,
} from '../metrics/registry.js';
export type { MetricOptions, MetricType } from '../metrics/metric.js';
export type { HistogramOptions, HistogramStats, Percentiles, WindowStats } from '../metrics/histogram.js';
export type { Labels } from '../metrics/label-map.js';
export type { DerivedValue } from '../metrics/derived-values.js';
