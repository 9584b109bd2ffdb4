/**
 * What a rule reads at one evaluation: one sample per matching series (its labels and current
 * value). A metric of the table wins over a derived value of the same name. A name that is neither
 * (yet) gives no samples, which the evaluator treats as "condition does not hold": a rule may be
 * added before its metric is registered or before the performance monitor's first check.
 */
import type { DerivedValues } from '../metrics/derived-values.js';
import { WINDOWS } from '../metrics/histogram.js';
import type { Registry } from '../metrics/registry.js';
import { QUANTILES } from '../metrics/window-stats.js';
import type { LabelPredicate } from './label-matcher.js';
import type { AlertRule } from './rule.js';

export interface Sample {
  labels: Readonly<Record<string, string>>;
  value: number;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The rule's samples now.
 * @param rule the rule
 * @param match the rule's compiled matchers
 * @param registry the metric table
 * @param derived the derived values
 */
export function sampleRule(
  rule: AlertRule,
  match: LabelPredicate,
  registry: Registry,
  derived: DerivedValues,
): Sample[] {
  const metric = registry.get(rule.metric);
  if (metric === undefined) {
    const value = derived.get(rule.metric);
    return value !== undefined && match(NO_LABELS) ? [{ labels: NO_LABELS, value: value.value }] : [];
  }
  const samples: Sample[] = [];
  if (metric.type === 'histogram') {
    const windowMs = WINDOWS[rule.window];
    metric.walk(0, Infinity, (slot) => {
      const series = metric.seriesAt(slot);
      if (!match(series.labels)) return;
      const value =
        rule.stat === 'count' ? series.window.count(windowMs) : series.quantile(QUANTILES[rule.stat], windowMs);
      if (value !== undefined) samples.push({ labels: series.labels, value });
    });
  } else {
    // By slot: the label object is made for matching, but no series handle.
    const values = metric.table.values;
    metric.walk(0, Infinity, (slot) => {
      const labels = metric.labelsAt(slot);
      if (match(labels)) samples.push({ labels, value: values.get(slot) });
    });
  }
  return samples;
}
