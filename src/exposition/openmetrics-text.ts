/**
 * The OpenMetrics 1.0.0 text format of a registry. It differs from the Prometheus text format in
 * that a counter family is named without `_total` (`# TYPE requests counter`) while its sample
 * keeps it (`requests_total`), a family whose name ends in its unit gets a `# UNIT` line, HELP
 * also escapes `"`, and the exposition ends with `# EOF`.
 */
import type { AnyMetric, Registry } from '../metrics/registry.js';
import { renderYielding, type SampleFormat } from './exposition-chunks.js';

/** The content type OpenMetrics 1.0.0 is served with. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

/** Units the exposed names end in (see prometheus-names.ts); a metric declared with another unit gets no UNIT line. */
const UNITS = ['seconds', 'bytes', 'ratio', 'percent', 'cores'];

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function header(metric: AnyMetric, name: string): string {
  const family = metric.type === 'counter' ? name.slice(0, -'_total'.length) : name;
  const unit = metric.unit === '' ? undefined : UNITS.find((u) => family.endsWith(`_${u}`));
  return (
    `# TYPE ${family} ${metric.type}\n` +
    (unit === undefined ? '' : `# UNIT ${family} ${unit}\n`) +
    `# HELP ${family} ${escapeHelp(metric.help)}\n`
  );
}

/** OpenMetrics family header (TYPE, UNIT, HELP) and the `# EOF` trailer. */
export const openMetricsFormat: SampleFormat = { header, trailer: '# EOF\n' };

/** Renders every metric of `registry` as OpenMetrics; yields to the event loop between chunks. */
export function renderOpenMetrics(registry: Registry): Promise<string> {
  return renderYielding(registry, openMetricsFormat);
}
