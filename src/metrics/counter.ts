/**
 * Counter: a value that only goes up (requests served, bytes sent). A negative, NaN, infinite or
 * non-number increment is refused with `EMON_INVALID_VALUE` and changes nothing.
 */
import type { Labels } from './label-map.js';
import { invalidValue, labelsArg, overflowValue, Metric, type MetricContext, type MetricOptions, Series, valueArg } from './metric.js';

const WHAT = 'a counter increment must be a finite number >= 0';

export class CounterSeries extends Series {
  value = 0;

  /** Adds `value` (default 1). @throws {MonitorError} `EMON_INVALID_VALUE` */
  inc(value = 1): void {
    if (typeof value !== 'number' || !(value >= 0) || value === Infinity) throw invalidValue(this.metric, WHAT, value);
    const next = this.value + value;
    if (next === Infinity) throw overflowValue(this.metric, this.value, value);
    this.value = next;
  }

  snapshot(): { v: number } {
    return { v: this.value };
  }

  restore(state: unknown): void {
    const v = (state as { v?: unknown } | null)?.v;
    if (typeof v !== 'number' || !(v >= 0) || v === Infinity) throw invalidValue(this.metric, 'a restored counter must hold a finite number >= 0', v);
    this.value = v;
    this.flushedVersion = v;
  }

  version(): number {
    return this.value;
  }
}

export class Counter extends Metric<CounterSeries> {
  readonly type = 'counter';

  /** @throws {MonitorError} `EMON_INVALID_NAME` for a bad name or label name */
  constructor(name: string, options: MetricOptions, context: MetricContext) {
    super(name, options, context, (labels) => new CounterSeries(name, labels));
  }

  /**
   * Adds to the series for `labels`: `inc()`, `inc(5)`, `inc({ method: 'GET' })`,
   * `inc({ method: 'GET' }, 5)` or `inc(5, { method: 'GET' })`.
   * @throws {MonitorError} `EMON_INVALID_VALUE` or `EMON_INVALID_LABELS`; nothing changes then
   */
  inc(labelsOrValue?: Labels | number, valueOrLabels?: number | Labels): void {
    this.incBy(labelsArg(labelsOrValue, valueOrLabels), valueArg(labelsOrValue, valueOrLabels, 1));
  }

  /**
   * `inc` with its arguments in fixed places, as the message API has them: the increment's one
   * check (a value of any type is refused here, not read as labels).
   * @throws {MonitorError} `EMON_INVALID_VALUE` or `EMON_INVALID_LABELS`; nothing changes then
   */
  incBy(labels: Labels | undefined, value: unknown): void {
    if (typeof value !== 'number' || !(value >= 0) || value === Infinity) throw invalidValue(this.name, WHAT, value);
    const series = this.map.get(labels);
    const next = series.value + value;
    if (next === Infinity) throw overflowValue(this.name, series.value, value);
    series.value = next;
  }

  /** The current value for `labels`, or undefined if that series does not exist. */
  get(labels?: Labels): number | undefined {
    return this.find(labels)?.value;
  }
}
