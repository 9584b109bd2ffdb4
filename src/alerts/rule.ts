/**
 * Alert rules: a condition on a number, held for a duration. A rule reads either a metric of the
 * table (every series whose labels pass the rule's matchers is its own alert instance; a histogram
 * is read as a statistic over a sliding window, `p95` over `1m` by default) or a value the
 * performance monitor derives (`latency.p95`, `error_rate`: see `DerivedValues`), and compares it
 * with `threshold` (`gt`, `ge`, `lt`, `le`, `eq`, `ne`).
 *
 * Defaults: `matchers: []`, `stat: 'p95'`, `window: '1m'`, `duration: 0` (fire at the first
 * evaluation that holds), `keepFiringFor: 0` (resolve at the first that does not), `labels: {}`,
 * `annotations: {}`. `summary` and `description` may use `{{ $value }}`, `{{ $threshold }}` and
 * `{{ $labels.<name> }}`.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import { type WindowName, WINDOWS } from '../metrics/histogram.js';
import { METRIC_NAME } from '../metrics/metric.js';
import { type QuantileName, QUANTILES } from '../metrics/window-stats.js';
import { checkAnnotations, checkLabels } from './alert-labels.js';
import { checkMatchers, type LabelMatcher } from './label-matcher.js';
import { isSeverity, type Severity, SEVERITIES } from './severity.js';

export type Condition = 'gt' | 'ge' | 'lt' | 'le' | 'eq' | 'ne';
/** What a rule reads from a histogram series, over its `window`. */
export type HistogramStat = QuantileName | 'count';

export const CONDITIONS: readonly Condition[] = ['gt', 'ge', 'lt', 'le', 'eq', 'ne'];
export const HISTOGRAM_STATS: readonly HistogramStat[] = [...(Object.keys(QUANTILES) as QuantileName[]), 'count'];
const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];

/** A rule as given (`add_rule`, start args). */
export interface RuleInput {
  /** Unique: letters, digits, `_`, `.`, `:`, `-`, starting with a letter or `_`; at most 128. */
  name: string;
  /** A metric name in the table, or a derived value's name such as `'latency.p95'`. */
  metric: string;
  matchers?: LabelMatcher[];
  /** Histograms only (default `'p95'`). */
  stat?: HistogramStat;
  /** Histograms only (default `'1m'`). */
  window?: WindowName;
  condition: Condition;
  threshold: number;
  /** ms the condition must hold before the alert fires (default 0). */
  duration?: number;
  /** ms an alert keeps firing after the condition stops holding, so a flap does not resolve it (default 0). */
  keepFiringFor?: number;
  severity: Severity;
  labels?: Record<string, string>;
  /** `summary`, `description`, `runbook_url`, or any other name. */
  annotations?: Record<string, string>;
}

/** A validated rule with every default applied. */
export type AlertRule = Readonly<Required<RuleInput>>;

const RULE_KEYS = [
  'name',
  'metric',
  'matchers',
  'stat',
  'window',
  'condition',
  'threshold',
  'duration',
  'keepFiringFor',
  'severity',
  'labels',
  'annotations',
];
const RULE_NAME = /^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$/;
/** The longest duration accepted: 30 days. */
const MAX_DURATION_MS = 30 * 86_400_000;

/**
 * Applies the defaults, then checks every field.
 * @param input the untrusted rule
 * @param severities the severities allowed (config `severity_levels`; default all four)
 * @throws {MonitorError} `EMON_INVALID_RULE` naming the rule, the field and what is allowed
 */
