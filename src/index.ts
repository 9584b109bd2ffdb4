/**
 * Every export here is public API: `startMonitoring`, what it takes and gives, and what the
 * instrumentations and alerting ask of you. Advanced parts have subpaths of their own (see
 * package.json `exports`: `erlmcp-monitor/otp`, `/metrics`, `/store`, ...). Named exports only;
 * types are exported separately.
 */
export { startMonitoring } from '../actors/monitor-tree.js';
export { ErrorCode, MonitorError, NoProcError, CallTimeoutError } from './errors.js';
export { createLogger } from './logger.js';
export { serveMetrics } from './server/metrics-server.js';
export { expressRoute, fastifyRoute, routeTable } from './sources/http-routes.js';
export { HTTP_METRICS, UNMATCHED_ROUTE, OTHER_ROUTE } from './sources/http-instrument.js';
export { MCP_METRICS } from './sources/mcp-instrument.js';
export { PG_METRICS, PG_OPERATIONS } from './sources/pg-instrument.js';
export { OUTBOUND_METRICS, OTHER_HOST } from './sources/outbound-instrument.js';
export { LOG_METRICS } from './sources/pino-instrument.js';
export { SEVERITIES } from './alerts/severity.js';
export { DeliveryError } from './notify/types.js';

export type { Monitor, MonitoringOptions } from '../actors/monitor-tree.js';
export type { MonitorInstruments } from '../actors/monitor-instruments.js';
export type { Logger, LogLevel } from './logger.js';
export type { ClockSource } from './clock.js';
export type {
  Config,
  DeepPartial,
  MonitoringConfig,
  PerformanceMonitorConfig,
  AlertingConfig,
  DashboardConfig,
} from './config/index.js';
export type {
  Registry,
  AnyMetric,
  MetricSnapshot,
  MetricValue,
  RegisterOptions,
  SeriesValue,
} from './metrics/registry.js';
export type { Counter, CounterSeries } from './metrics/counter.js';
export type { Gauge, GaugeSeries } from './metrics/gauge.js';
export type {
  Histogram,
  HistogramSeries,
  HistogramOptions,
  HistogramStats,
  Percentiles,
  WindowStats,
} from './metrics/histogram.js';
export type { MetricOptions, MetricType } from './metrics/metric.js';
export type { Labels } from './metrics/label-map.js';
export type { DerivedValues, DerivedValue } from './metrics/derived-values.js';
export type { CollectorProtocol, MetricUpdate, CollectorStats, MetricInfo } from '../actors/collector.js';
export type { PerformanceMonitorProtocol, CheckResult } from '../actors/performance-monitor.js';
export type { PerformanceReport } from './performance/report.js';
export type { SlaResult } from './performance/sla.js';
export type { AlertingClient } from '../actors/alerting-client.js';
export type { Alert } from './alerts/alert.js';
export type { RuleInput, AlertRule, Condition, HistogramStat } from './alerts/rule.js';
export type { RuleStatus } from './alerts/alert-engine.js';
export type { LabelMatcher, MatchOp } from './alerts/label-matcher.js';
export type { SilenceInput, Silence, SilenceView, SilenceState } from './alerts/silences.js';
export type { Severity } from './alerts/severity.js';
export type { AlertView } from './server/protocol.js';
export type { ChannelName, DeadLetter, Notification, NotificationChannel, NotifiedAlert } from './notify/types.js';
export type { HttpInstrumentOptions, RouteOf } from './sources/http-instrument.js';
export type { FastifyHooks, FastifyRequestFields } from './sources/http-routes.js';
export type {
  McpInstrumentOptions,
  McpProtocolLike,
  McpServerLike,
  McpTransportLike,
} from './sources/mcp-instrument.js';
export type { PgInstrumentOptions, PgPoolLike } from './sources/pg-instrument.js';
export type { OutboundInstrumentOptions, FailureKind } from './sources/outbound-instrument.js';
export type { PinoDestinationLike, PinoLoggerLike, PinoLineCounter } from './sources/pino-instrument.js';
export type { MetricsServer, MetricsServerOptions } from './server/metrics-server.js';
export type { HttpTimeouts } from './server/request-guard.js';
export type { FlushSummary } from './store/table-store.js';
export type { AlertSignal, AlertSink } from './alerts/signal.js';
export type { MetricSource } from './sources/source.js';
export type { DeliveryContext } from './notify/types.js';
export type { ServerAddress } from './server/http-server.js';
export type { ChildSpec, ExitReason, OtpSystem, ServerRef, SupervisorPid } from './otp/index.js';
