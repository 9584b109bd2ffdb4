/**
 * From the source design's names (`requests.total`, `response_time` in ms) to conventional
 * Prometheus names: characters outside `[a-zA-Z0-9_:]` become `_`, the unit becomes a suffix
 * (durations in ms are exposed in seconds, as Prometheus wants base units), and counters end in
 * `_total`.
 *
 * **Namespace.** A registry's `namespace` (config `monitoring.namespace`, default none) is joined
 * to every exposed name with `_` (`shop` → `shop_http_server_requests_total`), in the scrape, in
 * OpenMetrics and in remote write alike: they all take names from `exposedName`. The runtime
 * families named as prom-client's default metrics (`process_cpu_seconds_total`, `nodejs_*`, see
 * `RUNTIME_FAMILIES`) keep their names, so the stock Node.js dashboards find them.
 */
import type { MetricType } from './metric.js';

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

/**
 * prom-client's default metric names (the exposed sample names, counters with `_total`), which
 * a namespace does not prefix: the Grafana dashboards for Node.js query them by these names.
 */
export const RUNTIME_FAMILIES: ReadonlySet<string> = new Set([
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  'nodejs_eventloop_lag_seconds',
  ...['min', 'max', 'mean', 'stddev', 'p50', 'p90', 'p99'].map((s) => `nodejs_eventloop_lag_${s}_seconds`),
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
  'nodejs_version_info',
  'nodejs_gc_duration_seconds',
]);

/** A valid namespace: a metric name start, not ending in `_` (the join adds one). */
export const NAMESPACE_PATTERN = /^(?:[a-zA-Z:]|[a-zA-Z_:][a-zA-Z0-9_:]*[a-zA-Z0-9:])$/;

/**
 * The exposed family name and value scale for a metric.
 * @param namespace joined in front with `_` unless empty or the name is a runtime family (see the module header)
 */
export function exposedName(name: string, type: MetricType, unit: string, namespace = ''): ExposedName {
  let base = sanitizeName(name);
  const isTotal = type === 'counter' && base.endsWith('_total');
  if (isTotal) base = base.slice(0, -'_total'.length);
  // hasOwn: a unit such as `constructor` must not find Object.prototype's member.
  const mapping = Object.hasOwn(UNIT_SUFFIX, unit)
    ? UNIT_SUFFIX[unit]
    : unit === ''
      ? undefined
      : { suffix: sanitizeName(unit), scale: 1 };
  if (mapping !== undefined && !base.endsWith(`_${mapping.suffix}`)) base = `${base}_${mapping.suffix}`;
  if (type === 'counter') base = `${base}_total`;
  if (namespace !== '' && !RUNTIME_FAMILIES.has(base)) base = `${namespace}_${base}`;
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
export function reservedNames(name: string, type: MetricType, unit: string, namespace = ''): ReservedName[] {
  const exposed = exposedName(name, type, unit, namespace).name;
  const family = type === 'counter' ? exposed.slice(0, -'_total'.length) : exposed;
  const out: ReservedName[] = OPENMETRICS_SUFFIXES[type].map((suffix) => ({
    name: `${family}${suffix}`,
    role: suffix === '_created' ? 'OpenMetrics _created sample' : 'sample',
  }));
  out.push({
    name: family,
    role: type === 'counter' ? 'OpenMetrics family name' : type === 'histogram' ? 'family name' : 'sample',
  });
  return out;
}
