/**
 * The Prometheus text exposition format (version 0.0.4) of a registry: `# HELP` and `# TYPE` per
 * family, counters named `x_total`, histograms as `_bucket{le}` (ending with `+Inf`), `_sum` and
 * `_count`, label values escaped (`\\`, `\"`, `\n`).
 *
 * Rendering yields to the event loop between chunks of samples (see exposition-chunks.ts):
 * prom-client renders in one block (~25 ms for 10k series measured here), which stalls every
 * request the host is serving.
 */
import type { AnyMetric, Registry } from '../metrics/registry.js';
import { renderYielding, type SampleFormat } from './exposition-chunks.js';

/** The content type the text format 0.0.4 is served with. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** The text format's family header: HELP and TYPE under the exposed sample name. */
export const prometheusTextFormat: SampleFormat = {
  header: (metric: AnyMetric, name: string) =>
    `# HELP ${name} ${escapeHelp(metric.help)}\n# TYPE ${name} ${metric.type}\n`,
  trailer: '',
};

/** Renders every metric of `registry`; yields to the event loop between chunks of samples. */
export function renderPrometheusText(registry: Registry): Promise<string> {
  return renderYielding(registry, prometheusTextFormat);
}
