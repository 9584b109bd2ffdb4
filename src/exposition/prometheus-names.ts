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

/** A name a metric takes in the exposition formats, and what for (used in conflict errors). */
export interface ReservedName {
  name: string;
  /** e.g. `sample`, `OpenMetrics family`, `OpenMetrics _created sample` */
  role: string;
}

/**
 * The suffixes OpenMetrics gives each type's samples beside the family name; a strict parser
 * (the Python reference client's) refuses a family whose name or name + one of its type's
 * suffixes was already taken by another family ("Clashing name"), so each metric reserves them
 * all, `_created` included though it is not written here.
 */
const OPENMETRICS_SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ['_total', '_created'],
  gauge: [],
  histogram: ['_bucket', '_sum', '_count', '_created'],
};

/**
 * Every name a metric takes in either format: its samples and TYPE name in the Prometheus text
 * format, and its OpenMetrics family name with its type's suffixes. Two metrics whose sets meet
 * would give an exposition that Prometheus or an OpenMetrics parser rejects (or silently merges).
 */
export function reservedNames(name: string, type: MetricType, unit: string): ReservedName[] {
  const exposed = exposedName(name, type, unit).name;
  const family = type === 'counter' ? exposed.slice(0, -'_total'.length) : exposed;
  const out: ReservedName[] = OPENMETRICS_SUFFIXES[type].map((suffix) => ({
    name: `${family}${suffix}`,
    role: suffix === '_created' ? 'OpenMetrics _created sample' : 'sample',
  }));
  out.push({ name: family, role: type === 'counter' ? 'OpenMetrics family name' : type === 'histogram' ? 'family name' : 'sample' });
  return out;
}
