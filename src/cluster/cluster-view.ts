/**
 * One registry showing the series of every process of a node:cluster deployment, for the primary's
 * exposition: `by_worker` (one more label, `worker`) or `sum` (summed over the sources, sketches
 * merged). A worker that exits keeps its counters and histograms in the sum (a sum must not go down
 * when a worker is replaced) and its gauges leave it. A report the view cannot take is skipped and
 * counted in `monitor.cluster.rejected{reason}`; it never throws at the primary.
 */
import { toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Counter } from '../metrics/counter.js';
import type { Series } from '../metrics/metric.js';
import { Registry } from '../metrics/registry.js';
import { Sketch } from '../metrics/sketch.js';
import type { ClusterMetric } from './cluster-messages.js';

/** How workers' series are shown: config `cluster_aggregation`. */
export type ClusterAggregation = 'by_worker' | 'sum';

/** Counter of metric reports not merged, by `reason` (an error code, or `malformed`). */
export const CLUSTER_REJECTED_METRIC = 'monitor.cluster.rejected';
/** Counter of merged reports. */
export const CLUSTER_REPORTS_METRIC = 'monitor.cluster.reports';
/** The source name of the primary's own registry. */
export const PRIMARY_SOURCE = 'primary';
const WORKER_LABEL = 'worker';
const MAX_LOGGED = 10;

interface HistogramState {
  bounds: number[];
  b: number[];
  s: number;
  c: number;
  mn: number | null;
  mx: number | null;
  sk: unknown;
}

/** In `sum` mode: per metric and label key, each source's latest state. */
interface SumEntry {
  metric: ClusterMetric;
  labels: Record<string, string>;
  bySource: Map<string, unknown>;
}

/** Options of {@link ClusterView}. */
export interface ClusterViewOptions {
  mode: ClusterAggregation;
  logger: Logger;
  /** Series limit of the view registry (default 10,000 per metric). */
  seriesLimit?: number;
  /** Prefix of the exposed names (see `RegistryOptions.namespace`; default none). */
  namespace?: string | undefined;
}

/** The merged registry of every process; see the module header. */
export class ClusterView {
  /** The merged table: render it, or flush it to a store. */
  readonly registry: Registry;
  readonly mode: ClusterAggregation;
  readonly #log: Logger;
  readonly #rejected: Counter;
  readonly #reports: Counter;
  readonly #sums = new Map<string, SumEntry>();
  readonly #logged = new Set<string>();

  constructor(options: ClusterViewOptions) {
    this.mode = options.mode;
    this.#log = options.logger;
    this.registry = new Registry({
      logger: options.logger,
      namespace: options.namespace,
      ...(options.seriesLimit === undefined ? {} : { seriesLimit: options.seriesLimit }),
    });
    this.#rejected = this.registry.counter(CLUSTER_REJECTED_METRIC, {
      help: 'Cluster metric reports (per metric) the primary could not merge',
      labels: ['reason'],
    });
    this.#reports = this.registry.counter(CLUSTER_REPORTS_METRIC, {
      help: 'Metric reports merged from cluster processes',
    });
  }

  /** Merges one report of `source` (a worker id, or `primary`). Never throws. */
  merge(source: string, metrics: readonly ClusterMetric[]): void {
    if (metrics.length === 0) return;
    this.#reports.inc();
    for (const metric of metrics) {
      try {
        if (this.mode === 'by_worker') this.#mergeByWorker(source, metric);
        else this.#mergeSum(source, metric);
      } catch (err) {
        this.#reject(metric, err);
      }
    }
  }

  /** A source is gone: in `sum` mode its gauges leave the sums. */
  forget(source: string): void {
    if (this.mode !== 'sum') return;
    for (const entry of this.#sums.values()) {
      if (entry.metric.type === 'gauge' && entry.bySource.delete(source)) this.#writeSum(entry);
    }
  }

  #register(metric: ClusterMetric, extraLabel: boolean) {
    if (typeof metric?.name !== 'string' || !Array.isArray(metric.labelNames) || !Array.isArray(metric.series)) {
      throw new Error('malformed metric report');
    }
    const labels = extraLabel ? [...metric.labelNames, WORKER_LABEL] : metric.labelNames;
    return this.registry.register(metric.name, metric.type, {
      help: metric.help,
      unit: metric.unit,
      labels,
      ...(metric.buckets === undefined ? {} : { buckets: metric.buckets }),
    });
  }

  #mergeByWorker(source: string, metric: ClusterMetric): void {
    const target = this.#register(metric, true);
    for (const s of metric.series) {
      restoreInto(target.bind({ ...s.labels, [WORKER_LABEL]: source }), s.state);
    }
  }

  #mergeSum(source: string, metric: ClusterMetric): void {
    this.#register(metric, false);
    for (const s of metric.series) {
      const key = `${metric.name}\u0000${JSON.stringify(s.labels)}`;
      let entry = this.#sums.get(key);
      if (entry === undefined) {
        entry = { metric, labels: s.labels, bySource: new Map() };
        this.#sums.set(key, entry);
      }
      const previous = entry.bySource.get(source);
      entry.bySource.set(source, s.state);
      try {
        this.#writeSum(entry);
      } catch (err) {
        // Keep the sum computable: the bad state must not poison later reports.
        if (previous === undefined) entry.bySource.delete(source);
        else entry.bySource.set(source, previous);
        throw err;
      }
    }
  }

  #writeSum(entry: SumEntry): void {
    const target = this.registry.get(entry.metric.name)!;
    const states = [...entry.bySource.values()];
    const state =
      target.type === 'histogram'
        ? sumHistograms(states as HistogramState[])
        : { v: states.reduce((a: number, st) => a + (st as { v: number }).v, 0) };
    restoreInto(target.bind(entry.labels), state);
  }

  #reject(metric: ClusterMetric, err: unknown): void {
    const error = toError(err);
    const reason = (error as { code?: string }).code ?? 'malformed';
    this.#rejected.inc({ reason });
    const message = `cluster: metric report for "${String(metric?.name)}" not merged: ${error.message}`;
    if (this.#logged.size < MAX_LOGGED && !this.#logged.has(message)) {
      this.#logged.add(message);
      this.#log.warn({ reason }, message);
    }
  }
}

function restoreInto(series: Series, state: unknown): void {
  series.restore(state);
  // restore() marks the state as already persisted; in the view it is new, so a flush writes it.
  series.flushedVersion = undefined;
}

function sumHistograms(states: HistogramState[]): HistogramState {
  const first = states[0]!;
  const out: HistogramState = {
    bounds: first.bounds,
    b: first.b.map(() => 0),
    s: 0,
    c: 0,
    mn: null,
    mx: null,
    sk: undefined,
  };
  const sketch = new Sketch();
  for (const st of states) {
    if (st.b.length !== out.b.length || st.bounds.some((b, i) => b !== first.bounds[i]))
      throw new Error('histogram buckets differ between processes');
    st.b.forEach((n, i) => (out.b[i]! += n));
    out.s += st.s;
    out.c += st.c;
    if (typeof st.mn === 'number') out.mn = out.mn === null ? st.mn : Math.min(out.mn, st.mn);
    if (typeof st.mx === 'number') out.mx = out.mx === null ? st.mx : Math.max(out.mx, st.mx);
    sketch.merge(Sketch.fromJSON(st.sk));
  }
  out.sk = sketch.toJSON();
  return out;
}
