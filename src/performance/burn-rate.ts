/**
 * Error budgets and multi-window burn-rate alerts (Google SRE workbook, "Alerting on SLOs",
 * recommendation 6) for availability and error-rate SLOs. An alert fires only when BOTH its long and
 * short windows burn at least its factor (fast: 1 h and 5 min at 14.4x, `critical`; slow: 6 h and
 * 30 min at 6x, `error`), so it resets within minutes of recovery. An alert is judged only once its
 * long window has {@link MIN_LONG_COVERAGE} of its length covered, so a service's first failures do
 * not read as an hour's burn. Formulas: docs/design-notes.md.
 */
import type { Severity } from '../alerts/severity.js';
import type { SlaConfig } from '../config/schema.js';
import type { WindowCounts } from './counter-history.js';

export interface BurnRateRule {
  name: 'fast' | 'slow';
  longMs: number;
  shortMs: number;
  factor: number;
  severity: Severity;
}

/** The SRE workbook's two alerting windows. */
export const BURN_RATE_RULES: readonly BurnRateRule[] = Object.freeze([
  { name: 'fast', longMs: 3_600_000, shortMs: 300_000, factor: 14.4, severity: 'critical' },
  { name: 'slow', longMs: 21_600_000, shortMs: 1_800_000, factor: 6, severity: 'error' },
]);

/** Share of its long window an alert's data must cover before the alert can fire. */
export const MIN_LONG_COVERAGE = 1 / 12;

/** Relative slack when comparing a burn rate with its factor, so 14.4 computed as 14.3999… still counts. */
const EPSILON = 1e-9;

/** One rule's state for one SLO. */
export interface BurnRateStatus {
  slo: string;
  rule: BurnRateRule['name'];
  factor: number;
  severity: Severity;
  /** Burn rate over the long window (null without requests in it). */
  long: number | null;
  short: number | null;
  /** Time the long window's counts cover, ms (less than the window while history is shorter). */
  covered_ms: number;
  /** Coverage the long window needs before the alert can fire, ms ({@link MIN_LONG_COVERAGE} of it). */
  min_covered_ms: number;
  /** Requests in the long window. */
  requests: number;
  firing: boolean;
}

/** Whether the SLA is an SLO with an error budget (availability or error rate). */
export function hasErrorBudget(sla: SlaConfig): boolean {
  return sla.kind === 'availability' || sla.kind === 'error_rate';
}

/** The share of requests allowed to fail under `sla` (0..1). */
export function errorBudget(sla: SlaConfig): number {
  return sla.kind === 'availability' ? Math.max(0, 1 - sla.target / 100) : sla.target;
}

/** Burn rate of `counts` against `budget`; null without requests. A zero budget burns infinitely on any error. */
export function burnRate(counts: WindowCounts | undefined, budget: number): number | null {
  if (counts === undefined || counts.requests === 0) return null;
  const errorRate = counts.errors / counts.requests;
  if (budget === 0) return errorRate > 0 ? Infinity : 0;
  return errorRate / budget;
}

/**
 * The share of the budget left over `counts`' window, 0..1; null without requests. The budget is
 * `budget × requests over the window`; while the history is shorter than the window, the requests
 * are projected to the whole window at the rate seen so far (a 30-day budget seven hours after
 * start is still a 30-day budget, not seven hours' worth).
 */
export function budgetRemaining(counts: WindowCounts | undefined, budget: number): number | null {
  if (counts === undefined || counts.requests === 0 || counts.coveredMs <= 0) return null;
  if (budget === 0) return counts.errors > 0 ? 0 : 1;
  const requests =
    counts.coveredMs < counts.windowMs ? (counts.requests * counts.windowMs) / counts.coveredMs : counts.requests;
  return Math.min(1, Math.max(0, 1 - counts.errors / (budget * requests)));
}

/** Each rule's state for `sla`, given request counts over any window. */
export function evaluateBurnRates(
  sla: SlaConfig,
  counts: (windowMs: number) => WindowCounts | undefined,
): BurnRateStatus[] {
  const budget = errorBudget(sla);
  return BURN_RATE_RULES.map((rule) => {
    const longCounts = counts(rule.longMs);
    const long = burnRate(longCounts, budget);
    const short = burnRate(counts(rule.shortMs), budget);
    const coveredMs = longCounts?.coveredMs ?? 0;
    const minCoveredMs = rule.longMs * MIN_LONG_COVERAGE;
    const over = (rate: number | null) => rate !== null && rate >= rule.factor * (1 - EPSILON);
    return {
      slo: sla.name,
      rule: rule.name,
      factor: rule.factor,
      severity: rule.severity,
      long,
      short,
      covered_ms: coveredMs,
      min_covered_ms: minCoveredMs,
      requests: longCounts?.requests ?? 0,
      firing: coveredMs >= minCoveredMs && over(long) && over(short),
    };
  });
}
