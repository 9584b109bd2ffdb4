/**
 * erlmcp_metrics_collector: the timed loops around the metric table (collect, flush, slide, prune,
 * export) and its message API (register_metric, increment, set, observe, get_metric, collect_metrics).
 * The table and its store belong to the tree, so a crash here loses no metric; hot-path updates are
 * direct calls on the table and never come here. A failed flush is counted and retried with backoff,
 * never thrown; a bad update in a cast is counted and logged, the same in a call rejects. Batches are
 * bounded ({@link MAX_BATCH_UPDATES}, {@link MAX_BATCH_REFUSALS}). Details: docs/design-notes.md.
 */
import { checkMessage, compileFields, type MessageFields } from '../src/check-message.js';
import { MonitorClock, type StampClamp } from '../src/clock.js';
import { describeValue, ErrorCode, MonitorError, toError } from '../src/errors.js';
import type { PersistedBatch } from '../src/export/export-queue.js';
import { RemoteWriteExporter, type RemoteWriteExporterOptions } from '../src/export/remote-write-exporter.js';
import type { Labels } from '../src/metrics/label-map.js';
import type { MetricType } from '../src/metrics/metric.js';
import type { MetricSnapshot, MetricValue, Registry, RegisterOptions } from '../src/metrics/registry.js';
import { type FlushSummary, flushTable, TableFlushFailed } from '../src/store/table-store.js';
import { countWriteFailure, WRITE_FAILURES_METRIC } from '../src/store/write-outage.js';
import type { Behaviour, MessageSchema, Pid, ServerContext, ServerRef } from '../src/otp/index.js';
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
     * (`apply: updates[3] (3 applied before it): ...`); the ones before it stay applied. More
     * than {@link MAX_BATCH_UPDATES} updates reject with `EMON_LIMIT_EXCEEDED`, none applied.
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
  /** The tree's clock: stamps for history points, monotonic time for windows (default: the system clocks). */
  clock?: MonitorClock;
  /** Remote-write settings, used when `config.export_enabled`. */
  exporter?: ExporterSettings;
  /** Series one flush writes at most (default `MAX_SERIES_PER_FLUSH`, table-store.ts); the rest follow in the next flushes. */
  maxSeriesPerFlush?: number;
}

export interface CollectorStats {
  collections: number;
  flushes: number;
  lastFlush: FlushSummary | undefined;
  rejectedUpdates: number;
  sourceErrors: number;
  /** Export rounds run (each queues every series; 0 while export is disabled). */
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
  clock: MonitorClock;
  /** The clamp of the last stamp logged about (a change is logged once). */
  stampClamp: StampClamp;
  /** Whether the last prune was skipped for clock skew (a change is logged once). */
  pruneSkipped: boolean;
  /** Distinct rejection messages already logged (bounded). */
  logged: Set<string>;
  exporter: RemoteWriteExporter | undefined;
  /** Set while flushes fail; cleared by the first that commits. */
  outage: StoreOutage | undefined;
  /** Whether the last flush left changed series for the next (logged when it changes). */
  behind: boolean;
}

/** Counts updates refused in casts, by error code. */
export const REJECTED_METRIC = 'monitor.updates_rejected';
export { WRITE_FAILURES_METRIC };
/** Counts history points of failed flushes, which no later flush writes. */
export const POINTS_DROPPED_METRIC = 'monitor.store.points_dropped';
/** Longest wait between two flush attempts while the store's writes fail. */
export const STORE_RETRY_MAX_MS = 30_000;

/** Distinct bad-update messages logged before going quiet (they are still counted). */
const MAX_LOGGED_REJECTIONS = 20;
const TICK_MS = 1000;
/** A prune is skipped while the wall clock is this far from the stamp clock (the clock stepped). */
export const PRUNE_SKEW_MS = 60_000;
/** How long a stopping collector lets its last export go out before dropping what is left. */
export const EXPORT_STOP_MS = 2000;
/** The record collection in the metric store that keeps the remote-write queue across restarts. */
export const EXPORT_QUEUE_RECORDS = 'remote_write_queue';

