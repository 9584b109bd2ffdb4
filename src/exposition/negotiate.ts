/**
 * Content negotiation for `/metrics`: the Accept header picks OpenMetrics 1.0.0 or the Prometheus
 * text format 0.0.4 (RFC 9110 media ranges with `q` weights; the text format when nothing
 * acceptable is offered, as Prometheus exporters do). Prometheus itself sends
 * `application/openmetrics-text;version=1.0.0,...;q=0.75,text/plain;version=0.0.4;q=0.5,*\/*;q=0.1`
 * and so gets OpenMetrics.
 */
import type { Registry } from '../metrics/registry.js';
import { renderStream } from './exposition-chunks.js';
import { OPENMETRICS_CONTENT_TYPE, openMetricsFormat, renderOpenMetrics } from './openmetrics-text.js';
import { PROMETHEUS_CONTENT_TYPE, prometheusTextFormat, renderPrometheusText } from './prometheus-text.js';

/** The two formats `/metrics` speaks. */
export type ExpositionFormat = 'openmetrics' | 'prometheus';

/** A rendered exposition and the content type to serve it with. */
export interface Exposition {
  contentType: string;
  body: string;
}

/**
 * An exposition to be written as it renders: `chunks` are pulled one at a time, only as fast as
 * the response takes them, so no string of the whole exposition is ever built (at 1,000,000
 * series it is ~100 MB, and building it held the event loop for a second).
 */
export interface StreamedExposition {
  contentType: string;
  chunks: AsyncIterable<string>;
}

/**
 * What `/metrics` serves: the exposition for a request's Accept header, whole or streamed.
 * `registrySource` is one; a cluster primary's merged view is another. The dashboard server takes one.
 */
export type ExpositionSource = (accept: string | undefined) => Promise<Exposition | StreamedExposition>;

/** The exposition source of one registry: streamed (see {@link streamExposition}). */
export function registrySource(registry: Registry): ExpositionSource {
  return async (accept) => streamExposition(registry, accept);
}

/**
 * The exposition of `registry` in the format the Accept header asks for, as chunks of at most
 * `MAX_SAMPLES_PER_CHUNK` samples that render when pulled (see exposition-chunks.ts). Joined, the
 * chunks are byte for byte what {@link renderExposition} returns.
 * @param accept the request's Accept header, if any
 */
export function streamExposition(registry: Registry, accept: string | undefined): StreamedExposition {
  const format = negotiateFormat(accept);
  return {
    contentType: contentTypeOf(format),
    chunks: renderStream(registry, format === 'openmetrics' ? openMetricsFormat : prometheusTextFormat),
  };
}

interface Range {
  type: string;
  params: Map<string, string>;
  q: number;
  index: number;
}

function parseAccept(accept: string): Range[] {
  const ranges: Range[] = [];
  accept.split(',').forEach((part, index) => {
    const [type, ...rest] = part.split(';').map((s) => s.trim());
    if (type === undefined || type === '') return;
    const params = new Map<string, string>();
    let q = 1;
    for (const p of rest) {
      const eq = p.indexOf('=');
      if (eq < 0) continue;
      const key = p.slice(0, eq).trim().toLowerCase();
      const value = p
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
      if (key === 'q') {
        const n = Number(value);
        q = Number.isFinite(n) ? Math.min(1, Math.max(0, n)) : 0;
      } else params.set(key, value);
    }
    ranges.push({ type: type.toLowerCase(), params, q, index });
  });
  return ranges;
}

/** The format a range asks for, or undefined when it names neither (or an unknown version). */
function formatOf(range: Range): ExpositionFormat | undefined {
  const version = range.params.get('version');
  switch (range.type) {
    case 'application/openmetrics-text':
      // 0.0.1 is the pre-1.0 draft Prometheus also offers; the 1.0.0 output is what it parses for both.
      return version === undefined || version === '1.0.0' || version === '0.0.1' ? 'openmetrics' : undefined;
    case 'text/plain':
      return version === undefined || version === '0.0.4' ? 'prometheus' : undefined;
    case 'text/*':
    case '*/*':
      return 'prometheus';
    default:
      return undefined;
  }
}

/**
 * The format for an Accept header: the acceptable range with the highest `q` (the earlier one on a
 * tie); the Prometheus text format when the header is absent or offers nothing acceptable.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || accept.trim() === '') return 'prometheus';
  let best: { format: ExpositionFormat; q: number } | undefined;
  for (const range of parseAccept(accept)) {
    const format = formatOf(range);
    if (format === undefined || range.q === 0) continue;
    if (best === undefined || range.q > best.q) best = { format, q: range.q };
  }
  return best?.format ?? 'prometheus';
}

/** The content type each format is served with. */
export function contentTypeOf(format: ExpositionFormat): string {
  return format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
}

/**
 * Renders `registry` in the format the Accept header asks for (yielding to the event loop between
 * chunks). This is what `/metrics` serves, here and in the dashboard server.
 * @param accept the request's Accept header, if any
 */
export async function renderExposition(registry: Registry, accept: string | undefined): Promise<Exposition> {
  const format = negotiateFormat(accept);
  const body = format === 'openmetrics' ? await renderOpenMetrics(registry) : await renderPrometheusText(registry);
  return { contentType: contentTypeOf(format), body };
}
