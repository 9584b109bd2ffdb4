/**
 * Gauge: a value that goes up and down (memory in use, open connections). NaN, infinities and
 * non-numbers are refused with `EMON_INVALID_VALUE` and change nothing.
 */
import { type Labels, NO_SLOT } from './label-map.js';
import { invalidValue, labelsArg, overflowValue, valueArg } from './metric.js';
import { ScalarMetric } from './scalar-metric.js';
import { ScalarSeries } from './scalar-table.js';
import { chunkOf, indexIn } from './slot-columns.js';

const WHAT = 'a gauge value must be a finite number';

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && v - v === 0;
}

export class GaugeSeries extends ScalarSeries {
  /** @throws {MonitorError} `EMON_INVALID_VALUE` */
  set(value: number): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.metric, WHAT, value);
    this.chunk[this.index] = value;
  }

  /** @throws {MonitorError} `EMON_INVALID_VALUE` */
  inc(value = 1): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.metric, WHAT, value);
    const chunk = this.chunk;
    const i = this.index;
    const next = chunk[i]! + value;
    if (!isFiniteNumber(next)) throw overflowValue(this.metric, chunk[i]!, value);
    chunk[i] = next;
  }

  /** @throws {MonitorError} `EMON_INVALID_VALUE` */
  dec(value = 1): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.metric, WHAT, value);
    const chunk = this.chunk;
    const i = this.index;
    const next = chunk[i]! - value;
    if (!isFiniteNumber(next)) throw overflowValue(this.metric, chunk[i]!, -value);
    chunk[i] = next;
  }

  protected refusedRestore(v: unknown): string | undefined {
    return isFiniteNumber(v) ? undefined : 'a restored gauge must hold a finite number';
  }
}

export class Gauge extends ScalarMetric<GaugeSeries> {
  readonly type = 'gauge';

  protected at(slot: number): GaugeSeries {
    return new GaugeSeries(this.table, slot);
  }

  /**
   * Sets the series for `labels`: `set(3)`, `set(3, { pool: 'db' })` or `set({ pool: 'db' }, 3)`.
   * @throws {MonitorError} `EMON_INVALID_VALUE` or `EMON_INVALID_LABELS`; nothing changes then
   */
  set(valueOrLabels: number | Labels, labelsOrValue?: Labels | number): void {
    this.setTo(labelsArg(valueOrLabels, labelsOrValue), valueArg(valueOrLabels, labelsOrValue));
  }

  /**
   * `set` with its arguments in fixed places, as the message API has them: the value's one check.
   * @throws {MonitorError} `EMON_INVALID_VALUE` or `EMON_INVALID_LABELS`; nothing changes then
   */
  setTo(labels: Labels | undefined, value: unknown): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.name, WHAT, value);
    this.table.values.set(this.map.get(labels), value);
  }

  /** Adds `value` (default 1); arguments as for `Counter.inc`. */
  inc(labelsOrValue?: Labels | number, valueOrLabels?: number | Labels): void {
    this.#add(labelsArg(labelsOrValue, valueOrLabels), valueArg(labelsOrValue, valueOrLabels, 1), 1);
  }

  /** `inc` with its arguments in fixed places (see `setTo`). @throws {MonitorError} as `inc` */
  incBy(labels: Labels | undefined, value: unknown): void {
    this.#add(labels, value, 1);
  }

  /** Subtracts `value` (default 1); arguments as for `Counter.inc`. */
  dec(labelsOrValue?: Labels | number, valueOrLabels?: number | Labels): void {
    this.#add(labelsArg(labelsOrValue, valueOrLabels), valueArg(labelsOrValue, valueOrLabels, 1), -1);
  }

  /** The current value for `labels`, or undefined if that series does not exist. */
  get(labels?: Labels): number | undefined {
    const slot = this.map.find(labels);
    return slot === NO_SLOT ? undefined : this.table.values.get(slot);
  }

  #add(labels: Labels | undefined, value: unknown, sign: 1 | -1): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.name, WHAT, value);
    const slot = this.map.get(labels);
    const c = chunkOf(slot);
    const chunk = this.table.values.chunks[c]!;
    const i = indexIn(slot, c);
    const next = chunk[i]! + sign * value;
    if (!isFiniteNumber(next)) throw overflowValue(this.name, chunk[i]!, sign * value);
    chunk[i] = next;
  }
}
