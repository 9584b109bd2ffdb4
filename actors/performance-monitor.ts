/**
 * erlmcp_performance_monitor: checks latency, throughput, error rate and resources against their
 * thresholds, scores them, recommends, evaluates the SLAs and their error budgets, and reports
 * every transition to the alerting actor.
 *
 * Every `check_interval` (when `monitor_enabled`), one check:
 * 1. reads the table (`src/performance/table-readings.ts`): response-time percentiles over
 *    `window` from the histogram's sliding sketch, request and error totals, CPU %, memory %,
 *    event-loop delay p99; throughput and error rate are deltas of the totals over the window;
 * 2. compares each with its threshold (`thresholds.ts`) and sends an `AlertSignal` to `alertSink`
 *    on each breach and each recovery (keys `latency.p95`, `throughput`, `error_rate`, `cpu`,
 *    `memory`, `event_loop.p99`);
 * 3. builds the report (scores, recommendations; `report.ts`) and evaluates the SLAs (`sla.ts`)
 *    and the error-budget burn rates (`burn-rate.ts`), signalling `sla.<name>` and
 *    `burn_rate.fast|slow.<slo>` transitions; an SLA violation is logged once per transition;
 * 4. publishes the figures as derived values and `perf.*` gauges (`publish.ts`) and stores the
 *    report and the SLA results in LMDB (`perf_reports`, `perf_sla_results`, keys `[at, seq]`,
 *    each trimmed to `history_size`).
 *
 * A restart loses nothing that matters: the request history is seeded again from the store's
 * counter history (`history-seed.ts`), stored reports and SLA results stay in LMDB, and what was
 * firing is read back from the last stored report, so a condition that cleared meanwhile still
 * resolves. A failed store write is logged and the checks carry on.
 *
 * Messages: see {@link PerformanceMonitorProtocol}.
 */
import type { AlertSignal, AlertSink } from '../src/alerts/signal.js';
import type { Severity } from '../src/alerts/severity.js';
import type { PerformanceMonitorConfig } from '../src/config/schema.js';
import { describeValue, ErrorCode, MonitorError, toError } from '../src/errors.js';
import type { DerivedValues } from '../src/metrics/derived-values.js';
import { WINDOWS } from '../src/metrics/histogram.js';
import type { Registry } from '../src/metrics/registry.js';
import type { Behaviour, Pid, ServerContext } from '../src/otp/index.js';
import { AlertState, type Transition } from '../src/performance/alert-state.js';
import { BURN_RATE_RULES, type BurnRateStatus, budgetRemaining, errorBudget, evaluateBurnRates, hasErrorBudget } from '../src/performance/burn-rate.js';
import { CounterHistory, type CounterSample } from '../src/performance/counter-history.js';
import { seedCounterHistory } from '../src/performance/history-seed.js';
import { LatencyHistory } from '../src/performance/latency-history.js';
import { measure } from '../src/performance/measurements.js';
import { PerfGauges, publishDerived } from '../src/performance/publish.js';
import { buildReport, type PerformanceReport } from '../src/performance/report.js';
import { evaluateSla, type SlaInputs, type SlaResult } from '../src/performance/sla.js';
import { latencyAllTime, requestTotals } from '../src/performance/table-readings.js';
import { describeCheck, formatValue, isBreached, type ThresholdRule, thresholdRules } from '../src/performance/thresholds.js';
import type { MetricStore } from '../src/store/lmdb-store.js';
import type { RecordDb, RecordKey } from '../src/store/record-db.js';

export const PERFORMANCE_MONITOR_NAME = 'erlmcp_performance_monitor';

/** `source` of every signal this process sends. */
export const PERFORMANCE_SIGNAL_SOURCE = 'performance_monitor';

/** Record collections in the store. */
export const PERF_REPORTS_DB = 'perf_reports';
export const PERF_SLA_RESULTS_DB = 'perf_sla_results';

/** One check's SLA results as stored in `perf_sla_results`. */
export interface SlaRecord {
  at: number;
  results: SlaResult[];
}

/** What a check did. */
export interface CheckResult {
  report: PerformanceReport;
  slas: SlaResult[];
  /** Signals sent to the alert sink by this check (transitions only). */
  signals: AlertSignal[];
}

/** `history` answer: stored entries of one kind, oldest first. */
export type HistoryReply = { kind: 'report'; entries: PerformanceReport[] } | { kind: 'sla'; entries: SlaRecord[] };

