/**
 * Every export here is public API. Named exports only; types are exported separately.
 */
import type { Server as HttpServer } from 'node:http';
import { ALERTING_NAME, type AlertingProtocol, alerting } from '../actors/alerting.js';
import { COLLECTOR_NAME, collector, type CollectorProtocol } from '../actors/collector.js';
import { DASHBOARD_NAME, type DashboardProtocol, dashboard } from '../actors/dashboard.js';
import { MONITOR_SUP_NAME, startMonitorSup } from '../actors/monitor-sup.js';
import { PERFORMANCE_MONITOR_NAME, type PerformanceMonitorProtocol, performanceMonitor } from '../actors/performance-monitor.js';
import { type AlertingClient, alertingClient } from './alerts/alerting-client.js';
import { FiringAlerts } from './alerts/firing-alerts.js';
import type { RuleInput } from './alerts/rule.js';
import type { AlertSink } from './alerts/signal.js';
import { SignalRelay } from './alerts/signal-relay.js';
import { type Config, type DeepPartial, loadConfig } from './config/index.js';
import { ErrorCode, MonitorError } from './errors.js';
import { renderExposition, type StreamedExposition, streamExposition } from './exposition/negotiate.js';
import { createLogger, type Logger } from './logger.js';
import { DerivedValues } from './metrics/derived-values.js';
import { Registry } from './metrics/registry.js';
import { restoreTable } from './metrics/table-store.js';
import {
  type ChildSpec,
  type ExitReason,
  formatExitReason,
  isOrderlyExit,
  OtpSystem,
  type ServerRef,
  type SupervisorPid,
  workerChild,
} from './otp/index.js';
import { type HttpInstrumentOptions, instrumentHttp } from './sources/http-instrument.js';
import { instrumentPg, type PgInstrumentOptions, type PgPoolLike } from './sources/pg-instrument.js';
import { instrumentOutbound, type OutboundInstrumentOptions } from './sources/outbound-instrument.js';
import { instrumentPino, type PinoDestinationLike, pinoDestination, type PinoLineCounter, type PinoLoggerLike } from './sources/pino-instrument.js';
import { instrumentMcp, type McpInstrumentOptions, type McpProtocolLike, type McpServerLike } from './sources/mcp-instrument.js';
import { ProcessSource } from './sources/process-source.js';
import type { MetricSource } from './sources/source.js';
import { AlertmanagerChannel } from './notify/alertmanager-channel.js';
import { DashboardAddress } from './notify/dashboard-address.js';
import { channelRedactor, createChannels } from './notify/create-channels.js';
import { Outbox } from './notify/outbox.js';
import type { NotificationChannel } from './notify/types.js';
import type { Scores } from './protocol.js';
import { type DashboardSources, storeHealthOf } from './server/dashboard-sources.js';
import type { ServerAddress } from './server/http-server.js';
import { MetricStore } from './store/lmdb-store.js';
import { type ClockSource, MonitorClock } from './clock.js';
import { SliceClock } from './metrics/slice-clock.js';

export interface MonitoringOptions {
  /** Directory with monitoring.json, performance_monitor.json, alerting.json, dashboard.json; must exist. Default: none (all defaults). */
  configDir?: string;
  /** Where the LMDB env lives (default: `data_dir` of monitoring.json, `./.erlmcp-monitor`). */
  dataDir?: string;
  /** Programmatic config overrides, validated like the files. */
  config?: DeepPartial<Config>;
  /** Environment for overrides (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Where reports go (default: JSON lines on stderr). A pino logger fits. */
  logger?: Logger;
  /** Measure this process (CPU, memory, event loop, GC) (default true). */
  processMetrics?: boolean;
  /** Called once when the tree stops, whether by `stop()` or by giving up after too many crashes. */
  onStop?: (reason: ExitReason) => void;
  /** Alert rules to evaluate besides those added at run time with `mon.alerting.addRule` (validated at start). */
  alertRules?: readonly RuleInput[];
  /** Notification channels of your own (or a pre-built one), added to the enabled channels of `alerting.json`. */
  channels?: readonly NotificationChannel[];
  /**
   * Your own processes to supervise in the monitoring tree, started after the built-in children
   * (and stopped before them). They share the tree's restart intensity (10 in 60 s).
   */
  extraChildren?: readonly ChildSpec[];
  /**
   * Where the tree reads the wall and monotonic clocks (default `Date.now`, `performance.now`):
   * for tests and simulations of clock steps. Durations and windows follow the monotonic clock;
   * the wall clock only stamps (see `MonitorClock`).
   */
  clock?: ClockSource;
}

