/**
 * `LiveReader`: the newest value of a chart series, read from the metric table (never from LMDB).
 *
 * A chart series picks one series (`labels`), a combination (`label_prefix`, or all of them), or
 * falls back to `DerivedValues` under the same name, else `null`. Combined histograms merge their
 * windows so percentiles stay true percentiles. `stat` picks the number (`value`, `rate`, `p95`,
 * ...); a stat that does not apply to the metric's type reads `null`. `rate` needs reads at least
 * {@link RATE_MIN_INTERVAL_MS} apart. Selection and stat rules: docs/design-notes.md.
 */
import type { DerivedValues } from '../metrics/derived-values.js';
import { WINDOWS } from '../metrics/histogram.js';
import { NO_SLOT } from '../metrics/label-map.js';
import type { AnyMetric, Registry } from '../metrics/registry.js';
import { derivedKey } from '../store/table-store.js';
import { Sketch } from '../metrics/sketch.js';
import { minuteReadings, type QuantileName, QUANTILES } from '../metrics/window-stats.js';
import type { ChartSeriesDef } from './protocol.js';

/** A rate is recomputed only after this long, so two reads close together do not give noise. */
export const RATE_MIN_INTERVAL_MS = 1000;

interface RateState {
  at: number;
  total: number;
  rate: number | null;
}

/** Whether `labels` has, for each label of `prefixes`, a value starting with its prefix. */
export function matchesPrefix(
  labels: Readonly<Record<string, string>>,
  prefixes: Readonly<Record<string, string>>,
): boolean {
  for (const name in prefixes) {
    // Own labels only: `labels.constructor` of a series without that label is Object, not a value.
    const value = Object.hasOwn(labels, name) ? labels[name] : undefined;
    if (typeof value !== 'string' || !value.startsWith(prefixes[name]!)) return false;
  }
  return true;
}

/**
 * Calls `visit` with the slot of each series of `metric` a chart series names (see the module
 * header), in the order of `series()`. No handle is made: a chart of a million-series metric
 * summed each tick reads a million slots, not a million new objects.
 */
export function selectSlots(
  metric: AnyMetric,
  labels: Readonly<Record<string, string>> | undefined,
  prefixes: Readonly<Record<string, string>> | undefined,
  visit: (slot: number) => void,
): void {
  if (prefixes !== undefined) {
    // Compared by label index, value by value: no label object per series. A name the metric
    // does not have matches no series.
    const at: number[] = [];
    const texts: string[] = [];
    const exact: boolean[] = [];
    const want = (wanted: Readonly<Record<string, string>>, isExact: boolean): boolean => {
      for (const name in wanted) {
        const i = metric.labelNames.indexOf(name);
        if (i === -1) return false;
        at.push(i);
        texts.push(wanted[name]!);
        exact.push(isExact);
      }
      return true;
    };
    if (!want(prefixes, false) || (labels !== undefined && !want(labels, true))) return;
    const n = at.length;
    metric.walk(0, Infinity, (slot) => {
      for (let k = 0; k < n; k++) {
        const value = metric.labelValueAt(slot, at[k]!);
        if (exact[k] ? value !== texts[k] : !value.startsWith(texts[k]!)) return;
      }
      visit(slot);
    });
    return;
  }
  if (labels !== undefined || metric.labelNames.length === 0) {
    let slot: number;
    try {
      slot = metric.findSlot(labels);
    } catch {
      return; // labels that do not fit the metric name no series
    }
    if (slot !== NO_SLOT) visit(slot);
    return;
  }
  metric.walk(0, Infinity, visit);
}

export class LiveReader {
  readonly #registry: Registry;
  readonly #derived: DerivedValues | undefined;
  /** Rate state per chart series (bounded by the configured dashboards' series). */
  readonly #rates = new Map<string, RateState>();

  /**
   * @param registry the metric table
   * @param derived values computed by the performance monitor, read when a metric is not in the table
   */
  constructor(registry: Registry, derived?: DerivedValues) {
    this.#registry = registry;
    this.#derived = derived;
  }

