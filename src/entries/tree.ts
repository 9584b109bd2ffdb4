/**
 * `erlmcp-monitor/tree`: the registered names and message protocols of the monitoring tree's
 * processes, for `mon.system.whereis(name)`, supervisor calls and reports. Every export here is
 * public API.
 */
export { MONITOR_SUP_NAME } from '../../actors/monitor-tree.js';
export { COLLECTOR_NAME } from '../../actors/collector.js';
export { PERFORMANCE_MONITOR_NAME } from '../../actors/performance-monitor.js';
export { ALERTING_NAME } from '../../actors/alerting.js';
export { DASHBOARD_NAME } from '../../actors/dashboard.js';

export type { CollectorProtocol, MetricUpdate, CollectorStats, MetricInfo } from '../../actors/collector.js';
export type { PerformanceMonitorProtocol, CheckResult } from '../../actors/performance-monitor.js';
export type { AlertingProtocol } from '../../actors/alerting.js';
export type { FlushSummary } from '../store/table-store.js';
export type { AlertSignal } from '../alerts/signal.js';
export type { DashboardProtocol } from '../../actors/dashboard.js';