/** Most updates one batch (a `batch` cast or an `apply` call) may carry. */
export const MAX_BATCH_UPDATES = 100_000;
/**
 * Bad updates a cast batch refuses one by one before the rest of it is refused unapplied. Each
 * refusal builds an error (~1-5 µs, its stack trace most of it) where a valid update costs
 * ~0.1 µs: unbounded, one cast of 1,000,000 invalid updates blocked the event loop 5-8 s.
 */
export const MAX_BATCH_REFUSALS = 100;

const UPDATE_FIELDS = {
  increment: { name: 'required', labels: 'optional', value: 'optional' },
  set: { name: 'required', labels: 'optional', value: 'required' },
  observe: { name: 'required', labels: 'optional', value: 'required' },
} as const satisfies MessageFields<MetricUpdate>;
const UPDATE_CHECK = compileFields(UPDATE_FIELDS);

/** What the collector accepts; the gen_server layer refuses anything else. */
export const COLLECTOR_MESSAGES = {
  call: {
    register_metric: {
      name: 'required',
      metricType: 'required',
      help: 'optional',
      unit: 'optional',
      labels: 'optional',
      buckets: 'optional',
    },
    get_metric: { name: 'required', labels: 'optional' },
    collect_metrics: {},
    apply: { updates: 'required' },
    flush: {},
    stats: {},
  },
  cast: { ...UPDATE_FIELDS, batch: { updates: 'required' } },
  info: { collect: {}, aggregate: {}, tick: {}, prune: {}, export: {} },
} as const satisfies MessageSchema<CollectorProtocol>;

/**
 * Applies one update to the table.
 * @throws {MonitorError} `EMON_BAD_MESSAGE` for a malformed update (not an object, unknown type,
 *   missing or unknown field), or the registry's error for a bad name, labels or value; nothing
 *   changes then
 */
export function applyUpdate(registry: Registry, update: MetricUpdate): void {
  checkMessage('metric update', update, UPDATE_CHECK);
  applyChecked(registry, update);
}

/** Applies an update whose shape was checked; the table checks name, labels and value. */
function applyChecked(registry: Registry, update: MetricUpdate): void {
  switch (update.type) {
    case 'increment':
      // Only an absent value means 1: a null from JSON is a bad value, not a default.
      registry.increment(update.name, update.labels, update.value === undefined ? 1 : update.value);
      return;
    case 'set':
      registry.set(update.name, update.labels, update.value);
      return;
    case 'observe':
      registry.observe(update.name, update.labels, update.value);
      return;
  }
}

/**
 * The updates of a batch, checked to be an array within the limit.
 * @throws {MonitorError} `EMON_BAD_MESSAGE` or `EMON_LIMIT_EXCEEDED`
 */
function batchUpdates(what: string, updates: unknown): MetricUpdate[] {
  if (!Array.isArray(updates))
    throw new MonitorError(ErrorCode.BadMessage, `${what}: updates must be an array, got ${describeValue(updates)}`);
  if (updates.length > MAX_BATCH_UPDATES) {
    throw new MonitorError(
      ErrorCode.LimitExceeded,
      `${what}: ${updates.length} updates in one message (at most ${MAX_BATCH_UPDATES}); none applied: send them in smaller batches`,
    );
  }
  return updates as MetricUpdate[];
}

/** A cast batch: bad updates are refused one by one, up to MAX_BATCH_REFUSALS; see the header. */
function castBatch(state: State, updates: unknown, ctx: ServerContext<CollectorProtocol>): void {
  let list: MetricUpdate[];
  try {
    list = batchUpdates('batch', updates);
  } catch (err) {
    reject(state, err, ctx, Array.isArray(updates) ? updates.length : 1);
    return;
  }
  const registry = state.args.registry;
  let refused = 0;
  for (let i = 0; i < list.length; i++) {
    try {
      applyUpdate(registry, list[i]!);
    } catch (err) {
      reject(state, err, ctx);
      const rest = list.length - i - 1;
      if (++refused === MAX_BATCH_REFUSALS && rest > 0) {
        const why = `batch: ${refused} of its first ${i + 1} updates were refused (at most ${MAX_BATCH_REFUSALS} per batch); the other ${rest} were not applied`;
        reject(state, new MonitorError(ErrorCode.LimitExceeded, why), ctx, rest);
        return;
      }
    }
  }
}

