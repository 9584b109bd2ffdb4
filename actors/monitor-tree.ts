/**
 * The monitoring tree, assembled: erlmcp_monitor_sup (one_for_one, 10 restarts in 60 s, like
 * erlmcp's observability supervisor) over the collector, the performance monitor, alerting and
 * the dashboard, in start order (they stop in reverse), plus what they share, built once here: the
 * metric table restored from the store, the notification outbox, the signal relay, the clock.
 * The metric table belongs to the tree, not to a child, so a crashing child loses no update.
 */
import { ALERTING_NAME, type AlertingProtocol, alerting } from './alerting.js';
import { COLLECTOR_NAME, collector, type CollectorProtocol, flushAll } from './collector.js';
import { DASHBOARD_NAME, type DashboardProtocol, dashboard } from './dashboard.js';
import { treeDashboardSources } from './dashboard-view.js';
import { type MonitorInstruments, monitorInstruments } from './monitor-instruments.js';
import {
  PERFORMANCE_MONITOR_NAME,
  type PerformanceMonitorProtocol,
  performanceMonitor,
} from './performance-monitor.js';
import { type AlertingClient, alertingClient } from './alerting-client.js';
import { FiringAlerts } from '../src/alerts/firing-alerts.js';
import type { RuleInput } from '../src/alerts/rule.js';
import type { AlertSink } from '../src/alerts/signal.js';
import { SignalRelay } from '../src/alerts/signal-relay.js';
import { type ClockSource, MonitorClock } from '../src/clock.js';
import { type Config, type DeepPartial, loadConfig } from '../src/config/index.js';
import { ErrorCode, MonitorError } from '../src/errors.js';
import { renderExposition, streamExposition } from '../src/exposition/negotiate.js';
import { createLogger, type Logger } from '../src/logger.js';
import { DerivedValues } from '../src/metrics/derived-values.js';
import { Registry } from '../src/metrics/registry.js';
import { SliceClock } from '../src/metrics/slice-clock.js';
import { type FlushSummary, restoreTable } from '../src/store/table-store.js';
import { AlertmanagerChannel } from '../src/notify/alertmanager-channel.js';
import { channelRedactor, createChannels } from '../src/notify/create-channels.js';
import { DashboardAddress } from '../src/notify/dashboard-address.js';
import { Outbox } from '../src/notify/outbox.js';
import type { NotificationChannel } from '../src/notify/types.js';
import {
  type ChildSpec,
  type ExitReason,
  formatExitReason,
  isOrderlyExit,
  OtpSystem,
  type ServerRef,
  startSupervisor,
  type SupervisorPid,
  workerChild,
} from '../src/otp/index.js';
import type { ServerAddress } from '../src/server/http-server.js';
import { ProcessSource } from '../src/sources/process-source.js';
import type { MetricSource } from '../src/sources/source.js';
import { MetricStore } from '../src/store/lmdb-store.js';

export const MONITOR_SUP_NAME = 'erlmcp_monitor_sup';

/** ms the collector's last flush may take at stop (see `lastFlush` in collector.ts). */
export const COLLECTOR_SHUTDOWN_MS = 30_000;

export const MONITOR_SUP_FLAGS = { strategy: 'one_for_one', intensity: 10, period: 60_000 } as const;

/** Starts the top supervisor with the given children (in start order). */
export function startMonitorSup(system: OtpSystem, children: readonly ChildSpec[]): Promise<SupervisorPid> {
  return startSupervisor(system, { flags: MONITOR_SUP_FLAGS, children }, { name: MONITOR_SUP_NAME });
}

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
  readonly instrument: MonitorInstruments;
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
  /**
   * Writes every changed series to the store now and resolves once it is durable: the collector's
   * `flush` called until nothing is left, each call one budget (`maxSeriesPerFlush`) answered
   * within the call timeout, at most `FLUSH_ALL_MAX_CALLS` calls. The summary is the last call's.
   */
  flush(): Promise<FlushSummary>;
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
    log.error(
      { dataDir: store.dataDir, movedTo: to, reason },
      'the metric store was damaged: moved it aside (on_corrupt: move_aside) and started a new, empty one',
    );
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
  const dashboardSources = treeDashboardSources({
    system,
    performance: performanceRef,
    alerting: alertingRef,
    derived,
    exposition: (accept) => streamExposition(registry, accept),
    store,
  });
  const children: ChildSpec[] = [
    // Its last flush writes every changed series, one budget after another: ~10 s at 1,000,000.
    workerChild(
      COLLECTOR_NAME,
      collector,
      { registry, store, config: config.monitoring, sources, clock },
      { name: COLLECTOR_NAME, shutdown: COLLECTOR_SHUTDOWN_MS },
    ),
    workerChild(
      PERFORMANCE_MONITOR_NAME,
      performanceMonitor,
      { registry, store, config: config.performance_monitor, derived, alertSink, clock },
      { name: PERFORMANCE_MONITOR_NAME },
    ),
    workerChild(
      ALERTING_NAME,
      alerting,
      {
        registry,
        store,
        config: config.alerting,
        derived,
        outbox,
        rules: [...(options.alertRules ?? [])],
        dashboardUrl,
        firing: firingAlerts,
        signals,
        clock,
      },
      { name: ALERTING_NAME },
    ),
    ...(config.dashboard.dashboard_enabled
      ? [
          workerChild(
            DASHBOARD_NAME,
            dashboard,
            {
              registry,
              store,
              config: config.dashboard,
              derived,
              sources: dashboardSources,
              now: () => clock.stampMs(),
              steadyNow: () => clock.steadyMs(),
              onListening: (address) => dashboardAddress.listening(address),
            },
            { name: DASHBOARD_NAME },
          ),
        ]
      : []),
    ...(options.extraChildren ?? []),
  ];
  // The top supervisor reports its own give-up and then exits `shutdown`: the report says why.
  let gaveUp: MonitorError | undefined;
  system.onSupervisorReport((report) => {
    if (report.supervisor === MONITOR_SUP_NAME)
      gaveUp = new MonitorError(ErrorCode.MaxRestartIntensity, report.message);
  });
  let supervisor: SupervisorPid;
  try {
    supervisor = await startMonitorSup(system, children);
  } catch (err) {
    await closeOwned();
    throw err;
  }
  const instruments = monitorInstruments(registry, log);
  let stopping = false;
  const stopped = supervisor.exited.then(async (exitReason) => {
    const reason: ExitReason = gaveUp !== undefined ? { crash: gaveUp } : exitReason;
    if (!stopping && !isOrderlyExit(reason)) {
      log.error(
        { supervisor: MONITOR_SUP_NAME, reason: formatExitReason(reason) },
        'monitoring tree stopped: the host application keeps running without monitoring',
      );
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
    instrument: instruments.instrument,
    supervisor,
    system,
    stopped,
    metricsText: async (accept) => (await exposition(accept)).body,
    flush: () => flushAll(system.ref<CollectorProtocol>(COLLECTOR_NAME)),
    async stop() {
      stopping = true;
      instruments.removeAll();
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
    new AlertmanagerChannel({
      urls: am.urls,
      resendIntervalMs: am.resend_interval,
      instance: () => dashboard.instance(),
      externalLabels: am.external_labels ?? {},
      current: (fp) => firing.get(fp),
    });
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
    backoff: {
      initialMs: retry_initial,
      maxMs: retry_max,
      maxRetryAfterMs: retry_after_max === 0 ? retry_max : retry_after_max,
    },
  });
}
