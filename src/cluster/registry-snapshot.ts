/**
 * The series of a registry that changed since the last snapshot taken with the same `sent` map,
 * as cluster messages. The registry's own dropped-series counter is left out: every process has
 * one, and the view keeps its own.
 */
import { DROPPED_SERIES_METRIC, type Registry } from '../metrics/registry.js';
import type { ClusterMetric } from './cluster-messages.js';

/**
 * @param sent each series' version at its last snapshot, by series key (a counter's series handle
 *   is a new object at each `series()` call); updated here
 */
export function snapshotChanged(registry: Registry, sent: Map<string, number>): ClusterMetric[] {
  const out: ClusterMetric[] = [];
  for (const metric of registry.metrics()) {
    if (metric.name === DROPPED_SERIES_METRIC) continue;
    const series: ClusterMetric['series'] = [];
    if (metric.type === 'histogram') {
      metric.walk(0, Infinity, (slot) => {
        const s = metric.seriesAt(slot);
        const version = s.version();
        const key = s.key;
        if (sent.get(key) === version) return;
        sent.set(key, version);
        series.push({ labels: { ...s.labels }, state: s.snapshot() });
      });
    } else {
      // From the value column by slot: no series handle per series at every report.
      const values = metric.table.values;
      metric.walk(0, Infinity, (slot) => {
        const version = values.get(slot);
        const key = metric.keyAt(slot);
        if (sent.get(key) === version) return;
        sent.set(key, version);
        series.push({ labels: { ...metric.labelsAt(slot) }, state: { v: version } });
      });
    }
    if (series.length === 0) continue;
    out.push({
      name: metric.name,
      type: metric.type,
      help: metric.help,
      unit: metric.unit,
      labelNames: [...metric.labelNames],
      ...(metric.type === 'histogram' ? { buckets: [...metric.buckets] } : {}),
      series,
    });
  }
  return out;
}
