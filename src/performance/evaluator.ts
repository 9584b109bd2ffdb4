/**
 * PerformanceEvaluator: the performance monitor's figures at a time — measurements, scores,
 * recommendations, SLA results, burn rates — from the metric table and the request and latency
 * history it keeps. `evaluate` only reads (the `report` and `check_slas` calls use it as is); a
 * check also calls `advance` first and `commit` after, so the histories move on once per check.
 *
 * The request history is sized for the 6 h slow-burn window and the longest SLA window; the
 * latency history for the longest response-time SLA window (see their modules).
 */
import type { Severity } from '../alerts/severity.js';
import type { PerformanceMonitorConfig } from '../config/schema.js';
import type { Registry } from '../metrics/registry.js';
import type { MetricStore } from '../store/lmdb-store.js';
import {
  BURN_RATE_RULES,
  type BurnRateStatus,
  budgetRemaining,
  errorBudget,
  evaluateBurnRates,
  hasErrorBudget,
} from './burn-rate.js';
import { CounterHistory, type CounterSample } from './counter-history.js';
import { seedCounterHistory, type SeedResult } from './history-seed.js';
import { LatencyHistory } from './latency-history.js';
import { measure } from './measurements.js';
import { buildReport, type PerformanceReport } from './report.js';
import { evaluateSla, type SlaInputs, type SlaResult } from './sla.js';
import { latencyAllTime, requestTotals } from './table-readings.js';

/** The figures at one time. */
export interface Evaluation {
  report: PerformanceReport;
  slas: SlaResult[];
  /** This evaluation's request totals, for `commit` (undefined without the request counter). */
  current: CounterSample | undefined;
}

/** Burn-rate windows need 6 h of request history whatever the SLA windows are. */
const LONGEST_BURN_WINDOW_MS = Math.max(...BURN_RATE_RULES.map((r) => r.longMs));

export class PerformanceEvaluator {
  readonly #registry: Registry;
  readonly #config: PerformanceMonitorConfig;
  readonly #requests: CounterHistory;
  readonly #latency: LatencyHistory;
  /** The longest window the request history must answer for, ms. */
  readonly requestSpanMs: number;

  constructor(registry: Registry, config: PerformanceMonitorConfig) {
    this.#registry = registry;
    this.#config = config;
    this.requestSpanMs = Math.max(config.window, LONGEST_BURN_WINDOW_MS, ...config.slas.map((s) => s.window));
    this.#requests = new CounterHistory({
      checkIntervalMs: config.check_interval,
      longestWindowMs: this.requestSpanMs,
    });
    const latencySpan = Math.max(
      config.window,
      ...config.slas.filter((s) => s.kind === 'response_time').map((s) => s.window),
    );
    this.#latency = new LatencyHistory(latencySpan);
  }

  /**
   * Fills the request history from the store's counter history before `stamp`.
   * @param stamp now, as the store's stamps read it
   * @param at now, on the monotonic timeline the history runs on (default `stamp`)
   * @throws {MonitorError} `EMON_STORE_FAILED` if the store cannot be read
   */
  seed(store: MetricStore, stamp: number, at = stamp): SeedResult {
    return seedCounterHistory(store, this.#requests, stamp, this.requestSpanMs, at - stamp);
  }

  /** Records that nothing counted requests from `from` to `to` (monotonic timeline): rates leave it out. */
  markDowntime(from: number, to: number): void {
    this.#requests.markGap(from, to);
  }

  /** Moves the latency history to `at` (once per check, before `evaluate`). */
  advance(at: number): void {
    const cumulative = latencyAllTime(this.#registry);
    if (cumulative !== undefined) this.#latency.record(at, cumulative);
  }

  /**
   * The figures at `at`; `firing` goes into the report as is.
   * @param at monotonic time (`MonitorClock.steadyMs`): windows are measured on it
   * @param stamp the wall-clock stamp the report and SLA results carry (default `at`)
   */
  evaluate(at: number, firing: Record<string, Severity>, stamp = at): Evaluation {
    const totals = requestTotals(this.#registry);
    const current = totals === undefined ? undefined : this.#requests.reading(at, totals);
    const metrics = measure(this.#registry, this.#requests, current, this.#config.window, at);
    const counts = (windowMs: number) => (current === undefined ? undefined : this.#requests.over(windowMs, current));
    const inputs: SlaInputs = {
      counts,
      latency: (windowMs) => this.#latency.over(windowMs, at),
      budgetRemaining: (sla) => budgetRemaining(counts(sla.window), errorBudget(sla)),
    };
    const slas = this.#config.slas.map((sla) => evaluateSla(sla, inputs, stamp));
    const burnRates: BurnRateStatus[] = this.#config.slas
      .filter(hasErrorBudget)
      .flatMap((sla) => evaluateBurnRates(sla, counts));
    return { report: buildReport(stamp, this.#config, metrics, burnRates, firing), slas, current };
  }

  /** Keeps an evaluation's request totals in the history (once per check, after `evaluate`). */
  commit(evaluation: Evaluation): void {
    if (evaluation.current !== undefined) this.#requests.record(evaluation.current);
  }
}
