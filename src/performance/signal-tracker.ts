/**
 * SignalTracker: turns each check's figures into `AlertSignal`s, one per transition (a threshold,
 * an SLA state or a burn-rate alert), so alerting hears changes rather than every check.
 *
 * A resolve carries the severity of what it resolves; an SLA without data keeps its state, a
 * threshold without data counts as not breached. While firing, a changed text sends a `firing`
 * repeat so the alert shows the current value. Signal names and rules: docs/design-notes.md.
 */
import type { Severity } from '../alerts/severity.js';
import type { AlertSignal } from '../alerts/signal.js';
import type { Logger } from '../logger.js';
import { AlertState } from './alert-state.js';
import { BURN_RATE_RULES, type BurnRateStatus } from './burn-rate.js';
import type { PerformanceReport } from './report.js';
import type { SlaResult } from './sla.js';
import { describeCheck, formatValue, isBreached, type ThresholdRule } from './thresholds.js';

/** `source` of every signal the performance monitor sends. */
export const PERFORMANCE_SIGNAL_SOURCE = 'performance_monitor';

const SLA_SEVERITY: Record<Exclude<SlaResult['status'], 'no_data'>, Severity | undefined> = {
  ok: undefined,
  warning: 'warning',
  violated: 'error',
};

const SLA_UNIT: Record<string, 'ms' | 'req/s' | 'percent' | 'ratio'> = {
  response_time: 'ms',
  throughput: 'req/s',
  availability: 'percent',
  error_rate: 'ratio',
};

/** `'SLA response_time violated: current 201.0 ms vs target 100.0 ms (lower is better; compliance 49.8 %, 15 s, 300 samples)'`. */
export function slaMessage(sla: SlaResult): string {
  if (sla.current === null) return `SLA ${sla.name}: no data over ${Math.round(sla.window_ms / 1000)} s`;
  const unit = SLA_UNIT[sla.kind] ?? 'ratio';
  return (
    `SLA ${sla.name} ${sla.status}: current ${formatValue(sla.current, unit)} vs target ${formatValue(sla.target, unit, true)} ` +
    `(${sla.direction.replace(/_/g, ' ')}; compliance ${sla.compliance!.toFixed(1)} %, ${Math.round(sla.covered_ms / 1000)} s, ${sla.samples} samples)`
  );
}

