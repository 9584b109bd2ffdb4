/**
 * Counter: a value that only goes up (requests served, bytes sent). A negative, NaN, infinite or
 * non-number increment is refused with `EMON_INVALID_VALUE` and changes nothing.
 */
import { type Labels, NO_SLOT } from './label-map.js';
import { invalidValue, labelsArg, overflowValue, valueArg } from './metric.js';
import { ScalarMetric } from './scalar-metric.js';
import { ScalarSeries } from './scalar-table.js';
import { chunkOf, indexIn } from './slot-columns.js';

const WHAT = 'a counter increment must be a finite number >= 0';

export class CounterSeries extends ScalarSeries {
  /** Adds `value` (default 1). @throws {MonitorError} `EMON_INVALID_VALUE` */
  inc(value = 1): void {
    if (typeof value !== 'number' || !(value >= 0) || value === Infinity) throw invalidValue(this.metric, WHAT, value);
    const chunk = this.chunk;
    const i = this.index;
    const next = chunk[i]! + value;
    if (next === Infinity) throw overflowValue(this.metric, chunk[i]!, value);
    chunk[i] = next;
  }

  protected refusedRestore(v: unknown): string | undefined {
    return typeof v !== 'number' || !(v >= 0) || v === Infinity
      ? 'a restored counter must hold a finite number >= 0'
      : undefined;
  }
}

export class Counter extends ScalarMetric<CounterSeries> {
  readonly type = 'counter';

  protected at(slot: number): CounterSeries {
    return new CounterSeries(this.table, slot);
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
    const slot = this.map.get(labels);
    const c = chunkOf(slot);
    const chunk = this.table.values.chunks[c]!;
    const i = indexIn(slot, c);
    const next = chunk[i]! + value;
    if (next === Infinity) throw overflowValue(this.name, chunk[i]!, value);
    chunk[i] = next;
  }

  /** The current value for `labels`, or undefined if that series does not exist. */
  get(labels?: Labels): number | undefined {
    const slot = this.map.find(labels);
    return slot === NO_SLOT ? undefined : this.table.values.get(slot);
  }
}
