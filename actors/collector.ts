/**
 * erlmcp_metrics_collector: the timed loops around the metric table, and its message API.
 *
 * The table itself (a `Registry`) and its store are owned by the tree, not by this process, so a
 * crash here loses no metric: the restarted collector finds them as they were and its loops start
 * again. Hot-path updates never come here; they are direct calls on the table. The messages below
 * are for callers that want the source design's API (register_metric, increment, set, observe,
 * get_metric, collect_metrics), one at a time or batched.
 *
 * Loops (one set per incarnation, cancelled when it exits):
 * - every `collection_interval`: each source measures (CPU, memory, event loop, GC...);
 * - every `aggregation_interval`: changed series go to the store in one transaction;
 * - every second: the sliding-window clock advances;
 * - every `prune_interval`: history older than `retention_period` is rolled up and pruned;
 * - every `export_interval`, when `export_enabled`: the series changed since the last export are
 *   queued for Prometheus remote write to `export_endpoint` (sent in the background with retry and
 *   backoff; failures are counted in `monitor.export.*`, never thrown here).
 *
 * A flush that fails (a full disk, an I/O error) never crashes the collector: it is counted in
 * `monitor.store.write_failures{reason}`, its history points in `monitor.store.points_dropped`
 * (they are not kept: a backlog would grow with the outage, and the table still holds every
 * current value), and flushes are retried with backoff (doubling from `aggregation_interval` up
 * to {@link STORE_RETRY_MAX_MS}, or 8 intervals if less). One log line says writes are failing,
 * one that they recovered. Series stay changed until a flush commits, so the first flush after
 * the disk recovers writes every current value the outage kept from the store.
 *
 * When it stops (orderly or after a crash, not when killed), one last flush is written and one last
 * export gets up to `EXPORT_STOP_MS` to go out; what is left then is counted as dropped.
 *
 * Every message is shape-checked first (`checkMessage`: an object, a known `type`, no field that
 * type does not have), so a malformed one is a `EMON_BAD_MESSAGE`, never a crash.
 * A bad update in a cast (unknown metric, bad labels or value) has no caller to reject: it is
 * counted in `monitor.updates_rejected{code}` and logged (the first few of each kind), and the
 * collector carries on. The same update as a call rejects with the typed error.
 */
import { checkMessage, type MessageFields } from '../src/check-message.js';
import { ErrorCode, MonitorError, toError } from '../src/errors.js';
import { RemoteWriteExporter, type RemoteWriteExporterOptions } from '../src/export/remote-write-exporter.js';
import type { Labels } from '../src/metrics/label-map.js';
import type { MetricType } from '../src/metrics/metric.js';
import type { MetricSnapshot, MetricValue, Registry, RegisterOptions } from '../src/metrics/registry.js';
import { type FlushSummary, flushTable, TableFlushFailed } from '../src/metrics/table-store.js';
import { failureReason } from '../src/store/commit-guard.js';
import type { Behaviour, Pid, ServerContext } from '../src/otp/index.js';
import type { MetricSource } from '../src/sources/source.js';
import type { MetricStore } from '../src/store/lmdb-store.js';

export const COLLECTOR_NAME = 'erlmcp_metrics_collector';

/** One update, as sent alone (`cast`) or in a `batch`. */
export type MetricUpdate =
  | { type: 'increment'; name: string; labels?: Labels; value?: number }
  | { type: 'set'; name: string; labels?: Labels; value: number }
  | { type: 'observe'; name: string; labels?: Labels; value: number };

export interface RegisterMetricRequest extends RegisterOptions {
  type: 'register_metric';
  name: string;
  metricType: MetricType;
}

export interface MetricInfo {
  name: string;
  type: MetricType;
  help: string;
  unit: string;
  labelNames: readonly string[];
}

export interface CollectorProtocol {
  call:
    | RegisterMetricRequest
    | { type: 'get_metric'; name: string; labels?: Labels }
    | { type: 'collect_metrics' }
    | { type: 'apply'; updates: MetricUpdate[] }
    | { type: 'flush' }
    | { type: 'stats' };
  replies: {
    register_metric: MetricInfo;
    /** undefined when the label set has no series yet. */
    get_metric: MetricValue | undefined;
    collect_metrics: MetricSnapshot[];
    /**
     * How many updates were applied. Rejects with the first error, prefixed with its index
     * (`apply: updates[3] (3 applied before it): ...`); the ones before it stay applied.
     */
    apply: { applied: number };
    flush: FlushSummary;
    stats: CollectorStats;
  };
  cast: MetricUpdate | { type: 'batch'; updates: MetricUpdate[] };
  info: { type: 'collect' } | { type: 'aggregate' } | { type: 'tick' } | { type: 'prune' } | { type: 'export' };
}