export interface PerformanceMonitorProtocol {
  call:
    /** The performance report as of now (measured at the call; nothing stored or signalled). */
    | { type: 'report' }
    /** Evaluates the SLAs now; violations are logged and signalled on transition (not stored). */
    | { type: 'check_slas' }
    /**
     * Stored reports or SLA results with `from <= at <= to` (ms since the epoch), oldest first,
     * at most `limit` (default and maximum `history_size`) — the newest ones when there are more.
     */
    | { type: 'history'; kind: 'report' | 'sla'; from: number; to: number; limit?: number }
    /** Runs a check now (as the timer does) and answers what it did. */
    | { type: 'check' };
  replies: {
    report: PerformanceReport;
    check_slas: SlaResult[];
    history: HistoryReply;
    check: CheckResult;
  };
  cast: never;
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
  /** Where alert signals go (the alerting actor's cast, in the tree). */
  alertSink: AlertSink;
  /** Wall clock, ms since the epoch (default `Date.now`). */
  now?: () => number;
}

interface State {
  args: PerformanceMonitorArgs;
  config: PerformanceMonitorConfig;
  now: () => number;
  rules: ThresholdRule[];
  requests: CounterHistory;
  latency: LatencyHistory;
  alerts: AlertState;
  gauges: PerfGauges;
  reports: RecordDb<PerformanceReport>;
  slaResults: RecordDb<SlaRecord>;
  seq: number;
  /** Store failure messages already logged (bounded), so an outage logs once, not every check. */
  loggedStoreErrors: Set<string>;
}

/** The performance figures at one time, before anything is signalled or stored. */
interface Evaluation {
  report: PerformanceReport;
  slas: SlaResult[];
  current: CounterSample | undefined;
}

const MAX_LOGGED_STORE_ERRORS = 10;
/** Burn-rate windows need 6 h of request history whatever the SLA windows are. */
const LONGEST_BURN_WINDOW_MS = Math.max(...BURN_RATE_RULES.map((r) => r.longMs));

function checkArgs(args: PerformanceMonitorArgs): void {
  const missing = (['registry', 'store', 'config', 'derived', 'alertSink'] as const).filter((k) => args?.[k] === undefined || args[k] === null);
  if (missing.length > 0) {
    throw new MonitorError(ErrorCode.InvalidOption, `performance monitor: missing start argument(s) ${missing.join(', ')} (expected registry, store, config, derived, alertSink)`);
  }
  if (typeof args.alertSink !== 'function') throw new MonitorError(ErrorCode.InvalidOption, `performance monitor: alertSink must be a function, got ${describeValue(args.alertSink)}`);
  if (args.now !== undefined && typeof args.now !== 'function') throw new MonitorError(ErrorCode.InvalidOption, `performance monitor: now must be a function, got ${describeValue(args.now)}`);
}

/** The highest `seq` among the newest records of `dbs` (keys `[at, seq]`). */
function lastSeq(...dbs: RecordDb<unknown>[]): number {
  let seq = 0;
  for (const db of dbs) {
    const newest = db.range({ reverse: true, limit: 1 })[0]?.[0];
    if (Array.isArray(newest) && typeof newest[1] === 'number') seq = Math.max(seq, newest[1]);
  }
  return seq;
}

function evaluate(state: State, at: number): Evaluation {
  const { registry } = state.args;
  const totals = requestTotals(registry);
  const current = totals === undefined ? undefined : state.requests.reading(at, totals);
  const metrics = measure(registry, state.requests, current, state.config.window, at);
  const counts = (windowMs: number) => (current === undefined ? undefined : state.requests.over(windowMs, current));
  const inputs: SlaInputs = {
    counts,
    latency: (windowMs) => state.latency.over(windowMs, at),
    budgetRemaining: (sla) => budgetRemaining(counts(sla.window), errorBudget(sla)),
  };
  const slas = state.config.slas.map((sla) => evaluateSla(sla, inputs, at));
  const burnRates: BurnRateStatus[] = state.config.slas.filter(hasErrorBudget).flatMap((sla) => evaluateBurnRates(sla, counts));
  const report = buildReport(at, state.config, metrics, burnRates, state.alerts.snapshot());
  return { report, slas, current };
}

/** Records a transition and returns the signal to send for it, if any. */
function transition(
  state: State,
  key: string,
  severity: Severity | undefined,
  at: number,
  message: string,
  extra: Pick<AlertSignal, 'value' | 'threshold' | 'annotations'> = {},
): AlertSignal | undefined {
  const before = state.alerts.severityOf(key);
  const change: Transition | undefined = state.alerts.update(key, severity);
  if (change === undefined) return undefined;
  const signal: AlertSignal = {
    source: PERFORMANCE_SIGNAL_SOURCE,
    key,
    state: change === 'resolved' ? 'resolved' : 'firing',
    // A resolve carries the severity of what it resolves.
    severity: severity ?? before ?? 'info',
    message,
    at,
  };
  if (extra.value !== undefined && Number.isFinite(extra.value)) signal.value = extra.value;
  if (extra.threshold !== undefined) signal.threshold = extra.threshold;
  if (extra.annotations !== undefined) signal.annotations = extra.annotations;
  return signal;
}

