/**
 * erlmcp_performance_monitor: every `check_interval`, reads the table (latency percentiles over
 * `window`, throughput, error rate, CPU, memory, event-loop delay), scores it, evaluates SLAs and
 * error-budget burn rates, sends an `AlertSignal` to `alertSink` on each transition, publishes
 * `perf.*` gauges and stores the report in LMDB. Rates run on monotonic time; stamps on the wall clock.
 * A restart reseeds its history from the store and marks the downtime as a gap; a failed write or a
 * throwing sink is logged and the checks carry on. The logic lives in `src/performance/`; step by
 * step: docs/design-notes.md.
 */
import type { AlertSignal, AlertSink } from '../src/alerts/signal.js';
import type { PerformanceMonitorConfig } from '../src/config/schema.js';
import { describeValue, ErrorCode, MonitorError, toError } from '../src/errors.js';
import type { DerivedValues } from '../src/metrics/derived-values.js';
import { WINDOWS } from '../src/metrics/histogram.js';
import type { Registry } from '../src/metrics/registry.js';
import type { Behaviour, MessageSchema, Pid, ServerContext } from '../src/otp/index.js';
import { PerformanceEvaluator } from '../src/performance/evaluator.js';
import { type HistoryQuery, type HistoryReply, PerfHistory } from '../src/performance/perf-history.js';
import { PerfGauges, publishDerived } from '../src/performance/publish.js';
import type { PerformanceReport } from '../src/performance/report.js';
import { SignalTracker } from '../src/performance/signal-tracker.js';
import type { SlaResult } from '../src/performance/sla.js';
import { thresholdRules } from '../src/performance/thresholds.js';
import type { MetricStore } from '../src/store/lmdb-store.js';
import { RecordWriteFailed } from '../src/store/record-db.js';
import { WriteOutage } from '../src/store/write-outage.js';
import { MonitorClock } from '../src/clock.js';

export { PERF_REPORTS_DB, PERF_SLA_RESULTS_DB } from '../src/performance/perf-history.js';
export type { HistoryReply, SlaRecord } from '../src/performance/perf-history.js';
export { PERFORMANCE_SIGNAL_SOURCE } from '../src/performance/signal-tracker.js';

export const PERFORMANCE_MONITOR_NAME = 'erlmcp_performance_monitor';

/** What a check did. */
export interface CheckResult {
  report: PerformanceReport;
  slas: SlaResult[];
  /** Signals sent to the alert sink by this check (transitions only). */
  signals: AlertSignal[];
}

export interface PerformanceMonitorProtocol {
  call:
    /** The performance report as of now (measured at the call; nothing stored or signalled). */
    | { type: 'report' }
    /** Evaluates the SLAs now; violations are logged and signalled on transition (not stored). */
    | { type: 'check_slas' }
    /**
     * Stored reports or SLA results with `from <= at <= to` (ms since the epoch), oldest first,
     * at most `limit` (default and maximum `history_size`): the newest ones when there are more.
     * Rejects with `EMON_INVALID_QUERY` for a bad kind, range or limit.
     */
    | ({ type: 'history' } & HistoryQuery)
    /** Runs a check now (as the timer does) and answers what it did. */
    | { type: 'check' };
  replies: {
    report: PerformanceReport;
    check_slas: SlaResult[];
    history: HistoryReply;
    check: CheckResult;
  };
  cast: never;
  /** The `check_interval` timer. */
  info: { type: 'check' };
}

export type PerformanceMonitorPid = Pid<PerformanceMonitorProtocol>;

export interface PerformanceMonitorArgs {
  /** The metric table to read (and to hold the `perf.*` gauges). */
  registry: Registry;
  /** The LMDB store: counter history to seed from, and where reports and SLA results go. */
  store: MetricStore;
  config: PerformanceMonitorConfig;
  /** Where the figures are published by name. */
  derived: DerivedValues;
  /** Where alert signals go (the alerting actor, in the tree). */
  alertSink: AlertSink;
  /**
   * The tree's clock (default: the system clocks, from this process's start): monotonic time for
   * windows, wall-clock stamps for what is stored and shown. Its start is taken as when the
   * metric table began counting (a stored history older than that has a downtime gap).
   */
  clock?: MonitorClock;
}

interface State {
  args: PerformanceMonitorArgs;
  clock: MonitorClock;
  evaluator: PerformanceEvaluator;
  signals: SignalTracker;
  gauges: PerfGauges;
  history: PerfHistory;
  /** Store failure messages already logged (bounded), so an outage logs once, not every check. */
  loggedStoreErrors: Set<string>;
  /** Failed history writes: counted, logged once per change, retried with backoff. */
  outage: WriteOutage;
}

const MAX_LOGGED_STORE_ERRORS = 10;
/** What the performance monitor accepts; the gen_server layer refuses anything else. */
export const PERFORMANCE_MONITOR_MESSAGES = {
  call: {
    report: {},
    check_slas: {},
    history: { kind: 'required', from: 'required', to: 'required', limit: 'optional' },
    check: {},
  },
  cast: {},
  info: { check: {} },
} as const satisfies MessageSchema<PerformanceMonitorProtocol>;

function checkArgs(args: PerformanceMonitorArgs): void {
  const missing = (['registry', 'store', 'config', 'derived', 'alertSink'] as const).filter(
    (k) => args?.[k] === undefined || args[k] === null,
  );
  if (missing.length > 0) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `performance monitor: missing start argument(s) ${missing.join(', ')} (expected registry, store, config, derived, alertSink)`,
    );
  }
  if (typeof args.alertSink !== 'function')
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `performance monitor: alertSink must be a function, got ${describeValue(args.alertSink)}`,
    );
  if (args.clock !== undefined && !(args.clock instanceof MonitorClock)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `performance monitor: clock must be a MonitorClock, got ${describeValue(args.clock)}`,
    );
  }
}

