/**
 * The statistics every reader takes from a histogram's sliding window: the stored history
 * (`<key>#p50` ... at each flush), the live feed, `metricValues` and alert rules all ask for the
 * same percentiles of the same window, so they read them here.
 */
import type { HistogramSeries } from './histogram.js';
import { Sketch } from './sketch.js';

/** The sliding windows every histogram answers for. */
export const WINDOWS = Object.freeze({ '1m': 60_000, '5m': 300_000 });
export type WindowName = keyof typeof WINDOWS;

/** The percentiles reported, by name, as quantiles (0..1). */
export const QUANTILES = Object.freeze({ p50: 0.5, p95: 0.95, p99: 0.99, p999: 0.999 });
export type QuantileName = keyof typeof QUANTILES;

/**
 * One sketch of the last `windowMs` of every series given: a percentile across label sets is a
 * percentile of the merged sketch, not a mean of per-series percentiles.
 */
export function windowSketch(series: readonly HistogramSeries[], windowMs: number): Sketch {
  if (series.length === 1) return series[0]!.window.merged(windowMs);
  const merged = new Sketch();
  for (const s of series) merged.merge(s.window.merged(windowMs));
  return merged;
}

/** A histogram series' figures as its history stores them; a percentile is undefined without data in the minute. */
export interface MinuteReadings {
  count: number;
  sum: number;
  p50: number | undefined;
  p95: number | undefined;
  p99: number | undefined;
}

/** The all-time count and sum, and the percentiles of the sliding 1-minute window (one merge serves all three). */
export function minuteReadings(series: HistogramSeries): MinuteReadings {
  const minute = series.window.merged(WINDOWS['1m']);
  return {
    count: series.count,
    sum: series.sum,
    p50: minute.quantile(QUANTILES.p50),
    p95: minute.quantile(QUANTILES.p95),
    p99: minute.quantile(QUANTILES.p99),
  };
}