export function checkRule(input: unknown, severities: readonly Severity[] = SEVERITIES): AlertRule {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new MonitorError(ErrorCode.InvalidRule, `an alert rule must be an object, got ${describeValue(input)}`);
  }
  const raw = input as Record<string, unknown>;
  const name = validName(raw.name);
  const owner = `rule "${name}"`;
  const unknown = Object.keys(raw).find((key) => !RULE_KEYS.includes(key));
  if (unknown !== undefined) throw invalid(owner, `unknown key "${unknown}" (allowed: ${RULE_KEYS.join(', ')})`);
  const spec: Record<string, unknown> = {
    matchers: [],
    stat: 'p95',
    window: '1m',
    duration: 0,
    keepFiringFor: 0,
    labels: {},
    annotations: {},
    ...raw,
  };
  return Object.freeze({
    name,
    metric: validMetric(owner, spec.metric),
    matchers: checkMatchers(owner, spec.matchers, ErrorCode.InvalidRule, { nonEmpty: false }),
    stat: oneOf(owner, 'stat', spec.stat, HISTOGRAM_STATS),
    window: oneOf(owner, 'window', spec.window, WINDOW_NAMES),
    condition: oneOf(owner, 'condition', spec.condition, CONDITIONS),
    threshold: validThreshold(owner, spec.threshold),
    duration: validDuration(owner, 'duration', spec.duration),
    keepFiringFor: validDuration(owner, 'keepFiringFor', spec.keepFiringFor),
    severity: validSeverity(owner, spec.severity, severities),
    labels: checkLabels(owner, spec.labels, ErrorCode.InvalidRule, ['alertname']),
    annotations: checkAnnotations(owner, spec.annotations, ErrorCode.InvalidRule),
  });
}

/** Whether `value` meets `condition` against `threshold`. */
export function holds(condition: Condition, value: number, threshold: number): boolean {
  switch (condition) {
    case 'gt':
      return value > threshold;
    case 'ge':
      return value >= threshold;
    case 'lt':
      return value < threshold;
    case 'le':
      return value <= threshold;
    case 'eq':
      return value === threshold;
    case 'ne':
      return value !== threshold;
  }
}

/** `>`, `>=`, ... for messages. */
export function conditionSymbol(condition: Condition): string {
  return { gt: '>', ge: '>=', lt: '<', le: '<=', eq: '==', ne: '!=' }[condition];
}

function invalid(owner: string, what: string): MonitorError {
  return new MonitorError(ErrorCode.InvalidRule, `${owner}: ${what}`);
}

function validName(name: unknown): string {
  if (typeof name !== 'string' || !RULE_NAME.test(name)) {
    throw new MonitorError(
      ErrorCode.InvalidRule,
      `invalid rule name ${describeValue(name)} (letters, digits, "_", ".", ":", "-", starting with a letter or "_", at most 128 characters)`,
    );
  }
  return name;
}

function validMetric(owner: string, metric: unknown): string {
  if (typeof metric !== 'string' || !METRIC_NAME.test(metric)) {
    throw invalid(
      owner,
      `invalid metric ${describeValue(metric)} (a metric or derived value name: letters, digits, "_", "." and ":", not starting with a digit)`,
    );
  }
  return metric;
}

function oneOf<T extends string>(owner: string, field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !allowed.includes(value as T)) {
    throw invalid(
      owner,
      `invalid ${field} ${describeValue(value)} (allowed: ${allowed.map((a) => `"${a}"`).join(', ')})`,
    );
  }
  return value as T;
}

function validThreshold(owner: string, threshold: unknown): number {
  if (typeof threshold !== 'number' || !Number.isFinite(threshold))
    throw invalid(owner, `threshold must be a finite number, got ${describeValue(threshold)}`);
  return threshold;
}

function validDuration(owner: string, field: string, ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 0 || ms > MAX_DURATION_MS) {
    throw invalid(
      owner,
      `${field} must be an integer number of ms from 0 to ${MAX_DURATION_MS} (30 days), got ${describeValue(ms)}`,
    );
  }
  return ms;
}

function validSeverity(owner: string, severity: unknown, allowed: readonly Severity[]): Severity {
  if (!isSeverity(severity) || !allowed.includes(severity)) {
    throw invalid(
      owner,
      `invalid severity ${describeValue(severity)} (allowed: ${allowed.map((s) => `"${s}"`).join(', ')})`,
    );
  }
  return severity;
}
