/**
 * The dashboards a server shows: the built-in "main" and "mcp" (mcp-dashboard.ts), then those in
 * `dashboard.json` → `dashboards` (one named "main" or "mcp" replaces the built-in). "main" charts the
 * performance monitor's `perf.*` gauges rather than the `response_time` histogram, because they cover
 * every instrumented server and are what SLAs and alerts judge, so the chart shows what the alerts
 * say. A configured chart without a `type` takes the file's `chart_type` (`auto` means line).
 * Chart by chart: docs/design-notes.md.
 */
import type { DashboardConfig } from '../config/schema.js';
import type { ChartDef, ChartType, DashboardDef } from './protocol.js';
import { HTTP_METRICS } from '../sources/http-instrument.js';
import { MCP_DASHBOARD } from './mcp-dashboard.js';

/** instrument.http's request counter and its status code label, read by the status-class chart. */
export const HTTP_REQUESTS = { metric: HTTP_METRICS.requests, statusLabel: 'code' } as const;

/** The status classes the status chart shows, by the status code's first digit. */
const STATUS_CLASSES = ['2', '3', '4', '5'] as const;

/** The built-in default dashboard: the source design's four charts and the runtime's own. */
export const MAIN_DASHBOARD: DashboardDef = Object.freeze({
  name: 'main',
  title: 'erlmcp monitor',
  charts: [
    {
      id: 'response_time',
      title: 'Response Time',
      type: 'line',
      unit: 'ms',
      series: [
        { label: 'p50', metric: 'perf.latency', labels: { percentile: 'p50' }, stat: 'value' },
        { label: 'p95', metric: 'perf.latency', labels: { percentile: 'p95' }, stat: 'value' },
        { label: 'p99', metric: 'perf.latency', labels: { percentile: 'p99' }, stat: 'value' },
      ],
    },
    {
      id: 'throughput',
      title: 'Throughput',
      type: 'line',
      unit: 'req/s',
      series: [{ label: 'req/s', metric: 'perf.throughput', stat: 'value' }],
    },
    {
      id: 'error_rate',
      title: 'Error Rate',
      type: 'line',
      unit: 'ratio',
      series: [{ label: 'errors', metric: 'perf.error_rate', stat: 'value' }],
    },
    {
      id: 'status_codes',
      title: 'Requests by status',
      type: 'line',
      unit: 'req/s',
      series: STATUS_CLASSES.map((c) => ({
        label: `${c}xx`,
        metric: HTTP_REQUESTS.metric,
        label_prefix: { [HTTP_REQUESTS.statusLabel]: c },
        stat: 'rate' as const,
      })),
    },
    {
      id: 'resource_usage',
      title: 'Resource Usage',
      type: 'gauge',
      unit: '%',
      max: 100,
      series: [
        { label: 'CPU', metric: 'system.cpu', stat: 'value' },
        { label: 'Memory of limit', metric: 'system.memory.percent', stat: 'value' },
      ],
    },
    {
      id: 'memory',
      title: 'Memory',
      type: 'line',
      unit: 'bytes',
      series: [
        { label: 'RSS', metric: 'system.memory', stat: 'value' },
        { label: 'heap used', metric: 'system.memory.heap_used', stat: 'value' },
      ],
    },
    {
      id: 'event_loop',
      title: 'Event-loop lag',
      type: 'line',
      unit: 'ms',
      series: [{ label: 'p99', metric: 'system.event_loop.delay', labels: { percentile: 'p99' }, stat: 'value' }],
    },
  ],
} satisfies DashboardDef);

/**
 * The dashboards of a config, "main" first. The config schema has already checked names, chart
 * ids and series; this applies the defaults that depend on other keys.
 *
 * @param config the validated `dashboard.json`
 * @returns a fresh list (callers may keep it): "main" and "mcp" (built-in or configured), then the others in file order
 */
export function dashboardsFrom(config: Pick<DashboardConfig, 'dashboards' | 'chart_type'>): DashboardDef[] {
  const fallback: ChartType = config.chart_type === 'auto' ? 'line' : config.chart_type;
  const configured = config.dashboards.map((d): DashboardDef => ({
    name: d.name,
    title: d.title,
    charts: d.charts.map((c): ChartDef => ({
      id: c.id,
      title: c.title,
      type: c.type ?? fallback,
      unit: c.unit,
      series: c.series.map((s) => ({
        label: s.label,
        metric: s.metric,
        stat: s.stat,
        ...(s.labels === undefined ? {} : { labels: { ...s.labels } }),
        ...(s.label_prefix === undefined ? {} : { label_prefix: { ...s.label_prefix } }),
      })),
      ...(c.max === undefined ? {} : { max: c.max }),
    })),
  }));
  const main = configured.find((d) => d.name === MAIN_DASHBOARD.name) ?? structuredClone(MAIN_DASHBOARD);
  const mcp = configured.find((d) => d.name === MCP_DASHBOARD.name) ?? structuredClone(MCP_DASHBOARD);
  return [main, mcp, ...configured.filter((d) => d !== main && d !== mcp)];
}
