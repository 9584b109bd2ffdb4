/**
 * Gauge: a value that goes up and down (memory in use, open connections). NaN, infinities and
 * non-numbers are refused with `EMON_INVALID_VALUE` and change nothing.
 */
import type { Labels } from './label-map.js';
import { invalidValue, labelsArg, overflowValue, Metric, type MetricContext, type MetricOptions, Series, valueArg } from './metric.js';

const WHAT = 'a gauge value must be a finite number';

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && v - v === 0;
}

export class GaugeSeries extends Series {
  value = 0;

  /** @throws {MonitorError} `EMON_INVALID_VALUE` */
  set(value: number): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.metric, WHAT, value);
    this.value = value;
  }

  /** @throws {MonitorError} `EMON_INVALID_VALUE` */
  inc(value = 1): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.metric, WHAT, value);
    const next = this.value + value;
    if (!isFiniteNumber(next)) throw overflowValue(this.metric, this.value, value);
    this.value = next;
  }

  /** @throws {MonitorError} `EMON_INVALID_VALUE` */
  dec(value = 1): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.metric, WHAT, value);
    const next = this.value - value;
    if (!isFiniteNumber(next)) throw overflowValue(this.metric, this.value, -value);
    this.value = next;
  }

  snapshot(): { v: number } {
    return { v: this.value };
  }

  restore(state: unknown): void {
    const v = (state as { v?: unknown } | null)?.v;
    if (!isFiniteNumber(v)) throw invalidValue(this.metric, 'a restored gauge must hold a finite number', v);
    this.value = v;
    this.flushedVersion = v;
  }

  version(): number {
    return this.value;
  }
}

export class Gauge extends Metric<GaugeSeries> {
  readonly type = 'gauge';

  /** @throws {MonitorError} `EMON_INVALID_NAME` for a bad name or label name */
  constructor(name: string, options: MetricOptions, context: MetricContext) {
    super(name, options, context, (labels) => new GaugeSeries(name, labels));
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
    this.map.get(labels).value = value;
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
    return this.find(labels)?.value;
  }

  #add(labels: Labels | undefined, value: unknown, sign: 1 | -1): void {
    if (!isFiniteNumber(value)) throw invalidValue(this.name, WHAT, value);
    const series = this.map.get(labels);
    const next = series.value + sign * value;
    if (!isFiniteNumber(next)) throw overflowValue(this.name, series.value, sign * value);
    series.value = next;
  }
}