function slaMessage(sla: SlaResult): string {
  if (sla.current === null) return `SLA ${sla.name}: no data over ${Math.round(sla.window_ms / 1000)} s`;
  const unit = sla.kind === 'response_time' ? 'ms' : sla.kind === 'throughput' ? 'req/s' : sla.kind === 'availability' ? 'percent' : 'ratio';
  return (
    `SLA ${sla.name} ${sla.status}: current ${formatValue(sla.current, unit)} vs target ${formatValue(sla.target, unit)} ` +
    `(${sla.direction.replace(/_/g, ' ')}; compliance ${sla.compliance!.toFixed(1)} %, ${Math.round(sla.covered_ms / 1000)} s, ${sla.samples} samples)`
  );
}

const SLA_SEVERITY: Record<Exclude<SlaResult['status'], 'no_data'>, Severity | undefined> = { ok: undefined, warning: 'warning', violated: 'error' };

/** SLA transitions: signals, and one log line per transition into or out of violation. */
function slaTransitions(state: State, slas: readonly SlaResult[], at: number, ctx: ServerContext<PerformanceMonitorProtocol>): AlertSignal[] {
  const signals: AlertSignal[] = [];
  for (const sla of slas) {
    // No data (no requests in the window, or no history yet after a restart) is no evidence either
    // way: the SLA keeps its state rather than resolving and re-firing.
    if (sla.status === 'no_data') continue;
    const key = `sla.${sla.name}`;
    const wasViolated = state.alerts.severityOf(key) === 'error';
    const signal = transition(state, key, SLA_SEVERITY[sla.status], at, slaMessage(sla), {
      ...(sla.current === null ? {} : { value: sla.current }),
      threshold: sla.target,
    });
    if (signal === undefined) continue;
    signals.push(signal);
    if (sla.status === 'violated') ctx.log.warn({ sla: sla.name, current: sla.current, target: sla.target, compliance: sla.compliance }, slaMessage(sla));
    else if (wasViolated) ctx.log.info({ sla: sla.name, status: sla.status }, `SLA ${sla.name} no longer violated (${sla.status})`);
  }
  return signals;
}

function thresholdTransitions(state: State, report: PerformanceReport, at: number): AlertSignal[] {
  const signals: AlertSignal[] = [];
  for (const rule of state.rules) {
    const measured = report.metrics[rule.key];
    const breached = isBreached(rule, measured);
    const signal = transition(state, rule.key, breached ? rule.severity : undefined, at, describeCheck(rule, measured), {
      ...(measured.value === null ? {} : { value: measured.value }),
      threshold: rule.threshold,
    });
    if (signal !== undefined) signals.push(signal);
  }
  return signals;
}