export type CollectorPid = Pid<CollectorProtocol>;

export interface CollectorConfig {
  metrics_enabled: boolean;
  /** ms between source collections. */
  collection_interval: number;
  /** ms between flushes to the store. */
  aggregation_interval: number;
  /** ms of raw history kept. */
  retention_period: number;
  /** Push changed series by Prometheus remote write (default false). */
  export_enabled?: boolean;
  /** ms between exports (default 30,000). */
  export_interval?: number;
  /** The remote-write URL (default `http://127.0.0.1:9090/api/v1/write`). */
  export_endpoint?: string;
}

/** Remote-write settings beyond the config file's (queue bounds, backoff, external labels). */
export type ExporterSettings = Partial<Omit<RemoteWriteExporterOptions, 'endpoint' | 'registry' | 'logger'>>;

export interface CollectorArgs {
  registry: Registry;
  store: MetricStore;
  config: CollectorConfig;
  /** Makes this incarnation's sources (each incarnation starts and stops its own). */
  sources: () => MetricSource[];
  /** Wall clock for history timestamps (default `Date.now`). */
  now?: () => number;
  /** Remote-write settings, used when `config.export_enabled`. */
  exporter?: ExporterSettings;
}

export interface CollectorStats {
  collections: number;
  flushes: number;
  lastFlush: FlushSummary | undefined;
  rejectedUpdates: number;
  sourceErrors: number;
  /** Export rounds run (each queues the changed series; 0 while export is disabled). */
  exports: number;
}

/** While the store's writes fail: since when, backoff, and what was lost. */
interface StoreOutage {
  /** Monotonic ms of the first failed flush. */
  since: number;
  failures: number;
  droppedPoints: number;
  /** Monotonic ms before which no flush is tried. */
  retryAt: number;
  backoffMs: number;
}

interface State extends CollectorStats {
  args: CollectorArgs;
  sources: MetricSource[];
  now: () => number;
  /** Distinct rejection messages already logged (bounded). */
  logged: Set<string>;
  exporter: RemoteWriteExporter | undefined;
  /** Set while flushes fail; cleared by the first that commits. */
  outage: StoreOutage | undefined;
  /** Monotonic clock for the retry backoff. */
  monotonic: () => number;
}

/** Counts updates refused in casts, by error code. */
export const REJECTED_METRIC = 'monitor.updates_rejected';
/** Counts flushes whose write to the store failed, by reason (`ENOSPC`, `EIO`, ..., `other`). */
export const WRITE_FAILURES_METRIC = 'monitor.store.write_failures';
/** Counts history points of failed flushes, which no later flush writes. */
export const POINTS_DROPPED_METRIC = 'monitor.store.points_dropped';
/** Longest wait between two flush attempts while the store's writes fail. */
export const STORE_RETRY_MAX_MS = 30_000;

/** Distinct bad-update messages logged before going quiet (they are still counted). */
const MAX_LOGGED_REJECTIONS = 20;
const TICK_MS = 1000;
/** How long a stopping collector lets its last export go out before dropping what is left. */
export const EXPORT_STOP_MS = 2000;

const UPDATE_FIELDS = { increment: ['name', 'labels', 'value'], set: ['name', 'labels', 'value'], observe: ['name', 'labels', 'value'] } as const;
const CAST_FIELDS: MessageFields = { ...UPDATE_FIELDS, batch: ['updates'] };
const CALL_FIELDS: MessageFields = {
  register_metric: ['name', 'metricType', 'help', 'unit', 'labels', 'buckets'],
  get_metric: ['name', 'labels'],
  collect_metrics: [],
  apply: ['updates'],
  flush: [],
  stats: [],
};

/**
 * Applies one update to the table.
 * @throws {MonitorError} `EMON_BAD_MESSAGE` for a malformed update (not an object, unknown type or
 *   field), or the registry's error for a bad name, labels or value; nothing changes then
 */
export function applyUpdate(registry: Registry, update: MetricUpdate): void {
  checkMessage('metric update', update, UPDATE_FIELDS);
  switch (update.type) {
    case 'increment':
      // Only an absent value means 1: a null from JSON is a bad value, not a default.
      return registry.increment(update.name, update.labels, update.value === undefined ? 1 : update.value);
    case 'set':
      return registry.set(update.name, update.labels, update.value);
    case 'observe':
      return registry.observe(update.name, update.labels, update.value);
  }
}