  /**
   * The current value of one chart series.
   * @param def the chart series
   * @param nowMs the read time, for rates: on a clock that never steps (a step would freeze or blank a rate)
   * @returns the value, or `null` when there is no data
   */
  value(def: ChartSeriesDef, nowMs: number): number | null {
    const metric = this.#registry.get(def.metric);
    const stat = def.stat ?? 'value';
    if (metric === undefined) {
      if (def.labels !== undefined || (stat !== 'value' && stat !== 'mean')) return null;
      return this.#derived?.get(def.metric)?.value ?? null;
    }
    if (metric.type !== 'histogram') {
      const values = metric.table.values;
      // Sums in a typed array: a number variable the visitor adds to is boxed anew at each addition.
      const total = new Float64Array(1);
      let found = 0;
      selectSlots(metric, def.labels, def.label_prefix, (slot) => {
        total[0]! += values.get(slot);
        found++;
      });
      if (found === 0) return null;
      if (stat === 'value') return total[0]!;
      if (stat === 'rate') return this.#rate(def, total[0]!, nowMs);
      return null;
    }
    const table = metric.table;
    if (Object.hasOwn(QUANTILES, stat)) {
      // As windowSketch: one series' window as is, several merged into a new sketch.
      let only: Sketch | undefined;
      let merged: Sketch | undefined;
      selectSlots(metric, def.labels, def.label_prefix, (slot) => {
        const minute = table.windowOf(slot).merged(WINDOWS['1m']);
        if (only === undefined) only = minute;
        else {
          if (merged === undefined) {
            merged = new Sketch();
            merged.merge(only);
          }
          merged.merge(minute);
        }
      });
      const sketch = merged ?? only;
      return sketch === undefined ? null : (sketch.quantile(QUANTILES[stat as QuantileName]) ?? null);
    }
    const sums = new Float64Array(2); // count, sum (see above)
    let found = 0;
    selectSlots(metric, def.labels, def.label_prefix, (slot) => {
      sums[0]! += table.countOf(slot);
      sums[1]! += table.sumOf(slot);
      found++;
    });
    if (found === 0) return null;
    const count = sums[0]!;
    const total = sums[1]!;
    switch (stat) {
      case 'count':
        return count;
      case 'value':
      case 'mean':
        return count === 0 ? null : total / count;
      case 'rate':
        return this.#rate(def, count, nowMs);
      default:
        return null;
    }
  }

  /**
   * Every series of `name` with its current value, by series key; a histogram series gives its
   * derived keys (`<key>#p50`, `#p95`, `#p99`, `#count`), as its history is stored.
   * @param name a metric name (unknown: `{}`)
   * @param limit most series read (the rest are left out)
   */
  metricValues(name: string, limit: number): Record<string, number | null> {
    // Null prototype: a series key may be `__proto__` (a metric of that name without labels).
    const out = Object.create(null) as Record<string, number | null>;
    const metric = this.#registry.get(name);
    if (metric === undefined) return out;
    // The first `limit` series by slot: no handle (nor array) of every series of the metric.
    if (metric.type === 'histogram') {
      metric.walk(0, limit, (slot) => {
        const key = metric.keyAt(slot);
        const minute = minuteReadings(metric.seriesAt(slot));
        out[derivedKey(key, 'p50')] = minute.p50 ?? null;
        out[derivedKey(key, 'p95')] = minute.p95 ?? null;
        out[derivedKey(key, 'p99')] = minute.p99 ?? null;
        out[derivedKey(key, 'count')] = minute.count;
      });
    } else {
      const values = metric.table.values;
      metric.walk(0, limit, (slot) => {
        out[metric.keyAt(slot)] = values.get(slot);
      });
    }
    return out;
  }

  #rate(def: ChartSeriesDef, total: number, nowMs: number): number | null {
    const id = `${def.metric}\u0000${JSON.stringify(def.labels ?? null)}\u0000${JSON.stringify(def.label_prefix ?? null)}\u0000${def.stat}`;
    const prev = this.#rates.get(id);
    if (prev === undefined) {
      this.#rates.set(id, { at: nowMs, total, rate: null });
      return null;
    }
    const elapsed = nowMs - prev.at;
    if (elapsed < RATE_MIN_INTERVAL_MS) return prev.rate;
    const delta = total - prev.total;
    prev.rate = delta < 0 ? null : (delta * 1000) / elapsed;
    prev.at = nowMs;
    prev.total = total;
    return prev.rate;
  }
}
