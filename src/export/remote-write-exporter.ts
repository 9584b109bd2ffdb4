/**
 * The remote-write exporter, sending what a scrape would: each `collect(now)` takes every series of
 * the registry under the same sample names and labels as `/metrics`, stamps them `now`, adds
 * `externalLabels`, and queues batches for the {@link ExportQueue}. Every series every round, changed
 * or not, because that is what Prometheus gets from a scrape (an idle counter still has samples in
 * any `rate()` window); a series gone since the last round gets a staleness marker. Building a batch
 * yields to the event loop every `YIELD_EVERY_SAMPLES` samples. Details: docs/design-notes.md.
 */
import os from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { exposedName } from '../metrics/prometheus-names.js';
import type { Logger } from '../logger.js';
import type { HistogramSeries } from '../metrics/histogram.js';
import { WALK_DONE } from '../metrics/label-map.js';
import type { MetricType } from '../metrics/metric.js';
import type { Registry } from '../metrics/registry.js';
import { type ExportQueueOptions, ExportQueue } from './export-queue.js';
import {
  PROM_METRIC_TYPE,
  type PromLabel,
  type PromMetricMetadata,
  type PromTimeSeries,
  REMOTE_WRITE_HEADERS,
  seriesLabels,
  STALE_NAN,
  writeRequestBody,
} from './remote-write.js';

const YIELD_EVERY_SAMPLES = 1000;
/** Series read from the table per walk step (their samples are then batched one series at a time). */
const WALK_STEP = 256;
/** Unit suffixes an exposed family name may end in (as the OpenMetrics `# UNIT` line reads them). */
const UNITS = ['seconds', 'bytes', 'ratio', 'percent', 'cores'];

/** The queue's options (without headers: remote write's are fixed) plus the exporter's own. */
export interface RemoteWriteExporterOptions extends Omit<ExportQueueOptions, 'headers'> {
  /** Labels added to every series (default `{ job: 'erlmcp_monitor', instance: os.hostname() }`). */
  externalLabels?: Readonly<Record<string, string>>;
  /**
   * Samples per request at most (default 1,000). Each batch is encoded and compressed in one
   * block of the event loop: ~1,000 samples keep that block to a few ms (bench/exposition.bench.ts).
   */
  maxSamplesPerBatch?: number;
}

/** What one `collect` queued. */
export interface CollectSummary {
  series: number;
  samples: number;
  batches: number;
  /** Staleness markers for series gone since the previous round. */
  stale: number;
}

/** Turns the registry's series into remote-write batches on its {@link ExportQueue}. */
export class RemoteWriteExporter {
  readonly queue: ExportQueue;
  readonly #registry: Registry;
  readonly #external: Readonly<Record<string, string>>;
  readonly #maxSamples: number;
  readonly #log: Logger;
  /**
   * The label sets each series was last sent with (one per time series: a histogram has several),
   * by series key: a counter's series handle is a new object at each `series()` call.
   */
  #sent = new Map<string, PromLabel[][]>();

  /** @throws {MonitorError} `EMON_INVALID_OPTION` for a bad endpoint or option */
  constructor(options: RemoteWriteExporterOptions) {
    this.queue = new ExportQueue({ ...options, headers: REMOTE_WRITE_HEADERS });
    this.#registry = options.registry;
    this.#log = options.logger;
    this.#external = options.externalLabels ?? { job: 'erlmcp_monitor', instance: os.hostname() };
    this.#maxSamples = options.maxSamplesPerBatch ?? 1000;
  }