function send(state: State, signals: readonly AlertSignal[], ctx: ServerContext<PerformanceMonitorProtocol>): void {
  for (const signal of signals) {
    try {
      state.args.alertSink(signal);
    } catch (err) {
      ctx.log.error({ key: signal.key, err: toError(err) }, 'alert sink refused a signal');
    }
  }
}

async function check(state: State, ctx: ServerContext<PerformanceMonitorProtocol>): Promise<CheckResult> {
  const at = state.clock.steadyMs();
  const stamp = state.clock.stampMs();
  state.evaluator.advance(at);
  const evaluation = state.evaluator.evaluate(at, state.signals.firing(), stamp);
  state.evaluator.commit(evaluation);
  const { report, slas } = evaluation;
  const signals = [
    ...state.signals.thresholds(report),
    ...state.signals.slas(slas, stamp),
    ...state.signals.burnRates(report.burn_rates, stamp),
  ];
  report.firing = state.signals.firing();
  send(state, signals, ctx);
  state.gauges.update(report.metrics, report.scores, slas);
  publishDerived(state.args.derived, stamp, report.metrics, report.scores, slas);
  if (!state.outage.due()) return { report, slas, signals };
  try {
    await state.history.append(report, slas);
    state.outage.succeeded();
  } catch (err) {
    if (err instanceof RecordWriteFailed) {
      state.outage.failed(err);
      return { report, slas, signals };
    }
    const error = toError(err);
    if (state.loggedStoreErrors.size < MAX_LOGGED_STORE_ERRORS && !state.loggedStoreErrors.has(error.message)) {
      state.loggedStoreErrors.add(error.message);
      ctx.log.error({ err: error }, 'performance history not stored (checks carry on)');
    }
  }
  return { report, slas, signals };
}

/**
 * Marks the downtime before this start as a gap in the request history: from the newest thing the
 * previous run left (its last report or request point) to when this process's table began
 * counting (the clock's start). A restart inside a running tree finds newer data than that and
 * marks nothing.
 */
function markDowntime(
  state: State,
  newestPoint: number | undefined,
  stamp: number,
  at: number,
  ctx: ServerContext<PerformanceMonitorProtocol>,
): void {
  const newest = Math.max(state.history.newestAt() ?? -Infinity, newestPoint ?? -Infinity);
  if (!Number.isFinite(newest)) return;
  // Stored times are stamps; the history runs on monotonic time, which a step may have moved.
  const from = newest + (at - stamp);
  const to = state.clock.startedAt;
  if (to <= from) return;
  state.evaluator.markDowntime(from, to);
  ctx.log.info(
    { downtime_ms: Math.round(to - from) },
    'request history has a gap while the process was down: rates cover only observed time',
  );
}

export const performanceMonitor: Behaviour<State, PerformanceMonitorProtocol, PerformanceMonitorArgs> = {
  name: 'performance_monitor',
  messages: PERFORMANCE_MONITOR_MESSAGES,

  init(args, ctx) {
    checkArgs(args);
    const { config, registry, store } = args;
    const clock = args.clock ?? new MonitorClock();
    const history = new PerfHistory(store, config.history_size);
    const state: State = {
      args,
      clock,
      evaluator: new PerformanceEvaluator(registry, config),
      signals: new SignalTracker(thresholdRules(config), history.lastFiring(), ctx.log),
      gauges: new PerfGauges(registry),
      history,
      loggedStoreErrors: new Set(),
      outage: new WriteOutage({
        registry,
        log: ctx.log,
        what: 'performance history',
        now: () => clock.steadyMs(),
        retryMs: config.check_interval,
        maxRetryMs: 8 * config.check_interval,
      }),
    };
    try {
      const stamp = clock.stampMs();
      const at = clock.steadyMs();
      const seeded = state.evaluator.seed(store, stamp, at);
      if (seeded.missing !== undefined)
        ctx.log.info(
          { missing: seeded.missing },
          'request history not seeded from the store: rates start from the first check',
        );
      markDowntime(state, seeded.newest, stamp, at, ctx);
    } catch (err) {
      ctx.log.warn(
        { err: toError(err) },
        'request history not seeded: reading the store failed; rates start from the first check',
      );
    }
    const ring = Math.ceil(WINDOWS['5m'] / registry.clock.sliceMs) * registry.clock.sliceMs;
    if (config.window > ring) {
      ctx.log.warn(
        { window: config.window, ring },
        `window ${config.window} ms is longer than the histograms' sliding ring (${ring} ms): latency percentiles cover the last ${ring} ms, throughput and error rate the whole window`,
      );
    }
    if (config.monitor_enabled) ctx.interval(config.check_interval, { type: 'check' });
    return state;
  },

  async handleCall(msg, state, ctx) {
    try {
      switch (msg.type) {
        case 'report':
          return {
            reply: state.evaluator.evaluate(state.clock.steadyMs(), state.signals.firing(), state.clock.stampMs())
              .report,
            state,
          };
        case 'check_slas': {
          const stamp = state.clock.stampMs();
          const { slas } = state.evaluator.evaluate(state.clock.steadyMs(), state.signals.firing(), stamp);
          send(state, state.signals.slas(slas, stamp), ctx);
          return { reply: slas, state };
        }
        case 'history':
          return { reply: state.history.range(msg), state };
        case 'check':
          return { reply: await check(state, ctx), state };
      }
    } catch (err) {
      if (err instanceof MonitorError) return { error: err, state };
      throw err;
    }
  },

  async handleInfo(msg, state, ctx) {
    switch (msg.type) {
      case 'check':
        await check(state, ctx);
        return { state };
    }
  },
};