function reject(state: State, err: unknown, ctx: ServerContext<CollectorProtocol>): void {
  state.rejectedUpdates++;
  const error = toError(err);
  const code = error instanceof MonitorError ? error.code : 'EMON_UNKNOWN';
  try {
    state.args.registry.counter(REJECTED_METRIC, { help: 'Metric updates sent by cast that were refused', labels: ['code'] }).inc({ code });
  } catch {
    // The host declared this name as another metric: the rejection is still counted in `stats`
    // and logged, and a bad cast must never crash the collector.
  }
  if (state.logged.size < MAX_LOGGED_REJECTIONS && !state.logged.has(error.message)) {
    state.logged.add(error.message);
    ctx.log.warn({ err: error }, 'metric update refused');
  }
}

/**
 * One flush of the table to the store. A failure is counted and retried later with backoff,
 * never thrown: a full disk must not crash-loop the collector into stopping the tree.
 * @returns the summary, or `undefined` when it failed or waits for its retry time
 */
async function flushOrBackOff(state: State, ctx: ServerContext<CollectorProtocol>): Promise<FlushSummary | undefined> {
  const outage = state.outage;
  if (outage !== undefined && state.monotonic() < outage.retryAt) return undefined;
  try {
    const summary = await flushTable(state.args.registry, state.args.store, state.now(), ctx.log);
    state.flushes++;
    state.lastFlush = summary;
    if (outage !== undefined) {
      state.outage = undefined;
      ctx.log.warn(
        { failedFlushes: outage.failures, droppedPoints: outage.droppedPoints, downMs: Math.round(state.monotonic() - outage.since), series: summary.series },
        'metric store writes recovered: current values written again',
      );
    }
    return summary;
  } catch (err) {
    if (!(err instanceof TableFlushFailed)) throw err; // a bug, not the disk: crash and restart as ever
    noteFlushFailure(state, err, ctx);
    return undefined;
  }
}

function noteFlushFailure(state: State, error: TableFlushFailed, ctx: ServerContext<CollectorProtocol>): void {
  const reason = failureReason(error);
  const points = error.points;
  const registry = state.args.registry;
  try {
    registry.counter(WRITE_FAILURES_METRIC, { help: 'Flushes of the metric table whose write to the store failed', labels: ['reason'] }).inc({ reason });
    if (points > 0) registry.counter(POINTS_DROPPED_METRIC, { help: 'History points not written because their flush failed' }).inc(points);
  } catch {
    // The host declared one of these names as another metric: the failure is still logged.
  }
  const interval = state.args.config.aggregation_interval;
  const maxBackoff = Math.max(interval, Math.min(STORE_RETRY_MAX_MS, 8 * interval));
  const now = state.monotonic();
  const outage = state.outage;
  if (outage === undefined) {
    state.outage = { since: now, failures: 1, droppedPoints: points, backoffMs: interval, retryAt: now + interval };
    ctx.log.error({ err: error, reason, droppedPoints: points }, 'metric store writes are failing: the table keeps serving, flushes are retried with backoff');
    return;
  }
  outage.failures++;
  outage.droppedPoints += points;
  outage.backoffMs = Math.min(maxBackoff, outage.backoffMs * 2);
  outage.retryAt = now + outage.backoffMs;
}

/** Queues the changed series for remote write; an export problem never stops the collector. */
async function exportChanged(state: State, ctx: ServerContext<CollectorProtocol>): Promise<void> {
  if (state.exporter === undefined) return;
  try {
    await state.exporter.collect(state.now());
    state.exports++;
  } catch (err) {
    ctx.log.error({ err: toError(err) }, 'remote write export failed this round');
  }
}

function info(registry: Registry, name: string): MetricInfo {
  const m = registry.require(name);
  return { name: m.name, type: m.type, help: m.help, unit: m.unit, labelNames: m.labelNames };
}

