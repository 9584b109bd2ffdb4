/**
 * What cluster workers send the primary over the node:cluster IPC channel: snapshots of the series
 * that changed since their previous report, each series as its `Series.snapshot()` state (the same
 * form the store persists: counters and gauges `{v}`, histograms their buckets, sum, count, min,
 * max and all-time sketch). Absolute values, not deltas: a lost or repeated report cannot skew a
 * counter, and the primary just keeps each worker's latest.
 */
import type { MetricType } from '../metrics/metric.js';

/** The `type` of a metrics report on the IPC channel. */
export const CLUSTER_METRICS_MESSAGE = 'erlmcp-monitor.cluster.metrics';

/** One series of a report. */
export interface ClusterSeries {
  labels: Record<string, string>;
  /** `Series.snapshot()` of the worker's series. */
  state: unknown;
}

/** One metric of a report, with its definition, so the primary can register it. */
export interface ClusterMetric {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  labelNames: string[];
  /** Histogram bucket bounds. */
  buckets?: number[];
  series: ClusterSeries[];
}

/** One report of one worker. */
export interface ClusterMetricsMessage {
  type: typeof CLUSTER_METRICS_MESSAGE;
  metrics: ClusterMetric[];
}

/** Whether an IPC message is a metrics report (other messages on the channel belong to the host). */
export function isClusterMetricsMessage(msg: unknown): msg is ClusterMetricsMessage {
  return (
    typeof msg === 'object' &&
    msg !== null &&
    (msg as { type?: unknown }).type === CLUSTER_METRICS_MESSAGE &&
    Array.isArray((msg as { metrics?: unknown }).metrics)
  );
}