/** The running monitoring tree. */
export interface Monitor {
  /** The validated configuration in force. */
  readonly config: Config;
  /** The metric table: register metrics and update them here (the hot path). */
  readonly metrics: Registry;
  /** The collector's message API (follows restarts). */
  readonly collector: ServerRef<CollectorProtocol>;
  /** The performance monitor (`report`, `check_slas`, `history`, `check`); follows restarts. */
  readonly performance: ServerRef<PerformanceMonitorProtocol>;
  /** Alerts, rules, silences and dead letters. */
  readonly alerting: AlertingClient;
  /** Figures the performance monitor derives (`latency.p95`, `throughput`, `score.overall`, ...), newest first-hand. */
  readonly derived: DerivedValues;
  /** Where the dashboard listens; rejects with `EMON_NOPROC` when it is disabled or down. */
  dashboardAddress(): Promise<ServerAddress>;
  /** Instrumentation of your servers. */
  readonly instrument: {
    /**
     * Measures a node:http/https server into `http.server.requests`, `.errors`, `.duration`,
     * `.connections`, `.received_bytes` and `.sent_bytes` (names owned by the instrumentation);
     * `route` (e.g. `expressRoute`, `fastifyRoute(app)`, `routeTable([...])`) adds per-route
     * labels. Returns a function that removes the instrumentation.
     */
    http(server: HttpServer, options?: HttpInstrumentOptions): () => void;
    /**
     * Measures a node-postgres `pg.Pool` into `db.pool.connections`, `.waiting`, `.max`,
     * `.acquire.duration`, `.errors` and `db.query.duration` / `.errors` by operation (the query's
     * first keyword, never its text). Returns a function that removes the instrumentation;
     * `stop()` removes it too. `pg` is never imported by this package.
     */
    pg(pool: PgPoolLike, options?: PgInstrumentOptions): () => void;
    /**
     * Measures the process's outbound HTTP (`fetch` and node:http/https clients, from Node's
     * diagnostics channels) into `http.client.requests`, `.errors` and `.duration` by client,
     * method, status class and host (at most `maxHosts`, default 50, then `host="other"`; never
     * paths). The monitor's own notification and remote-write requests are left out. Returns a
     * function that removes it (as `stop()` does). @throws {MonitorError} `EMON_INVALID_OPTION`
     * for a bad option or a second call before the first is removed
     */
    outbound(options?: OutboundInstrumentOptions): () => void;
    /**
     * Counts the lines of an existing pino logger, and of every logger of its family (root and
     * children, made before or after), by level into `log.lines` (a histogram of line lengths:
     * its count is the lines). Returns a function that removes it (as `stop()` does).
     * @throws {MonitorError} `EMON_INVALID_OPTION` if it is not a pino logger or is counted already
     */
    pino(logger: PinoLoggerLike): () => void;
    /**
     * The same counting as a destination to create a pino logger with: `pino(options,
     * mon.instrument.pinoDestination(pino.destination(1)))` (default `process.stdout`). It keeps
     * counting into the table after `stop()`, as updates do.
     */
    pinoDestination(dest?: PinoDestinationLike): PinoLineCounter;
    /**
     * Measures an MCP server of `@modelcontextprotocol/sdk` (an McpServer or a low-level Server,
     * connected or not) into `mcp.requests`, `mcp.request.duration`, `mcp.errors`, `mcp.tool.*`,
     * `mcp.resource.reads`, `mcp.prompt.gets`, `mcp.notifications`, `mcp.cancelled`,
     * `mcp.sessions.*`, `mcp.session.duration` and `mcp.received_bytes` / `mcp.sent_bytes`
     * (names owned by the instrumentation). Returns a function that removes the instrumentation.
     */
    mcp(server: McpServerLike | McpProtocolLike, options?: McpInstrumentOptions): () => void;
  };
  /** The top supervisor (`erlmcp_monitor_sup`). */
  readonly supervisor: SupervisorPid;
  /** The OTP system the tree runs in (name registry, logger). */
  readonly system: OtpSystem;
  /**
   * Settles when the tree stops, for whatever reason. Never rejects. With the tree's exit reason,
   * except when the top supervisor gave up (it exits `shutdown`, as OTP's does, after reporting
   * `reached_max_restart_intensity`): then `{ crash }` with code `EMON_MAX_RESTART_INTENSITY` and
   * the report's sentence (the limit and the last exit).
   */
  readonly stopped: Promise<ExitReason>;
  /** The whole table in the Prometheus text format (version 0.0.4), or OpenMetrics when `accept` asks for it. */
  metricsText(accept?: string): Promise<string>;
  /** Orderly shutdown: children stop in reverse order, the last flush is written, the store is closed. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the monitoring supervision tree: opens the store under `dataDir`, restores the metric
 * table from it, opens the notification outbox (which resumes undelivered notifications), and
 * starts erlmcp_monitor_sup with the collector, the performance monitor, alerting and the
 * dashboard (when `dashboard_enabled`), in that order.
 *
 * If the tree exceeds its restart intensity it stops itself, logs one error line and calls
 * `onStop`; it never throws into the host application. The metric table keeps accepting updates.
 *
 * @throws {MonitorError} (rejects) `EMON_INVALID_CONFIG` naming the file and key (or a `configDir`
 *   that does not exist), or `EMON_INIT_FAILED` if a child fails to start (nothing is left running;
 *   a dashboard port in use is its cause, `EMON_LISTEN_FAILED`, naming the settings that change it)
 * @throws {MonitorError} (rejects) `EMON_STORE_LOCKED` if another process has `dataDir` open for
 *   writing; `EMON_STORE_FAILED` naming the path if the store is damaged (see `on_corrupt`), not a
 *   metric store, or cannot be opened
 */
export async function startMonitoring(options: MonitoringOptions = {}): Promise<Monitor> {
  if (options.onStop !== undefined && typeof options.onStop !== 'function') {
    throw new MonitorError(ErrorCode.InvalidOption, 'onStop must be a function');
  }
  const config = loadConfig({ configDir: options.configDir, env: options.env, overrides: options.config });
  const log = options.logger ?? createLogger();
  const clock = new MonitorClock(options.clock);
  const registry = new Registry({
    seriesLimit: config.monitoring.series_limit,
    namespace: config.monitoring.namespace,
    defaultBuckets: config.monitoring.histogram_buckets,
    logger: log,
    clock: new SliceClock(undefined, clock.steadyMs()),
  });
  const store = MetricStore.open({
    dataDir: options.dataDir ?? config.monitoring.data_dir,
    retentionMs: config.monitoring.retention_period,
    onCorrupt: config.monitoring.on_corrupt,
  });
  if (store.movedAside !== undefined) {
    const { to, reason } = store.movedAside;
    log.error({ dataDir: store.dataDir, movedTo: to, reason }, 'the metric store was damaged: moved it aside (on_corrupt: move_aside) and started a new, empty one');
  }
  try {
    const { restored, skipped } = restoreTable(registry, store, log);
    if (restored + skipped > 0) log.info({ restored, skipped }, 'metric table restored from the store');
  } catch (err) {
    await store.close();
    throw err;
  }
  const system = new OtpSystem({ logger: log });
  const derived = new DerivedValues();
  const dashboardAddress = new DashboardAddress({
    enabled: config.dashboard.dashboard_enabled,
    host: config.dashboard.host,
    port: config.dashboard.port,
    instance: config.alerting.channels.alertmanager.instance,
  });
  const firingAlerts = new FiringAlerts();
  let outbox: Outbox;
  try {
    outbox = openOutbox(config, store, registry, log, options.channels ?? [], clock, dashboardAddress, firingAlerts);
  } catch (err) {
    system.close();
    await store.close();
    throw err;
  }
  const closeOwned = async (): Promise<void> => {
    system.close();
    try {
      await outbox.close();
    } catch (err) {
      log.error({ err }, 'closing the notification outbox failed');
    }
    await store.close();
  };
  const sources = (): MetricSource[] => (options.processMetrics === false ? [] : [new ProcessSource(registry)]);
  const alertingRef = system.ref<AlertingProtocol>(ALERTING_NAME);
  const performanceRef = system.ref<PerformanceMonitorProtocol>(PERFORMANCE_MONITOR_NAME);
  const signals = new SignalRelay();
  const alertSink: AlertSink = (signal) => signals.send(signal);
  const exposition = (accept: string | undefined) => renderExposition(registry, accept);
  const dashboardUrl = () => dashboardAddress.url();
  const children: ChildSpec[] = [
    workerChild(COLLECTOR_NAME, collector, { registry, store, config: config.monitoring, sources, clock }, { name: COLLECTOR_NAME }),
    workerChild(PERFORMANCE_MONITOR_NAME, performanceMonitor, { registry, store, config: config.performance_monitor, derived, alertSink, clock }, { name: PERFORMANCE_MONITOR_NAME }),
    workerChild(
      ALERTING_NAME,
      alerting,
      { registry, store, config: config.alerting, derived, outbox, rules: [...(options.alertRules ?? [])], dashboardUrl, firing: firingAlerts, signals, clock },
      { name: ALERTING_NAME },
    ),
    ...(config.dashboard.dashboard_enabled
      ? [
          workerChild(
            DASHBOARD_NAME,
            dashboard,
            { registry, store, config: config.dashboard, derived, sources: dashboardSources(system, performanceRef, alertingRef, derived, streamExposition.bind(undefined, registry), store), now: () => clock.stampMs(), steadyNow: () => clock.steadyMs(), onListening: (address) => dashboardAddress.listening(address) },
            { name: DASHBOARD_NAME },
          ),
        ]
      : []),
    ...(options.extraChildren ?? []),
  ];
  // The top supervisor reports its own give-up and then exits `shutdown`: the report says why.
  let gaveUp: MonitorError | undefined;
  system.onSupervisorReport((report) => {
    if (report.supervisor === MONITOR_SUP_NAME) gaveUp = new MonitorError(ErrorCode.MaxRestartIntensity, report.message);
  });
  let supervisor: SupervisorPid;
  try {
    supervisor = await startMonitorSup(system, children);
  } catch (err) {
    await closeOwned();
    throw err;
  }
  const uninstrument = new Set<() => void>();
  const removedOnStop = (remove: () => void): (() => void) => {
    const once = () => {
      remove();
      uninstrument.delete(once);
    };
    uninstrument.add(once);
    return once;
  };
  let stopping = false;
  const stopped = supervisor.exited.then(async (exitReason) => {
    const reason: ExitReason = gaveUp !== undefined ? { crash: gaveUp } : exitReason;
    if (!stopping && !isOrderlyExit(reason)) {
      log.error({ supervisor: MONITOR_SUP_NAME, reason: formatExitReason(reason) }, 'monitoring tree stopped: the host application keeps running without monitoring');
    }
    try {
      await closeOwned();
    } catch (err) {
      log.error({ err }, 'closing the store failed');
    }
    try {
      options.onStop?.(reason);
    } catch (err) {
      log.error({ err }, 'onStop callback threw');
    }
    return reason;
  });
  return {
    config,
    metrics: registry,
    collector: system.ref<CollectorProtocol>(COLLECTOR_NAME),
    performance: performanceRef,
    alerting: alertingClient(alertingRef),
    derived,
    dashboardAddress: () => system.ref<DashboardProtocol>(DASHBOARD_NAME).call({ type: 'address' }),
    instrument: {
      http(server, httpOptions) {
        const remove = instrumentHttp(registry, server, httpOptions, log);
        const once = () => {
          remove();
          uninstrument.delete(once);
        };
        uninstrument.add(once);
        return once;
      },
      pg(pool, pgOptions) {
        return removedOnStop(instrumentPg(registry, pool, pgOptions, log));
      },
      outbound(outboundOptions) {
        return removedOnStop(instrumentOutbound(registry, outboundOptions, log));
      },
      pino(logger) {
        return removedOnStop(instrumentPino(registry, logger));
      },
      pinoDestination(dest) {
        return pinoDestination(registry, dest);
      },
      mcp(server, mcpOptions) {
        // Kept in `uninstrument` only while a transport is connected: a service that builds one
        // McpServer per session must not grow the set by one closure per session ever served.
        let remove = (): void => undefined;
        const once = () => {
          remove();
          uninstrument.delete(once);
        };
        remove = instrumentMcp(registry, server, mcpOptions, log, { busy: () => uninstrument.add(once), idle: () => uninstrument.delete(once) });
        return once;
      },
    },
    supervisor,
    system,
    stopped,
    metricsText: async (accept) => (await exposition(accept)).body,
    async stop() {
      stopping = true;
      for (const remove of [...uninstrument]) remove();
      await supervisor.stop('shutdown', 'infinity');
      await stopped;
    },
  };
}

/** The outbox over the enabled channels of `alerting.json` (plus Alertmanager and the caller's). */
function openOutbox(
  config: Config,
  store: MetricStore,
  registry: Registry,
  log: Logger,
  extra: readonly NotificationChannel[],
  clock: MonitorClock,
  dashboard: DashboardAddress,
  firing: FiringAlerts,
): Outbox {
  const am = config.alerting.channels.alertmanager;
  const alertmanager = (): AlertmanagerChannel =>
    new AlertmanagerChannel({ urls: am.urls, resendIntervalMs: am.resend_interval, instance: () => dashboard.instance(), externalLabels: am.external_labels ?? {}, current: (fp) => firing.get(fp) });
  const channels = createChannels(config.alerting, {
    extra: [...(am.enabled ? [alertmanager()] : []), ...extra],
    externalUrl: () => dashboard.url(),
  });
  const { max_attempts, retry_initial, retry_max, retry_after_max } = config.alerting.delivery;
  return Outbox.open({
    store,
    channels,
    logger: log,
    registry,
    redact: channelRedactor(config.alerting).redact,
    maxAttempts: max_attempts,
    // Retry times are durations: a wall-clock step must not make every retry due at once or none for an hour.
    now: () => clock.steadyMs(),
    backoff: { initialMs: retry_initial, maxMs: retry_max, maxRetryAfterMs: retry_after_max === 0 ? retry_max : retry_after_max },
  });
}

const SCORE_KINDS = ['latency', 'throughput', 'error_rate', 'resources', 'overall'] as const;

/** What the dashboard shows from the other processes, looked up by name at each use (so restarts are followed). */
function dashboardSources(
  system: OtpSystem,
  performance: ServerRef<PerformanceMonitorProtocol>,
  alertingRef: ServerRef<AlertingProtocol>,
  derived: DerivedValues,
  exposition: (accept: string | undefined) => StreamedExposition,
  store: MetricStore,
): DashboardSources {
  const names = [COLLECTOR_NAME, PERFORMANCE_MONITOR_NAME, ALERTING_NAME, DASHBOARD_NAME];
  return {
    report: () => performance.call({ type: 'report' }),
    slas: () => performance.call({ type: 'check_slas' }),
    deadLetters: () => alertingRef.call({ type: 'dead_letters' }),
    alerts: () => alertingRef.call({ type: 'alert_views' }),
    scores(): Scores | null {
      const scores = Object.fromEntries(SCORE_KINDS.map((kind) => [kind, derived.get(`score.${kind}`)?.value ?? null])) as unknown as Scores;
      return SCORE_KINDS.some((kind) => scores[kind] !== null) ? scores : null;
    },
    metrics: async (accept) => exposition(accept),
    processes: () => Object.fromEntries(names.map((name) => [name, system.whereis(name) === undefined ? 'down' : 'running'])),
    storeHealth: () => storeHealthOf(store.writeStatus()),
  };
}

export { ErrorCode, MonitorError, NoProcError, CallTimeoutError } from './errors.js';
export { createLogger } from './logger.js';
export { loadConfig, redactConfig, ConfigError, ENV_OVERRIDES } from './config/index.js';
export { Registry, DROPPED_SERIES_METRIC } from './metrics/registry.js';
export { Counter, CounterSeries } from './metrics/counter.js';
export { Gauge, GaugeSeries } from './metrics/gauge.js';
export { Histogram, HistogramSeries, DEFAULT_BUCKETS, WINDOWS } from './metrics/histogram.js';
export { Sketch, SlidingSketch } from './metrics/sketch.js';
export { SliceClock } from './metrics/slice-clock.js';
export { MetricStore } from './store/lmdb-store.js';
export { renderPrometheusText, PROMETHEUS_CONTENT_TYPE } from './exposition/prometheus-text.js';
export { renderOpenMetrics, OPENMETRICS_CONTENT_TYPE } from './exposition/openmetrics-text.js';
export { renderExposition, streamExposition, negotiateFormat, registrySource } from './exposition/negotiate.js';
export { serveMetrics } from './server/metrics-server.js';
export { DerivedValues } from './metrics/derived-values.js';
export { HTTP_METRICS, UNMATCHED_ROUTE, OTHER_ROUTE } from './sources/http-instrument.js';
export { MCP_METRICS } from './sources/mcp-instrument.js';
export { expressRoute, fastifyRoute, routeTable } from './sources/http-routes.js';
export { PG_METRICS, PG_OPERATIONS } from './sources/pg-instrument.js';
export { OUTBOUND_METRICS, OTHER_HOST } from './sources/outbound-instrument.js';
export { LOG_METRICS } from './sources/pino-instrument.js';
export { SEVERITIES } from './alerts/severity.js';
export { Outbox } from './notify/outbox.js';
export { createChannels } from './notify/create-channels.js';
export { EmailChannel } from './notify/email-channel.js';
export { SlackChannel } from './notify/slack-channel.js';
export { SmsChannel } from './notify/sms-channel.js';
export { WebhookChannel } from './notify/webhook-channel.js';
export { AlertmanagerChannel } from './notify/alertmanager-channel.js';
export { DeliveryError } from './notify/types.js';
export { encodeWriteRequest, writeRequestBody, REMOTE_WRITE_HEADERS } from './export/remote-write.js';
export { RemoteWriteExporter } from './export/remote-write-exporter.js';
export { startClusterPrimary } from './cluster/cluster-primary.js';
export { startClusterWorker } from './cluster/cluster-worker.js';
export { ClusterView } from './cluster/cluster-view.js';
export { COLLECTOR_NAME } from '../actors/collector.js';
export { MONITOR_SUP_NAME } from '../actors/monitor-sup.js';
export { PERFORMANCE_MONITOR_NAME } from '../actors/performance-monitor.js';
export { ALERTING_NAME } from '../actors/alerting.js';
export { DASHBOARD_NAME } from '../actors/dashboard.js';
export {
  OtpSystem,
  startServer,
  startSupervisor,
  supervisorChild,
  workerChild,
  checkChildSpecs,
  checkFlags,
  isOrderlyExit,
  formatExitReason,
  TimerRef,
  DEFAULT_CALL_TIMEOUT,
} from './otp/index.js';

export type { Logger, LogLevel } from './logger.js';
export type { ClockSource } from './clock.js';
export type {
  Config,
  DeepPartial,
  MonitoringConfig,
  PerformanceMonitorConfig,
  AlertingConfig,
  DashboardConfig,
  LoadConfigOptions,
} from './config/index.js';
export type { AnyMetric, MetricSnapshot, MetricValue, RegistryOptions, RegisterOptions, SeriesValue } from './metrics/registry.js';
export type { MetricOptions, MetricType } from './metrics/metric.js';
export type { HistogramOptions, HistogramStats, Percentiles, WindowStats } from './metrics/histogram.js';
export type { Labels } from './metrics/label-map.js';
export type { FieldRule, FieldsOf, MessageFields } from './check-message.js';
export type { SeriesDef, StoreOptions, RangePoint } from './store/types.js';
export type { CollectorProtocol, MetricUpdate, CollectorStats, MetricInfo } from '../actors/collector.js';
export type { FlushSummary } from './metrics/table-store.js';
export type { HttpInstrumentOptions, RouteOf } from './sources/http-instrument.js';
export type { McpInstrumentOptions, McpProtocolLike, McpServerLike, McpTransportLike } from './sources/mcp-instrument.js';
export type { FastifyHooks, FastifyRequestFields } from './sources/http-routes.js';
export type { PgInstrumentOptions, PgPoolLike } from './sources/pg-instrument.js';
export type { OutboundInstrumentOptions, FailureKind } from './sources/outbound-instrument.js';
export type { PinoDestinationLike, PinoLoggerLike, PinoLineCounter } from './sources/pino-instrument.js';
export type { MetricSource } from './sources/source.js';
export type { MetricsServer } from './server/metrics-server.js';
export type { DerivedValue } from './metrics/derived-values.js';
export type { ExpositionFormat, Exposition, ExpositionSource, StreamedExposition } from './exposition/negotiate.js';
export type { RemoteWriteExporterOptions } from './export/remote-write-exporter.js';
export type { ClusterPrimary, ClusterPrimaryOptions } from './cluster/cluster-primary.js';
export type { ClusterWorkerOptions, ClusterWorkerReporter } from './cluster/cluster-worker.js';
export type { ClusterAggregation } from './cluster/cluster-view.js';
export type { Severity } from './alerts/severity.js';
export type { AlertSignal, AlertSink } from './alerts/signal.js';
export type { Alert } from './alerts/alert.js';
export type { RuleInput, AlertRule, Condition, HistogramStat } from './alerts/rule.js';
export type { LabelMatcher, MatchOp } from './alerts/label-matcher.js';
export type { SilenceInput, Silence, SilenceView, SilenceState } from './alerts/silences.js';
export type { RuleStatus } from './alerts/alert-engine.js';
export type { AlertingClient } from './alerts/alerting-client.js';
export type { AlertingProtocol } from '../actors/alerting.js';
export type { PerformanceMonitorProtocol, CheckResult } from '../actors/performance-monitor.js';
export type { PerformanceReport } from './performance/report.js';
export type { SlaResult } from './performance/sla.js';
export type { DashboardProtocol } from '../actors/dashboard.js';
export type { DashboardSources } from './server/dashboard-sources.js';
export type { ServerAddress } from './server/http-server.js';
export type {
  ChannelName,
  DeadLetter,
  Notification,
  NotificationChannel,
  NotifiedAlert,
  OutboxPort,
} from './notify/types.js';
export type { OutboxOptions } from './notify/outbox.js';
export type {
  AlertView,
  ChartDef,
  ChartSeriesDef,
  ChartType,
  ClientMsg,
  DashboardDef,
  HistoryResponse,
  Point,
  RealtimeResponse,
  Scores,
  ServerMsg,
  SlaView,
  Subscription,
} from './protocol.js';
export type { ChartPoints, DashboardResponse, HealthResponse, SeriesStat } from './protocol.js';
export type {
  Behaviour,
  CallResult,
  MessageSchema,
  NoReplyResult,
  ServerContext,
  StartOptions,
  Pid,
  Protocol,
  ReplyTo,
  ServerRef,
  ExitReason,
  ProcessRef,
  ShutdownTimeout,
  ChildSpec,
  ChildInfo,
  RestartType,
  Strategy,
  SupervisorFlags,
  SupervisorPid,
  SupervisorProtocol,
  SupervisorSpec,
  SystemOptions,
  ChildCounts,
  SupervisorReport,
} from './otp/index.js';
