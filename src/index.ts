/**
 * Every export here is public API. Named exports only; types are exported separately.
 */
import type { Server as HttpServer } from 'node:http';
import { COLLECTOR_NAME, collector, type CollectorProtocol } from '../actors/collector.js';
import { MONITOR_SUP_NAME, startMonitorSup } from '../actors/monitor-sup.js';
import { type Config, type DeepPartial, loadConfig } from './config/index.js';
import { ErrorCode, MonitorError } from './errors.js';
import { renderPrometheusText } from './exposition/prometheus-text.js';
import { createLogger, type Logger } from './logger.js';
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
import { ProcessSource } from './sources/process-source.js';
import type { MetricSource } from './sources/source.js';
import { MetricStore } from './store/lmdb-store.js';

export interface MonitoringOptions {
  /** Directory with monitoring.json, performance_monitor.json, alerting.json, dashboard.json. Default: none (all defaults). */
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
  /**
   * Your own processes to supervise in the monitoring tree, started after the built-in children
   * (and stopped before them). They share the tree's restart intensity (10 in 60 s).
   */
  extraChildren?: readonly ChildSpec[];
}

/** The running monitoring tree. */
export interface Monitor {
  /** The validated configuration in force. */
  readonly config: Config;
  /** The metric table: register metrics and update them here (the hot path). */
  readonly metrics: Registry;
  /** The collector's message API (follows restarts). */
  readonly collector: ServerRef<CollectorProtocol>;
  /** Instrumentation of your servers. */
  readonly instrument: {
    /** Measures a node:http/https server; returns a function that removes the instrumentation. */
    http(server: HttpServer, options?: HttpInstrumentOptions): () => void;
  };
  /** The top supervisor (`erlmcp_monitor_sup`). */
  readonly supervisor: SupervisorPid;
  /** The OTP system the tree runs in (name registry, logger). */
  readonly system: OtpSystem;
  /** Settles with the tree's exit reason when it stops, for whatever reason. Never rejects. */
  readonly stopped: Promise<ExitReason>;
  /** The whole table in the Prometheus text format (version 0.0.4). */
  metricsText(): Promise<string>;
  /** Orderly shutdown: children stop in reverse order, the last flush is written, the store is closed. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the monitoring supervision tree: opens the store under `dataDir`, restores the metric
 * table from it, and starts erlmcp_monitor_sup with the collector.
 *
 * If the tree exceeds its restart intensity it stops itself, logs one error line and calls
 * `onStop`; it never throws into the host application. The metric table keeps accepting updates.
 *
 * @throws {MonitorError} (rejects) `EMON_INVALID_CONFIG` naming the file and key, or
 *   `EMON_INIT_FAILED` if a child fails to start (nothing is left running)
 */
export async function startMonitoring(options: MonitoringOptions = {}): Promise<Monitor> {
  if (options.onStop !== undefined && typeof options.onStop !== 'function') {
    throw new MonitorError(ErrorCode.InvalidOption, 'onStop must be a function');
  }
  const config = loadConfig({ configDir: options.configDir, env: options.env, overrides: options.config });
  const log = options.logger ?? createLogger();
  const registry = new Registry({ seriesLimit: config.monitoring.series_limit, defaultBuckets: config.monitoring.histogram_buckets, logger: log });
  const store = MetricStore.open({ dataDir: options.dataDir ?? config.monitoring.data_dir, retentionMs: config.monitoring.retention_period });
  try {
    const { restored, skipped } = restoreTable(registry, store, log);
    if (restored + skipped > 0) log.info({ restored, skipped }, 'metric table restored from the store');
  } catch (err) {
    await store.close();
    throw err;
  }
  const system = new OtpSystem({ logger: log });
  const sources = (): MetricSource[] => (options.processMetrics === false ? [] : [new ProcessSource(registry)]);
  const children: ChildSpec[] = [
    workerChild(COLLECTOR_NAME, collector, { registry, store, config: config.monitoring, sources }, { name: COLLECTOR_NAME }),
    ...(options.extraChildren ?? []),
  ];
  let supervisor: SupervisorPid;
  try {
    supervisor = await startMonitorSup(system, children);
  } catch (err) {
    system.close();
    await store.close();
    throw err;
  }
  const uninstrument = new Set<() => void>();
  let stopping = false;
  const stopped = supervisor.exited.then(async (reason) => {
    if (!stopping && !isOrderlyExit(reason)) {
      log.error({ supervisor: MONITOR_SUP_NAME, reason: formatExitReason(reason) }, 'monitoring tree stopped: the host application keeps running without monitoring');
    }
    system.close();
    try {
      await store.close();
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
    instrument: {
      http(server, httpOptions) {
        const remove = instrumentHttp(registry, server, httpOptions);
        const once = () => {
          remove();
          uninstrument.delete(once);
        };
        uninstrument.add(once);
        return once;
      },
    },
    supervisor,
    system,
    stopped,
    metricsText: () => renderPrometheusText(registry),
    async stop() {
      stopping = true;
      for (const remove of [...uninstrument]) remove();
      await supervisor.stop('shutdown', 'infinity');
      await stopped;
    },
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
export { serveMetrics } from './server/metrics-server.js';
export { COLLECTOR_NAME } from '../actors/collector.js';
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
export type { SeriesDef, StoreOptions, RangePoint } from './store/types.js';
export type { CollectorProtocol, MetricUpdate, CollectorStats, MetricInfo } from '../actors/collector.js';
export type { FlushSummary } from './metrics/table-store.js';
export type { HttpInstrumentOptions } from './sources/http-instrument.js';
export type { MetricSource } from './sources/source.js';
export type { MetricsServer } from './server/metrics-server.js';
export type {
  Behaviour,
  CallResult,
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
} from './otp/index.js';