export const collector: Behaviour<State, CollectorProtocol, CollectorArgs> = {
  name: 'collector',

  init(args, ctx) {
    const now = args.now ?? Date.now;
    const state: State = {
      args,
      now,
      sources: [],
      logged: new Set(),
      exporter: undefined,
      outage: undefined,
      monotonic: () => performance.now(),
      collections: 0,
      flushes: 0,
      lastFlush: undefined,
      rejectedUpdates: 0,
      sourceErrors: 0,
      exports: 0,
    };
    if (args.config.metrics_enabled) {
      state.sources = args.sources();
      for (const source of state.sources) source.start();
      ctx.interval(args.config.collection_interval, { type: 'collect' });
    }
    ctx.interval(args.config.aggregation_interval, { type: 'aggregate' });
    ctx.interval(TICK_MS, { type: 'tick' });
    ctx.interval(Math.max(60_000, Math.min(args.config.retention_period / 4, 600_000)), { type: 'prune' });
    if (args.config.export_enabled === true) {
      const endpoint = args.config.export_endpoint ?? 'http://127.0.0.1:9090/api/v1/write';
      try {
        state.exporter = new RemoteWriteExporter({ ...args.exporter, endpoint, registry: args.registry, logger: ctx.log });
        ctx.interval(args.config.export_interval ?? 30_000, { type: 'export' });
      } catch (err) {
        // The config schema checks the URL; settings passed in code may still be bad. Collecting
        // and persisting matter more than exporting, so the collector runs without it.
        ctx.log.error({ err: toError(err) }, 'remote write export disabled: its settings are invalid');
      }
    }
    args.registry.clock.tick(now());
    return state;
  },

  async handleCall(msg, state, ctx) {
    const registry = state.args.registry;
    try {
      checkMessage('call', msg, CALL_FIELDS);
      switch (msg.type) {
        case 'register_metric': {
          const { type: _t, name, metricType, ...options } = msg;
          registry.register(name, metricType, options);
          return { reply: info(registry, name), state };
        }
        case 'get_metric':
          return { reply: registry.getMetric(msg.name, msg.labels), state };
        case 'collect_metrics':
          return { reply: registry.collect(), state };
        case 'apply': {
          if (!Array.isArray(msg.updates)) throw new MonitorError(ErrorCode.BadMessage, 'apply: updates must be an array');
          let applied = 0;
          for (const update of msg.updates) {
            try {
              applyUpdate(registry, update);
            } catch (err) {
              if (!(err instanceof MonitorError)) throw err;
              throw new MonitorError(err.code, `apply: updates[${applied}] (${applied} applied before it): ${err.message}`, { cause: err });
            }
            applied++;
          }
          return { reply: { applied }, state };
        }
        case 'flush': {
          let summary: FlushSummary;
          try {
            summary = await flushTable(registry, state.args.store, state.now(), ctx.log);
          } catch (err) {
            if (err instanceof TableFlushFailed) noteFlushFailure(state, err, ctx);
            throw err;
          }
          state.flushes++;
          state.lastFlush = summary;
          if (state.outage !== undefined) {
            ctx.log.warn({ failedFlushes: state.outage.failures, droppedPoints: state.outage.droppedPoints }, 'metric store writes recovered: current values written again');
            state.outage = undefined;
          }
          return { reply: summary, state };
        }
        case 'stats': {
          const { collections, flushes, lastFlush, rejectedUpdates, sourceErrors, exports } = state;
          return { reply: { collections, flushes, lastFlush, rejectedUpdates, sourceErrors, exports }, state };
        }
      }
    } catch (err) {
      if (err instanceof MonitorError) return { error: err, state };
      throw err;
    }
  },

  handleCast(msg, state, ctx) {
    const registry = state.args.registry;
    try {
      checkMessage('cast', msg, CAST_FIELDS);
    } catch (err) {
      reject(state, err, ctx);
      return { state };
    }
    if (msg.type === 'batch') {
      if (!Array.isArray(msg.updates)) {
        reject(state, new MonitorError(ErrorCode.BadMessage, 'batch: updates must be an array'), ctx);
        return { state };
      }
      for (const update of msg.updates) {
        try {
          applyUpdate(registry, update);
        } catch (err) {
          reject(state, err, ctx);
        }
      }
      return { state };
    }
    try {
      applyUpdate(registry, msg);
    } catch (err) {
      reject(state, err, ctx);
    }
    return { state };
  },

  async handleInfo(msg, state, ctx) {
    switch (msg.type) {
      case 'collect':
        state.args.registry.clock.tick(state.now());
        for (const source of state.sources) {
          try {
            source.collect();
          } catch (err) {
            state.sourceErrors++;
            ctx.log.error({ source: source.name, err: toError(err) }, 'metric source failed this collection');
          }
        }
        state.collections++;
        return { state };
      case 'aggregate':
        await flushOrBackOff(state, ctx);
        return { state };
      case 'tick':
        state.args.registry.clock.tick(state.now());
        return { state };
      case 'prune':
        await state.args.store.prune(state.now());
        return { state };
      case 'export':
        await exportChanged(state, ctx);
        return { state };
    }
  },

  // Killed: no last flush (that is what a kill means), but the sources' observers must not leak.
  onKill(_reason, state) {
    for (const source of state.sources) source.stop();
    state.exporter?.abort();
  },

  // Runs on orderly stops and after crashes alike (not after a kill): the table is intact either
  // way, so the last flush is always worth writing.
  async terminate(_reason, state, ctx) {
    for (const source of state.sources) source.stop();
    try {
      await flushTable(state.args.registry, state.args.store, state.now(), ctx.log);
    } catch (err) {
      ctx.log.error({ err: toError(err) }, 'last flush failed');
    }
    if (state.exporter !== undefined) {
      await exportChanged(state, ctx);
      await state.exporter.close(EXPORT_STOP_MS);
    }
  },
};