function burnTransitions(state: State, burnRates: readonly BurnRateStatus[], at: number): AlertSignal[] {
  const signals: AlertSignal[] = [];
  for (const b of burnRates) {
    const rule = BURN_RATE_RULES.find((r) => r.name === b.rule)!;
    const rate = (r: number | null) => (r === null ? 'no data' : `${r.toFixed(2)}x`);
    const message =
      `error budget of ${b.slo} burning ${rate(b.long)} over ${rule.longMs / 60_000} min and ${rate(b.short)} over ${rule.shortMs / 60_000} min ` +
      `(${b.firing ? 'both at or above' : 'not both at'} ${b.factor}x)`;
    const signal = transition(state, `burn_rate.${b.rule}.${b.slo}`, b.firing ? b.severity : undefined, at, message, {
      ...(b.long === null ? {} : { value: b.long }),
      threshold: b.factor,
    });
    if (signal !== undefined) signals.push(signal);
  }
  return signals;
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

async function persist(state: State, report: PerformanceReport, slas: SlaResult[], ctx: ServerContext<PerformanceMonitorProtocol>): Promise<void> {
  const seq = ++state.seq;
  const key: RecordKey = [report.at, seq];
  const keep = state.config.history_size - 1;
  try {
    // Trim to one less, then add one, all issued in the same turn so lmdb-js batches them into one
    // commit: a check took 12.4 ms with put and trim awaited one after the other, 6.1 ms this way
    // (10 servers, 500 series; nearly all of it waiting for the durable commit, 0.2 ms of compute).
    await Promise.all([
      state.reports.trim(keep),
      state.slaResults.trim(keep),
      state.reports.put(key, report),
      state.slaResults.put(key, { at: report.at, results: slas }),
    ]);
  } catch (err) {
    const error = toError(err);
    if (state.loggedStoreErrors.size < MAX_LOGGED_STORE_ERRORS && !state.loggedStoreErrors.has(error.message)) {
      state.loggedStoreErrors.add(error.message);
      ctx.log.error({ err: error }, 'performance history not stored (checks carry on)');
    }
  }
}

async function check(state: State, ctx: ServerContext<PerformanceMonitorProtocol>): Promise<CheckResult> {
  const at = state.now();
  const cumulative = latencyAllTime(state.args.registry);
  if (cumulative !== undefined) state.latency.record(at, cumulative);
  const { report, slas, current } = evaluate(state, at);
  if (current !== undefined) state.requests.record(current);
  const signals = [...thresholdTransitions(state, report, at), ...slaTransitions(state, slas, at, ctx), ...burnTransitions(state, report.burn_rates, at)];
  report.firing = state.alerts.snapshot();
  send(state, signals, ctx);
  state.gauges.update(report.metrics, report.scores, slas);
  publishDerived(state.args.derived, at, report.metrics, report.scores, slas);
  await persist(state, report, slas, ctx);
  return { report, slas, signals };
}

function history(state: State, msg: Extract<PerformanceMonitorProtocol['call'], { type: 'history' }>): HistoryReply {
  const { kind, from, to } = msg;
  const bad = (what: string) => new MonitorError(ErrorCode.InvalidQuery, `history: ${what}`);
  if (kind !== 'report' && kind !== 'sla') throw bad(`invalid kind ${describeValue(kind)} (allowed: "report", "sla")`);
  if (typeof from !== 'number' || !Number.isFinite(from) || typeof to !== 'number' || !Number.isFinite(to) || from > to) {
    throw bad(`invalid range from=${describeValue(from)} to=${describeValue(to)} (expected finite times in ms with from <= to)`);
  }
  const max = state.config.history_size;
  const limit = msg.limit ?? max;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max) throw bad(`invalid limit ${describeValue(msg.limit)} (expected an integer from 1 to history_size = ${max})`);
  // Newest first with the limit, then oldest first: the newest `limit` entries of the range.
  const range = { start: [Math.floor(to) + 1], end: [from], reverse: true, limit };
  if (kind === 'report') return { kind, entries: state.reports.range(range).map(([, v]) => v).reverse() };
  return { kind, entries: state.slaResults.range(range).map(([, v]) => v).reverse() };
}

export const performanceMonitor: Behaviour<State, PerformanceMonitorProtocol, PerformanceMonitorArgs> = {
  name: 'performance_monitor',

  init(args, ctx) {
    checkArgs(args);
    const { config, store } = args;
    const now = args.now ?? Date.now;
    const longestSla = Math.max(config.window, ...config.slas.map((s) => s.window));
    const longestLatency = Math.max(config.window, ...config.slas.filter((s) => s.kind === 'response_time').map((s) => s.window));
    const requests = new CounterHistory({ checkIntervalMs: config.check_interval, longestWindowMs: Math.max(longestSla, LONGEST_BURN_WINDOW_MS) });
    const reports = store.records<PerformanceReport>(PERF_REPORTS_DB);
    const slaResults = store.records<SlaRecord>(PERF_SLA_RESULTS_DB);
    const lastReport = reports.range({ reverse: true, limit: 1 })[0]?.[1];
    const state: State = {
      args,
      config,
      now,
      rules: thresholdRules(config),
      requests,
      latency: new LatencyHistory(longestLatency),
      alerts: new AlertState(Object.entries(lastReport?.firing ?? {})),
      gauges: new PerfGauges(args.registry),
      reports,
      slaResults,
      seq: lastSeq(reports as RecordDb<unknown>, slaResults as RecordDb<unknown>),
      loggedStoreErrors: new Set(),
    };
    try {
      const seeded = seedCounterHistory(store, requests, now(), Math.max(longestSla, LONGEST_BURN_WINDOW_MS));
      if (seeded.missing !== undefined) ctx.log.info({ missing: seeded.missing }, 'request history not seeded from the store: rates start from the first check');
    } catch (err) {
      ctx.log.warn({ err: toError(err) }, 'request history not seeded: reading the store failed; rates start from the first check');
    }
    const ring = Math.ceil(WINDOWS['5m'] / args.registry.clock.sliceMs) * args.registry.clock.sliceMs;
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
          return { reply: evaluate(state, state.now()).report, state };
        case 'check_slas': {
          const at = state.now();
          const { slas } = evaluate(state, at);
          send(state, slaTransitions(state, slas, at, ctx), ctx);
          return { reply: slas, state };
        }
        case 'history':
          return { reply: history(state, msg), state };
        case 'check':
          return { reply: await check(state, ctx), state };
        default:
          throw new MonitorError(ErrorCode.BadMessage, `unknown call ${describeValue((msg as { type?: unknown }).type)} (allowed: report, check_slas, history, check)`);
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
