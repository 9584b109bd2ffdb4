/**
 * From the source design's names (`requests.total`, `response_time` in ms) to conventional
 * Prometheus names: characters outside `[a-zA-Z0-9_:]` become `_`, the unit becomes a suffix
 * (durations in ms are exposed in seconds, as Prometheus wants base units), and counters end in
 * `_total`.
 */
import type { MetricType } from '../metrics/metric.js';

export interface ExposedName {
  /** The Prometheus metric family name. */
  name: string;
  /** Multiply values (and bucket bounds) by this to get the exposed unit. */
  scale: number;
}

const UNIT_SUFFIX: Record<string, { suffix: string; scale: number }> = {
  ms: { suffix: 'seconds', scale: 1e-3 },
  milliseconds: { suffix: 'seconds', scale: 1e-3 },
  s: { suffix: 'seconds', scale: 1 },
  seconds: { suffix: 'seconds', scale: 1 },
  bytes: { suffix: 'bytes', scale: 1 },
  percent: { suffix: 'percent', scale: 1 },
  ratio: { suffix: 'ratio', scale: 1 },
};

function sanitizeName(name: string): string {
  const clean = name.replace(/[^a-zA-Z0-9_:]/g, '_');
  return /^[0-9]/.test(clean) ? `_${clean}` : clean;
}

/** The exposed family name and value scale for a metric. */
export function exposedName(name: string, type: MetricType, unit: string): ExposedName {
  let base = sanitizeName(name);
  const isTotal = type === 'counter' && base.endsWith('_total');
  if (isTotal) base = base.slice(0, -'_total'.length);
  // hasOwn: a unit such as `constructor` must not find Object.prototype's member.
  const mapping = Object.hasOwn(UNIT_SUFFIX, unit) ? UNIT_SUFFIX[unit] : unit === '' ? undefined : { suffix: sanitizeName(unit), scale: 1 };
  if (mapping !== undefined && !base.endsWith(`_${mapping.suffix}`)) base = `${base}_${mapping.suffix}`;
  if (type === 'counter') base = `${base}_total`;
  return { name: base, scale: mapping?.scale ?? 1 };
}
