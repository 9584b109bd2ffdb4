/**
 * The remote-write exporter: each `collect(now)` takes the series that changed since the previous
 * one, as the same sample names and labels as `/metrics` (counters `x_total`, histograms
 * `x_bucket{le}` with `+Inf`, `x_sum`, `x_count`; ms durations in seconds), stamps them `now`, and
 * queues them in batches of at most `maxSamplesPerBatch` samples for the {@link ExportQueue} to
 * send. `externalLabels` (default `job="erlmcp_monitor"` and `instance=<hostname>`) are added to
 * every series, as a Prometheus agent adds its target labels, so several hosts don't collide.
 *
 * Building a batch yields to the event loop every `YIELD_EVERY_SAMPLES` samples, like the
 * exposition. A series counts as exported once queued: if its batch is later dropped, the next
 * change sends it again (counters are cumulative, so nothing is lost but resolution). A series
 * that has not changed is still re-sent once `refreshMs` (default 4 minutes) has passed since it
 * was last sent: PromQL looks back 5 minutes by default, so a gauge that holds still would
 * otherwise vanish from instant queries.
 */
import os from 'node:os';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { exposedName } from '../exposition/prometheus-names.js';
import type { Logger } from '../logger.js';
import { HistogramSeries } from '../metrics/histogram.js';
import type { Series } from '../metrics/metric.js';
import type { Registry } from '../metrics/registry.js';
import { type ExportQueueOptions, ExportQueue } from './export-queue.js';
import { type PromTimeSeries, REMOTE_WRITE_HEADERS, seriesLabels, writeRequestBody } from './remote-write.js';

const YIELD_EVERY_SAMPLES = 1000;

/** The queue's options (without headers: remote write's are fixed) plus the exporter's own. */
export interface RemoteWriteExporterOptions extends Omit<ExportQueueOptions, 'headers'> {
  /** Labels added to every series (default `{ job: 'erlmcp_monitor', instance: os.hostname() }`). */
  externalLabels?: Readonly<Record<string, string>>;
  /**
   * Samples per request at most (default 1,000). Each batch is encoded and compressed in one
   * block of the event loop: ~1,000 samples keep that block to a few ms (bench/exposition.bench.ts).
   */
  maxSamplesPerBatch?: number;
  /** ms after which an unchanged series is sent again (default 240,000). */
  refreshMs?: number;
}

/** What one `collect` queued. */
export interface CollectSummary {
  series: number;
  samples: number;
  batches: number;
}

/** Turns the registry's changes into remote-write batches on its {@link ExportQueue}. */
export class RemoteWriteExporter {
  readonly queue: ExportQueue;
  readonly #registry: Registry;
  readonly #external: Readonly<Record<string, string>>;
  readonly #maxSamples: number;
  readonly #log: Logger;
  readonly #refreshMs: number;
  /** Each series' version and time when last queued. */
  readonly #exported = new WeakMap<Series, { version: number; at: number }>();

  /** @throws {MonitorError} `EMON_INVALID_OPTION` for a bad endpoint or option */
  constructor(options: RemoteWriteExporterOptions) {
    this.queue = new ExportQueue({ ...options, headers: REMOTE_WRITE_HEADERS });
    this.#registry = options.registry;
    this.#log = options.logger;
    this.#external = options.externalLabels ?? { job: 'erlmcp_monitor', instance: os.hostname() };
    this.#maxSamples = options.maxSamplesPerBatch ?? 1000;
    this.#refreshMs = options.refreshMs ?? 240_000;
  }

  /** Queues the series changed since the last call, stamped `now` (ms). Never throws. */
  async collect(now: number): Promise<CollectSummary> {
    const summary: CollectSummary = { series: 0, samples: 0, batches: 0 };
    let batch: PromTimeSeries[] = [];
    let batchSamples = 0;
    let sinceYield = 0;
    const ship = () => {
      if (batchSamples === 0) return;
      try {
        this.queue.push({ body: writeRequestBody({ timeseries: batch }), samples: batchSamples });
        summary.batches++;
      } catch (err) {
        this.#log.error({ err }, 'remote write: encoding a batch failed; its samples are skipped');
      }
      batch = [];
      batchSamples = 0;
    };
    for (const metric of this.#registry.metrics()) {
      const { name, scale } = exposedName(metric.name, metric.type, metric.unit, this.#registry.namespace);
      for (const s of metric.series() as Series[]) {
        const version = s.version();
        const last = this.#exported.get(s);
        if (last !== undefined && last.version === version && now - last.at < this.#refreshMs) continue;
        this.#exported.set(s, { version, at: now });
        const labels = { ...this.#external, ...s.labels };
        const series = toTimeSeries(name, scale, labels, s, now);
        const n = series.length;
        if (batchSamples > 0 && batchSamples + n > this.#maxSamples) ship();
        for (const ts of series) batch.push(ts);
        batchSamples += n;
        summary.series++;
        summary.samples += n;
        sinceYield += n;
        if (sinceYield >= YIELD_EVERY_SAMPLES) {
          sinceYield = 0;
          await yieldToLoop();
        }
      }
    }
    ship();
    return summary;
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

/** One registry series as remote-write time series (one sample each). */
function toTimeSeries(name: string, scale: number, labels: Record<string, string>, s: Series, ts: number): PromTimeSeries[] {
  if (s instanceof HistogramSeries) {
    const out: PromTimeSeries[] = [];
    let cumulative = 0;
    for (let i = 0; i < s.bounds.length; i++) {
      cumulative += s.counts[i]!;
      out.push({ labels: seriesLabels(`${name}_bucket`, { ...labels, le: String(s.bounds[i]! * scale) }), samples: [{ value: cumulative, timestamp: ts }] });
    }
    out.push({ labels: seriesLabels(`${name}_bucket`, { ...labels, le: '+Inf' }), samples: [{ value: s.count, timestamp: ts }] });
    out.push({ labels: seriesLabels(`${name}_sum`, labels), samples: [{ value: s.sum * scale, timestamp: ts }] });
    out.push({ labels: seriesLabels(`${name}_count`, labels), samples: [{ value: s.count, timestamp: ts }] });
    return out;
  }
  return [{ labels: seriesLabels(name, labels), samples: [{ value: (s as Series & { value: number }).value * scale, timestamp: ts }] }];
}
