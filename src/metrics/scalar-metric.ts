/**
 * `ScalarMetric`: what counters and gauges share: their series' values, flushed versions and store
 * ids live in one `ScalarTable` of typed-array columns by slot, replaced by `reset`.
 */
import { Metric, type MetricContext, type MetricOptions } from './metric.js';
import { type ScalarSeries, ScalarTable } from './scalar-table.js';

export abstract class ScalarMetric<S extends ScalarSeries> extends Metric<S> {
  #table: ScalarTable;

  /** @throws {MonitorError} `EMON_INVALID_NAME` for a bad name or label name */
  constructor(name: string, options: MetricOptions, context: MetricContext) {
    super(name, options, context);
    this.#table = new ScalarTable(name, this.map);
  }

  /** The columns of every series by slot, for readers that `walk` the metric. Replaced by `reset`. */
  get table(): ScalarTable {
    return this.#table;
  }

  protected created(slot: number): void {
    this.#table.created(slot);
  }

  protected cleared(): void {
    this.#table = new ScalarTable(this.name, this.map);
  }
}