  /** Queues every series, stamped `now` (ms), and staleness markers for those gone since the last call. Never throws. */
  async collect(now: number): Promise<CollectSummary> {
    const summary: CollectSummary = { series: 0, samples: 0, batches: 0, stale: 0 };
    const batcher = new Batcher(this.queue, this.#maxSamples, this.#log);
    const sent = new Map<string, PromLabel[][]>();
    for (const metric of this.#registry.metrics()) {
      const { name, scale } = exposedName(metric.name, metric.type, metric.unit, this.#registry.namespace);
      let meta: PromMetricMetadata | undefined = metadataOf(name, metric.type, metric.help, metric.unit);
      // Walked by slot a step at a time (batcher.add awaits): no handle per counter or gauge series.
      const values = metric.type === 'histogram' ? undefined : metric.table.values;
      // A `reset` during the awaits below ends this walk: its slots index `values`, the old table.
      const generation = metric.generation;
      const slots: number[] = [];
      let pos = 0;
      while (pos !== WALK_DONE) {
        slots.length = 0;
        pos = metric.walk(pos, WALK_STEP, (slot) => slots.push(slot), generation);
        for (const slot of slots) {
          const state = values === undefined ? (metric.seriesAt(slot) as HistogramSeries) : values.get(slot);
          const series = toTimeSeries(name, scale, { ...this.#external, ...metric.labelsAt(slot) }, state, now);
          sent.set(
            metric.keyAt(slot),
            series.map((ts) => ts.labels),
          );
          summary.series++;
          summary.samples += series.length;
          await batcher.add(series, meta);
          meta = undefined;
        }
      }
    }
    const gone: PromLabel[][] = [];
    for (const [s, labelSets] of this.#sent) if (!sent.has(s)) gone.push(...labelSets);
    this.#sent = sent;
    if (gone.length > 0) {
      // A reset series bound again this round has a new Series object but the same labels: it is not stale.
      const live = new Set<string>();
      for (const labelSets of sent.values()) for (const labels of labelSets) live.add(labelKey(labels));
      for (const labels of gone) {
        if (live.has(labelKey(labels))) continue;
        await batcher.add([{ labels, samples: [{ value: STALE_NAN, timestamp: now }] }], undefined);
        summary.stale++;
      }
    }
    batcher.ship();
    summary.batches = batcher.batches;
    return summary;
  }

  /**
   * Queues a staleness marker at `now` for every series sent in the last round (then forgets them):
   * what Prometheus records when a scrape target goes away. Returns how many. Never throws.
   */
  async markAllStale(now: number): Promise<number> {
    const batcher = new Batcher(this.queue, this.#maxSamples, this.#log);
    let n = 0;
    for (const labelSets of this.#sent.values()) {
      for (const labels of labelSets) {
        await batcher.add([{ labels, samples: [{ value: STALE_NAN, timestamp: now }] }], undefined);
        n++;
      }
    }
    this.#sent = new Map();
    batcher.ship();
    return n;
  }

  /** See {@link ExportQueue.close}. */
  close(timeoutMs?: number): Promise<void> {
    return this.queue.close(timeoutMs);
  }

  /** See {@link ExportQueue.abort}. */
  abort(): void {
    this.queue.abort();
  }
}

/** Fills batches of at most `max` samples and pushes each full one onto the queue. */
class Batcher {
  batches = 0;
  #series: PromTimeSeries[] = [];
  #metadata: PromMetricMetadata[] = [];
  #samples = 0;
  #sinceYield = 0;

  constructor(
    readonly queue: ExportQueue,
    readonly max: number,
    readonly log: Logger,
  ) {}

  async add(series: PromTimeSeries[], meta: PromMetricMetadata | undefined): Promise<void> {
    const n = series.length;
    if (this.#samples > 0 && this.#samples + n > this.max) this.ship();
    for (const ts of series) this.#series.push(ts);
    if (meta !== undefined) this.#metadata.push(meta);
    this.#samples += n;
    this.#sinceYield += n;
    if (this.#sinceYield >= YIELD_EVERY_SAMPLES) {
      this.#sinceYield = 0;
      await yieldToLoop();
    }
  }

  ship(): void {
    if (this.#samples === 0) return;
    try {
      this.queue.push({
        body: writeRequestBody({ timeseries: this.#series, metadata: this.#metadata }),
        samples: this.#samples,
      });
      this.batches++;
    } catch (err) {
      this.log.error({ err }, 'remote write: encoding a batch failed; its samples are skipped');
    }
    this.#series = [];
    this.#metadata = [];
    this.#samples = 0;
  }
}

/** The metadata a text-format scrape gives Prometheus for this family (unit from the exposed name's suffix). */
function metadataOf(name: string, type: MetricType, help: string, unit: string): PromMetricMetadata {
  const family = type === 'counter' ? name.slice(0, -'_total'.length) : name;
  const exposedUnit = unit === '' ? '' : (UNITS.find((u) => family.endsWith(`_${u}`)) ?? '');
  return { type: PROM_METRIC_TYPE[type], metricFamilyName: name, help, unit: exposedUnit };
}

function labelKey(labels: PromLabel[]): string {
  let key = '';
  for (const l of labels) key += `${l.name}\u0000${l.value}\u0000`;
  return key;
}

/** One registry series as remote-write time series (one sample each). */
/** `s`: a histogram series, or a counter's or gauge's value. */
function toTimeSeries(
  name: string,
  scale: number,
  labels: Record<string, string>,
  s: HistogramSeries | number,
  ts: number,
): PromTimeSeries[] {
  if (typeof s !== 'number') {
    const out: PromTimeSeries[] = [];
    let cumulative = 0;
    for (let i = 0; i < s.bounds.length; i++) {
      cumulative += s.counts[i]!;
      out.push({
        labels: seriesLabels(`${name}_bucket`, { ...labels, le: String(s.bounds[i]! * scale) }),
        samples: [{ value: cumulative, timestamp: ts }],
      });
    }
    out.push({
      labels: seriesLabels(`${name}_bucket`, { ...labels, le: '+Inf' }),
      samples: [{ value: s.count, timestamp: ts }],
    });
    out.push({ labels: seriesLabels(`${name}_sum`, labels), samples: [{ value: s.sum * scale, timestamp: ts }] });
    out.push({ labels: seriesLabels(`${name}_count`, labels), samples: [{ value: s.count, timestamp: ts }] });
    return out;
  }
  return [{ labels: seriesLabels(name, labels), samples: [{ value: s * scale, timestamp: ts }] }];
}