/** Counts `count` refused updates (one error for all of them) and logs the first few distinct errors. */
function reject(state: State, err: unknown, ctx: ServerContext<CollectorProtocol>, count = 1): void {
  state.rejectedUpdates += count;
  const error = toError(err);
  const code = error instanceof MonitorError ? error.code : 'EMON_UNKNOWN';
  try {
    state.args.registry
      .counter(REJECTED_METRIC, { help: 'Metric updates sent by cast that were refused', labels: ['code'] })
      .inc({ code }, count);
  } catch {
    // The host declared this name as another metric: the rejection is still counted in `stats`
    // and logged, and a bad cast must never crash the collector.
  }
  if (state.logged.size < MAX_LOGGED_REJECTIONS && !state.logged.has(error.message)) {
    state.logged.add(error.message);
    ctx.log.warn({ err: error }, 'metric update refused');
  }
}

/** The write budget option for flushTable. */
function budgetOf(state: State): { maxSeriesPerFlush?: number } {
  const maxSeriesPerFlush = state.args.maxSeriesPerFlush;
  return maxSeriesPerFlush === undefined ? {} : { maxSeriesPerFlush };
}

/** Logs when a flush starts and stops leaving changed series for the next (its write budget, table-store.ts). */
function noteBacklog(state: State, summary: FlushSummary, ctx: ServerContext<CollectorProtocol>): FlushSummary {
  const behind = summary.pending > 0;
  if (behind !== state.behind) {
    state.behind = behind;
    if (behind)
      ctx.log.info(
        { written: summary.series, pending: summary.pending },
        'more series changed than one flush writes: the rest follow in the next flushes',
      );
    else ctx.log.info({ written: summary.series }, 'flushes caught up: every changed series written');
  }
  return summary;
}

/**
 * Calls the collector's `flush` until nothing is left to write (`deferred` and `pending` both 0),
 * at most `maxCalls` times: each call writes one budget and answers within the call timeout,
 * however many series changed. Resolves with the last call's summary (check its `pending` and
 * `deferred` when the calls ran out, e.g. while the host keeps changing more series than flushes write).
 */
export async function flushAll(
  collector: Pick<ServerRef<CollectorProtocol>, 'call'>,
  maxCalls = FLUSH_ALL_MAX_CALLS,
): Promise<FlushSummary> {
  let summary = await collector.call({ type: 'flush' });
  for (let calls = 1; calls < maxCalls && summary.pending + summary.deferred > 0; calls++)
    summary = await collector.call({ type: 'flush' });
  return summary;
}

/** Default bound of {@link flushAll}'s calls: 1,000,000 changed series take 5 budgets. */
export const FLUSH_ALL_MAX_CALLS = 100;

/**
 * One flush of the table to the store. A failure is counted and retried later with backoff,
 * never thrown: a full disk must not crash-loop the collector into stopping the tree.
 * @returns the summary, or `undefined` when it failed or waits for its retry time
 */
