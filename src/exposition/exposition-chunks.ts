/**
 * The walk over a registry that both exposition formats share, cut into chunks of at most
 * `MAX_SAMPLES_PER_CHUNK` sample lines so the caller can yield to the event loop between chunks.
 *
 * Chunks are bounded by samples, not series (a histogram series is many lines); a series is never
 * split, so only one huge series can exceed the bound. Measurements: docs/design-notes.md.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { HistogramTable } from '../metrics/histogram-table.js';
import { WALK_DONE } from '../metrics/label-map.js';
import type { AnyMetric, Registry } from '../metrics/registry.js';
import { exposedName } from '../metrics/prometheus-names.js';

/** Sample lines per chunk: the unit of work between two yields to the event loop. */
export const MAX_SAMPLES_PER_CHUNK = 1000;

/** What differs between the Prometheus text format and OpenMetrics. */
export interface SampleFormat {
  /** The HELP/TYPE (and UNIT) lines of a family; `name` is the exposed sample name (`x_total` for counters). */
  header(metric: AnyMetric, name: string): string;
  /** Appended after the last chunk (`# EOF\n` for OpenMetrics). */
  readonly trailer: string;
}

/** A number as both formats write it: `NaN`, `+Inf`, `-Inf`, else the shortest round-trip decimal. */
export function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** `le="…"} ` of each bucket bound of a metric, formatted once per render (its series share bounds). */
function leLabels(bounds: readonly number[], scale: number): string[] {
  const out: string[] = [];
  for (const bound of bounds) out.push(`le="${formatNumber(bound * scale)}"} `);
  out.push('le="+Inf"} ');
  return out;
}

/** The lines of the histogram series at `slot`, read from its row of `table` (no handle, no view). */
function renderHistogram(
  out: string[],
  name: string,
  scale: number,
  pairs: string,
  table: HistogramTable,
  slot: number,
  bucketLabels: string[],
): void {
  // A line is few pieces (this series' prefix, the bound's `le="…"} `, its number): each piece
  // joined makes an intermediate string, and this runs for every series of every scrape.
  const braced = pairs === '' ? ' ' : `{${pairs}} `;
  const bucket = pairs === '' ? `${name}_bucket{` : `${name}_bucket{${pairs},`;
  const row = table.rowOf(slot);
  const base = table.baseOf(slot);
  const n = table.bounds.length;
  let cumulative = 0;
  for (let i = 0; i < n; i++) {
    cumulative += row[base + i]!;
    out.push(`${bucket}${bucketLabels[i]}${cumulative}\n`);
  }
  const count = row[base + table.sumAt + 1]!;
  out.push(`${bucket}${bucketLabels[n]}${count}\n`);
  out.push(`${name}_sum${braced}${formatNumber(row[base + table.sumAt]! * scale)}\n`);
  out.push(`${name}_count${braced}${count}\n`);
}

/**
 * The exposition of `registry` in `format`, as chunks of at most `maxSamples` sample lines (see
 * the module header). Synchronous: the caller decides where to yield. Series are walked a chunk
 * at a time (`Metric.walk`) and read from the metric's table: no handle, counts view, label object
 * or array of every series is made, so a scrape allocates per series only its text's pieces.
 * @param maxSamples sample lines per chunk (default {@link MAX_SAMPLES_PER_CHUNK})
 */
export function* renderChunks(
  registry: Registry,
  format: SampleFormat,
  maxSamples = MAX_SAMPLES_PER_CHUNK,
): Generator<string> {
  let out: string[] = [];
  let samples = 0;
  for (const metric of registry.metrics()) {
    if (metric.slots === 0) continue;
    const { name, scale } = exposedName(metric.name, metric.type, metric.unit, registry.namespace);
    out.push(format.header(metric, name));
    // Taken with the table below: a `reset` between two chunks ends this metric's walk (see Metric.walk).
    const generation = metric.generation;
    let visit: (slot: number) => void;
    let perSeries: number;
    if (metric.type === 'histogram') {
      const bucketLabels = leLabels(metric.buckets, scale);
      const table = metric.table;
      perSeries = metric.buckets.length + 3;
      visit = (slot) => renderHistogram(out, name, scale, metric.labelPairsAt(slot), table, slot, bucketLabels);
    } else {
      const table = metric.table;
      const open = `${name}{`;
      const bare = `${name} `;
      perSeries = 1;
      visit = (slot) => {
        const pairs = metric.labelPairsAt(slot);
        const value = formatNumber(table.values.get(slot) * scale);
        out.push(pairs === '' ? `${bare}${value}\n` : `${open}${pairs}} ${value}\n`);
      };
    }
    let pos = 0;
    while (pos !== WALK_DONE) {
      // A series is never split: one alone may exceed the bound (see the module header).
      let room = Math.floor((maxSamples - samples) / perSeries);
      if (room <= 0 && samples > 0) {
        yield out.join('');
        out = [];
        samples = 0;
        room = Math.max(1, Math.floor(maxSamples / perSeries));
      }
      room = Math.max(1, room);
      const from = pos;
      let visited = 0;
      pos = metric.walk(
        from,
        room,
        (slot) => {
          visit(slot);
          visited++;
        },
        generation,
      );
      samples += visited * perSeries;
    }
  }
  out.push(format.trailer);
  yield out.join('');
}

/**
 * The chunks of {@link renderChunks}, yielding to the event loop before each chunk after the
 * first. A consumer that pulls only when it can write (a stream honouring backpressure) holds at
 * most the chunk it is writing: nothing renders ahead of the reader. Stopping early (`return()`,
 * e.g. a client gone) stops the walk.
 */
export async function* renderStream(
  registry: Registry,
  format: SampleFormat,
  maxSamples = MAX_SAMPLES_PER_CHUNK,
): AsyncGenerator<string> {
  let first = true;
  for (const chunk of renderChunks(registry, format, maxSamples)) {
    if (!first) await yieldToLoop();
    first = false;
    yield chunk;
  }
}

/** Renders every chunk, yielding to the event loop between two chunks, into one string. */
export async function renderYielding(registry: Registry, format: SampleFormat): Promise<string> {
  const parts: string[] = [];
  for await (const chunk of renderStream(registry, format)) parts.push(chunk);
  return parts.join('');
}
