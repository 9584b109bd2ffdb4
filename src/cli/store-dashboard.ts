/**
 * The `store` dashboard `serve` adds beside the configured ones: one chart per metric found in the
 * store, so an application's own metrics can be looked at without writing a dashboard.json first.
 * Counters chart their rate, gauges their value, histograms their p50/p95/p99 (each labelled
 * series on its own line, up to {@link MAX_LINES}; more are combined into one). A histogram's
 * derived `#...` series are charted through it, not on their own.
 */
import type { ChartDef, ChartSeriesDef, DashboardDef, SeriesStat } from '../server/protocol.js';
import type { SeriesDef } from '../store/types.js';

export const STORE_DASHBOARD = 'store';
/** Charts at most (the page lays every chart out at once). */
export const MAX_CHARTS = 64;
/** Lines per chart before the series are combined. */
export const MAX_LINES = 8;

/**
 * @param defs the stored series definitions
 * @returns the dashboard, or `undefined` when the store has no series
 */
export function storeDashboard(defs: readonly SeriesDef[]): DashboardDef | undefined {
  const byName = new Map<string, SeriesDef[]>();
  for (const def of defs) {
    if (def.name.includes('#')) continue;
    const list = byName.get(def.name);
    if (list === undefined) byName.set(def.name, [def]);
    else list.push(def);
  }
  const charts: ChartDef[] = [];
  for (const [name, series] of [...byName].sort(([a], [b]) => a.localeCompare(b)).slice(0, MAX_CHARTS)) {
    const first = series[0]!;
    const stats: SeriesStat[] =
      first.type === 'histogram' ? ['p50', 'p95', 'p99'] : first.type === 'counter' ? ['rate'] : ['value'];
    const lines: ChartSeriesDef[] = [];
    const each = series.length <= MAX_LINES && (stats.length === 1 || series.length === 1);
    for (const stat of stats) {
      if (!each) lines.push({ label: stats.length === 1 ? name : stat, metric: name, stat });
      else
        for (const s of series)
          lines.push({ label: lineLabel(s, stat, stats.length > 1), metric: name, stat, labels: { ...s.labels } });
    }
    charts.push({
      id: `m${charts.length + 1}`,
      title: name,
      type: 'line',
      unit: first.type === 'counter' ? `${first.unit}/s` : first.unit,
      series: lines,
    });
  }
  return charts.length === 0 ? undefined : { name: STORE_DASHBOARD, title: 'Stored metrics', charts };
}

function lineLabel(def: SeriesDef, stat: SeriesStat, withStat: boolean): string {
  const labels = Object.entries(def.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  if (withStat) return labels === '' ? stat : `${stat} ${labels}`;
  return labels === '' ? def.name : labels;
}