async function flushOrBackOff(state: State, ctx: ServerContext<CollectorProtocol>): Promise<FlushSummary | undefined> {
  const outage = state.outage;
  if (outage !== undefined && state.clock.steadyMs() < outage.retryAt) return undefined;
  try {
    const summary = noteBacklog(
      state,
      await flushTable(state.args.registry, state.args.store, stamp(state, ctx), ctx.log, budgetOf(state)),
      ctx,
    );
    state.flushes++;
    state.lastFlush = summary;
    if (outage !== undefined) {
      state.outage = undefined;
      ctx.log.warn(
        {
          failedFlushes: outage.failures,
          droppedPoints: outage.droppedPoints,
          downMs: Math.round(state.clock.steadyMs() - outage.since),
          series: summary.series,
        },
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
  const points = error.points;
  const registry = state.args.registry;
  const reason = countWriteFailure(registry, error);
  try {
    if (points > 0)
      registry
        .counter(POINTS_DROPPED_METRIC, { help: 'History points not written because their flush failed' })
        .inc(points);
  } catch {
    // The host declared this name as another metric: the failure is still logged.
  }
  const interval = state.args.config.aggregation_interval;
  const maxBackoff = Math.max(interval, Math.min(STORE_RETRY_MAX_MS, 8 * interval));
  const now = state.clock.steadyMs();
  const outage = state.outage;
  if (outage === undefined) {
    state.outage = { since: now, failures: 1, droppedPoints: points, backoffMs: interval, retryAt: now + interval };
    ctx.log.error(
      { err: error, reason, droppedPoints: points },
      'metric store writes are failing: the table keeps serving, flushes are retried with backoff',
    );
    return;
  }
  outage.failures++;
  outage.droppedPoints += points;
  outage.backoffMs = Math.min(maxBackoff, outage.backoffMs * 2);
  outage.retryAt = now + outage.backoffMs;
}

/**
 * The last flush at terminate writes every changed series, one budget after another (each commit
 * yields to the loop), until none is left or the stop's timeout aborts `signal`: an orderly stop
 * loses no current value while the shutdown time allows.
 */
async function lastFlush(state: State, ctx: ServerContext<CollectorProtocol>, signal: AbortSignal): Promise<void> {
  let flushes = 0;
  let written = 0;
  let left: number;
  try {
    do {
      const summary = await flushTable(
        state.args.registry,
        state.args.store,
        stamp(state, ctx),
        ctx.log,
        budgetOf(state),
      );
      flushes++;
      written += summary.series;
      left = summary.pending + summary.deferred;
    } while (left > 0 && !signal.aborted && flushes < FLUSH_ALL_MAX_CALLS);
  } catch (err) {
    ctx.log.error({ err: toError(err), flushes, written }, 'last flush failed');
    return;
  }
  if (left > 0)
    ctx.log.warn(
      { flushes, written, left, aborted: signal.aborted },
      'last flush stopped before every changed series was written (the stop timed out, or the host kept changing series)',
    );
  else if (flushes > 1) ctx.log.info({ flushes, written }, 'last flush wrote every changed series');
}

/** Queues the changed series for remote write; an export problem never stops the collector. */
async function exportChanged(state: State, ctx: ServerContext<CollectorProtocol>): Promise<void> {
  if (state.exporter === undefined) return;
  try {
    await state.exporter.collect(stamp(state, ctx));
    state.exports++;
  } catch (err) {
    ctx.log.error({ err: toError(err) }, 'remote write export failed this round');
  }
}

/** A stamp for what is written now, logging once when stamps start or stop being clamped. */
function stamp(state: State, ctx: ServerContext<CollectorProtocol>): number {
  const at = state.clock.stampMs();
  const clamp = state.clock.clamp;
  if (clamp !== state.stampClamp) {
    const fields = { wall: state.clock.wallMs(), stamp: at };
    if (clamp === 'ahead')
      ctx.log.warn(
        fields,
        'wall clock stepped ahead of monotonic time: history stamps follow monotonic time until it comes back (or for an hour)',
      );
    else if (clamp === 'behind')
      ctx.log.warn(fields, 'wall clock stepped back: history stamps hold at the last one until it catches up');
    else ctx.log.info(fields, 'history stamps follow the wall clock again');
    state.stampClamp = clamp;
  }
  return at;
}

/** Prunes as of the stamp clock, or skips (logged once per change) while the wall clock disagrees with it. */
async function prune(state: State, ctx: ServerContext<CollectorProtocol>): Promise<void> {
  const at = stamp(state, ctx);
  const skew = state.clock.wallMs() - at;
  const skip = Math.abs(skew) > PRUNE_SKEW_MS;
  if (skip !== state.pruneSkipped) {
    if (skip)
      ctx.log.warn(
        { skew_ms: Math.round(skew) },
        'retention pruning skipped: the wall clock disagrees with monotonic time since the last stamp',
      );
    else
      ctx.log.info(
        { skew_ms: Math.round(skew) },
        'retention pruning resumed: the wall clock agrees with monotonic time again',
      );
    state.pruneSkipped = skip;
  }
  if (!skip) await state.args.store.prune(at);
}

function info(registry: Registry, name: string): MetricInfo {
  const m = registry.require(name);
  return { name: m.name, type: m.type, help: m.help, unit: m.unit, labelNames: m.labelNames };
}

export const collector: Behaviour<State, CollectorProtocol, CollectorArgs> = {
  name: 'collector',
  messages: COLLECTOR_MESSAGES,

  init(args, ctx) {
    const clock = args.clock ?? new MonitorClock();
    const state: State = {
      args,
      clock,
      stampClamp: 'none',
      pruneSkipped: false,
      sources: [],
      logged: new Set(),
      exporter: undefined,
      outage: undefined,
      behind: false,
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
        const persist = args.store.readOnly ? undefined : args.store.records<PersistedBatch>(EXPORT_QUEUE_RECORDS);
        state.exporter = new RemoteWriteExporter({
          persist,
          ...args.exporter,
          endpoint,
          registry: args.registry,
          logger: ctx.log,
        });
        ctx.interval(args.config.export_interval ?? 30_000, { type: 'export' });
      } catch (err) {
        // The config schema checks the URL; settings passed in code may still be bad. Collecting
        // and persisting matter more than exporting, so the collector runs without it.
        ctx.log.error({ err: toError(err) }, 'remote write export disabled: its settings are invalid');
      }
    }
    args.registry.clock.tick(clock.steadyMs());
    return state;
  },

  async handleCall(msg, state, ctx) {
    const registry = state.args.registry;
    try {
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
          let applied = 0;
          for (const update of batchUpdates('apply', msg.updates)) {
            try {
              applyUpdate(registry, update);
            } catch (err) {
              if (!(err instanceof MonitorError)) throw err;
              throw new MonitorError(
                err.code,
                `apply: updates[${applied}] (${applied} applied before it): ${err.message}`,
                { cause: err },
              );
            }
            applied++;
          }
          return { reply: { applied }, state };
        }
        case 'flush': {
          let summary: FlushSummary;
          try {
            summary = noteBacklog(
              state,
              await flushTable(registry, state.args.store, stamp(state, ctx), ctx.log, budgetOf(state)),
              ctx,
            );
          } catch (err) {
            if (err instanceof TableFlushFailed) noteFlushFailure(state, err, ctx);
            throw err;
          }
          state.flushes++;
          state.lastFlush = summary;
          if (state.outage !== undefined) {
            ctx.log.warn(
              { failedFlushes: state.outage.failures, droppedPoints: state.outage.droppedPoints },
              'metric store writes recovered: current values written again',
            );
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
    if (msg.type === 'batch') {
      castBatch(state, msg.updates, ctx);
      return { state };
    }
    try {
      applyChecked(state.args.registry, msg);
    } catch (err) {
      reject(state, err, ctx);
    }
    return { state };
  },

  refusedCast(error, state, ctx) {
    reject(state, error, ctx);
  },

  async handleInfo(msg, state, ctx) {
    switch (msg.type) {
      case 'collect':
        state.args.registry.clock.tick(state.clock.steadyMs());
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
        state.args.registry.clock.tick(state.clock.steadyMs());
        return { state };
      case 'prune':
        await prune(state, ctx);
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
  async terminate(_reason, state, ctx, signal) {
    for (const source of state.sources) source.stop();
    await lastFlush(state, ctx, signal);
    if (state.exporter !== undefined) {
      await exportChanged(state, ctx);
      try {
        // What Prometheus records when a scrape target goes away; 1 ms on, as a series' samples must advance.
        await state.exporter.markAllStale(stamp(state, ctx) + 1);
      } catch (err) {
        ctx.log.error({ err: toError(err) }, 'remote write: queuing the staleness markers failed');
      }
      await state.exporter.close(EXPORT_STOP_MS);
    }
  },
};