/** `'7.5 min'`, `'13 s'`, `'2.0 h'`. */
function duration(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** How much data a burn-rate status used: `'7.5 min of the 60 min window, 9000 requests'`. */
export function burnRateData(b: BurnRateStatus): string {
  const rule = BURN_RATE_RULES.find((r) => r.name === b.rule)!;
  return `${duration(Math.min(b.covered_ms, rule.longMs))} of the ${rule.longMs / 60_000} min window, ${b.requests} requests`;
}

/**
 * `'error budget of uptime burning 20.00x over 60 min and 18.00x over 5 min (both at or above
 * 14.4x; data: 7.5 min of the 60 min window, 9000 requests)'`; before the long window is covered
 * enough, says so instead of judging.
 */
export function burnRateMessage(b: BurnRateStatus): string {
  const rule = BURN_RATE_RULES.find((r) => r.name === b.rule)!;
  const rate = (r: number | null) => (r === null ? 'no data' : `${r.toFixed(2)}x`);
  const verdict =
    b.covered_ms < b.min_covered_ms
      ? `not judged before ${duration(b.min_covered_ms)} of data`
      : b.firing
        ? `both at or above ${b.factor}x`
        : `not both at ${b.factor}x`;
  return `error budget of ${b.slo} burning ${rate(b.long)} over ${rule.longMs / 60_000} min and ${rate(b.short)} over ${rule.shortMs / 60_000} min (${verdict}; data: ${burnRateData(b)})`;
}

export class SignalTracker {
  readonly #rules: readonly ThresholdRule[];
  readonly #state: AlertState;
  readonly #log: Logger;
  /** The message last sent per firing condition. */
  readonly #sent = new Map<string, string>();

  /**
   * @param rules the threshold rules (`thresholdRules(config)`)
   * @param firing what is already firing (from the last stored report), key → severity
   * @param log where SLA violations are logged, once per transition
   */
  constructor(rules: readonly ThresholdRule[], firing: Record<string, Severity>, log: Logger) {
    this.#rules = rules;
    this.#state = new AlertState(Object.entries(firing));
    this.#log = log;
  }

  /** Everything firing now, key → severity. */
  firing(): Record<string, Severity> {
    return this.#state.snapshot();
  }

  /** Threshold transitions of one report. */
  thresholds(report: PerformanceReport): AlertSignal[] {
    const signals: AlertSignal[] = [];
    for (const rule of this.#rules) {
      const measured = report.metrics[rule.key];
      const value = measured.value === null ? {} : { value: measured.value };
      this.#push(
        signals,
        rule.key,
        isBreached(rule, measured) ? rule.severity : undefined,
        report.at,
        describeCheck(rule, measured),
        { ...value, threshold: rule.threshold },
      );
    }
    return signals;
  }

  /** SLA transitions; a violation is logged when it starts and when it ends. */
  slas(results: readonly SlaResult[], at: number): AlertSignal[] {
    const signals: AlertSignal[] = [];
    for (const sla of results) {
      if (sla.status === 'no_data') continue;
      const key = `sla.${sla.name}`;
      const wasViolated = this.#state.severityOf(key) === 'error';
      const value = sla.current === null ? {} : { value: sla.current };
      if (!this.#push(signals, key, SLA_SEVERITY[sla.status], at, slaMessage(sla), { ...value, threshold: sla.target }))
        continue;
      if (sla.status === 'violated')
        this.#log.warn(
          { sla: sla.name, current: sla.current, target: sla.target, compliance: sla.compliance },
          slaMessage(sla),
        );
      else if (wasViolated)
        this.#log.info({ sla: sla.name, status: sla.status }, `SLA ${sla.name} no longer violated (${sla.status})`);
    }
    return signals;
  }

  /** Burn-rate transitions; each says how much data its long window had. */
  burnRates(statuses: readonly BurnRateStatus[], at: number): AlertSignal[] {
    const signals: AlertSignal[] = [];
    for (const b of statuses) {
      const value = b.long === null || !Number.isFinite(b.long) ? {} : { value: b.long };
      const annotations = { data: burnRateData(b) };
      this.#push(signals, `burn_rate.${b.rule}.${b.slo}`, b.firing ? b.severity : undefined, at, burnRateMessage(b), {
        ...value,
        threshold: b.factor,
        annotations,
      });
    }
    return signals;
  }

  /** Records the condition's state; on a transition adds its signal to `out` and returns true. */
  #push(
    out: AlertSignal[],
    key: string,
    severity: Severity | undefined,
    at: number,
    message: string,
    extra: { value?: number; threshold: number; annotations?: Record<string, string> },
  ): boolean {
    const before = this.#state.severityOf(key);
    const change = this.#state.update(key, severity);
    if (change === undefined) {
      if (severity !== undefined && this.#sent.get(key) !== message) {
        this.#sent.set(key, message);
        out.push({
          source: PERFORMANCE_SIGNAL_SOURCE,
          key,
          state: 'firing',
          severity,
          message,
          ...(extra.value === undefined ? {} : { value: extra.value }),
          threshold: extra.threshold,
          at,
        });
      }
      return false;
    }
    if (change === 'resolved') this.#sent.delete(key);
    else this.#sent.set(key, message);
    out.push({
      source: PERFORMANCE_SIGNAL_SOURCE,
      key,
      state: change === 'resolved' ? 'resolved' : 'firing',
      severity: severity ?? before ?? 'info',
      message,
      ...(extra.value === undefined ? {} : { value: extra.value }),
      threshold: extra.threshold,
      ...(extra.annotations === undefined ? {} : { annotations: extra.annotations }),
      at,
    });
    return true;
  }
}
