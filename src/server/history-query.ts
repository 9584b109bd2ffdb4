/**
 * `HistoryQuery`: chart history from LMDB for one metric series or a whole dashboard, over `[from, to]`
 * with a point budget `points` (defaults from the dashboard config; each broken limit is a 400 with
 * the reason). Each stored series is read with `MetricStore.queryRange` into `points` buckets; a
 * series with no point at `from` starts with its last earlier value. Several stored series behind one
 * chart series are combined bucket by bucket, at most {@link MAX_COMBINED_SERIES} (each is a read on
 * the event loop): a metric query past that is a 400, a dashboard chart series is `truncated`.
 * Which stored key feeds which stat: docs/design-notes.md.
 */
import { METRIC_NAME, type MetricType, seriesKey } from '../metrics/metric.js';
import type { AnyMetric, Registry } from '../metrics/registry.js';
import { derivedKey } from '../store/table-store.js';
import {
  type ChartSeriesDef,
  type DashboardDef,
  type HistoryResponse,
  type Point,
  SERIES_STATS,
  type SeriesStat,
} from './protocol.js';
import type { MetricStore } from '../store/lmdb-store.js';
import { HttpError } from './http-error.js';
import { matchesPrefix, selectSlots } from './live-reader.js';

const HISTOGRAM_ONLY: ReadonlySet<SeriesStat> = new Set(['p50', 'p95', 'p99', 'count', 'mean']);
const MAX_LABELS_PARAM = 2048;
/** Stored series one chart series may combine: ~20-50 µs of store reads each, so ~50 ms at most. */
export const MAX_COMBINED_SERIES = 1000;

export interface HistoryLimits {
  /** `data_points`: the most (and default) points per series. */
  dataPoints: number;
  /** `historical_range`: the default range, ms. */
  defaultRangeMs: number;
  /** The longest range, ms. */
  maxRangeMs: number;
}

/** A parsed, checked history request. */
export interface HistoryRequest {
  from: number;
  to: number;
  points: number;
  /** Either one series of a metric, or a whole dashboard. */
  target: { kind: 'metric'; series: ChartSeriesDef } | { kind: 'dashboard'; dashboard: DashboardDef };
}

type HistoryEntry = HistoryResponse['series'][number];

interface StoredSeries {
  key: string;
  labels: Record<string, string>;
}

export class HistoryQuery {
  readonly #registry: Registry;
  readonly #store: MetricStore;
  readonly #dashboards: ReadonlyMap<string, DashboardDef>;
  readonly #limits: HistoryLimits;

  constructor(registry: Registry, store: MetricStore, dashboards: readonly DashboardDef[], limits: HistoryLimits) {
    this.#registry = registry;
    this.#store = store;
    this.#dashboards = new Map(dashboards.map((d) => [d.name, d]));
    this.#limits = limits;
  }

  /**
   * Checks the query parameters of `/api/history` or `/api/export`.
   * @param query the URL's parameters (`metric`, `labels`, `stat` | `dashboard`; `from`, `to`, `points`)
   * @param nowMs the default `to`
   * @throws {HttpError} 400 naming the bad parameter and what is allowed; 404 for an unknown dashboard
   */
  parse(query: URLSearchParams, nowMs: number): HistoryRequest {
    const to = intParam(query, 'to') ?? nowMs;
    if (to < 1) throw new HttpError(400, `to must be a time in ms since the epoch (>= 1), got ${to}`);
    // The default range starts at the epoch at the earliest: a from the caller never gave must not be a 400.
    const from = intParam(query, 'from') ?? Math.max(0, to - this.#limits.defaultRangeMs);
    const points = intParam(query, 'points') ?? this.#limits.dataPoints;
    if (from < 0) throw new HttpError(400, `from must be a time in ms since the epoch (>= 0), got ${from}`);
    if (from >= to) throw new HttpError(400, `from (${from}) must be before to (${to})`);
    if (to - from > this.#limits.maxRangeMs) {
      throw new HttpError(
        400,
        `from..to spans ${to - from} ms, longer than the longest allowed range, ${this.#limits.maxRangeMs} ms`,
      );
    }
    if (points < 1 || points > this.#limits.dataPoints) {
      throw new HttpError(
        400,
        `points must be an integer from 1 to ${this.#limits.dataPoints} (data_points), got ${points}`,
      );
    }
    const metric = query.get('metric');
    const dashboard = query.get('dashboard');
    if ((metric === null) === (dashboard === null)) throw new HttpError(400, 'give exactly one of metric or dashboard');
    if (dashboard !== null) {
      if (query.has('labels') || query.has('stat'))
        throw new HttpError(400, 'labels and stat go with metric, not dashboard');
      const def = this.#dashboards.get(dashboard);
      if (def === undefined)
        throw new HttpError(
          404,
          `unknown dashboard ${JSON.stringify(dashboard.slice(0, 64))} (available: ${[...this.#dashboards.keys()].join(', ')})`,
        );
      return { from, to, points, target: { kind: 'dashboard', dashboard: def } };
    }
    if (!METRIC_NAME.test(metric!))
      throw new HttpError(400, `metric ${JSON.stringify(metric!.slice(0, 80))} is not a metric name`);
    const stat = (query.get('stat') ?? 'value') as SeriesStat;
    if (!(SERIES_STATS as readonly string[]).includes(stat))
      throw new HttpError(400, `stat ${JSON.stringify(stat.slice(0, 40))} is not one of ${SERIES_STATS.join(', ')}`);
    const labels = labelsParam(query.get('labels'));
    return {
      from,
      to,
      points,
      target: {
        kind: 'metric',
        series: { label: metric!, metric: metric!, stat, ...(labels === undefined ? {} : { labels }) },
      },
    };
  }

  /**
   * Reads a checked request.
   * @throws {HttpError} 404 for a metric with no stored history; 400 for a stat its type lacks
   */
  run(request: HistoryRequest): HistoryResponse {
    const { from, to, points, target } = request;
    if (target.kind === 'metric') {
      const stored = this.#storedSeries(target.series);
      if (stored === undefined)
        throw new HttpError(404, `no history for metric ${JSON.stringify(target.series.metric)}`);
      tooMany(target.series, stored.matching);
      return { from, to, series: [this.#entry(target.series, stored.type, stored.series, from, to, points)] };
    }
    const series: HistoryResponse['series'] = [];
    for (const chart of target.dashboard.charts) {
      for (const def of chart.series) {
        const stored = this.#storedSeries(def);
        const all = stored?.series ?? [];
        const matching = stored?.matching ?? 0;
        // One wide chart series must not blank the whole dashboard: it draws the first ones and says so.
        const kept = all.length > MAX_COMBINED_SERIES ? all.slice(0, MAX_COMBINED_SERIES) : all;
        const entry = { chart: chart.id, ...this.#entry(def, stored?.type, kept, from, to, points) };
        series.push(kept.length < matching ? { ...entry, truncated: { combined: kept.length, matching } } : entry);
      }
    }
    return { from, to, series };
  }

  #entry(
    def: ChartSeriesDef,
    type: MetricType | undefined,
    stored: StoredSeries[],
    from: number,
    to: number,
    points: number,
  ): HistoryEntry {
    const stat = def.stat ?? 'value';
    if (type !== undefined && type !== 'histogram' && HISTOGRAM_ONLY.has(stat)) {
      throw new HttpError(
        400,
        `stat ${stat} applies to histograms; metric ${JSON.stringify(def.metric)} is a ${type} (use value or rate)`,
      );
    }
    const perSeries = stored.map((s) => this.#seriesPoints(s, type!, stat, from, to, points));
    const combined = perSeries.length === 1 ? perSeries[0]! : combine(perSeries, stat, from, to, points);
    const labels = def.labels ?? (stored.length === 1 && def.label_prefix === undefined ? stored[0]!.labels : {});
    return { label: def.label, metric: def.metric, labels: { ...labels }, stat, points: combined };
  }

  #seriesPoints(
    s: StoredSeries,
    type: MetricType,
    stat: SeriesStat,
    from: number,
    to: number,
    points: number,
  ): Point[] {
    const read = (key: string): Point[] => {
      const id = this.#store.seriesId(key);
      if (id === undefined) return [];
      const got: Point[] = this.#store.queryRange(id, from, to, points);
      // The store writes a series only when it changed: its value at `from` is its last point before.
      if (from > 0 && got.length < points && (got.length === 0 || got[0]![0] > from)) {
        const before = this.#store.latestAt(id, from - 1);
        if (before !== undefined) got.unshift([from, before[1]]);
      }
      return got;
    };
    if (type !== 'histogram') return stat === 'rate' ? rates(read(s.key)) : read(s.key);
    switch (stat) {
      case 'p50':
      case 'p95':
      case 'p99':
      case 'count':
        return read(derivedKey(s.key, stat));
      case 'rate':
        return rates(read(derivedKey(s.key, 'count')));
      default: {
        const counts = new Map(read(derivedKey(s.key, 'count')).map(([t, v]) => [bucketOf(t, from, to, points), v]));
        const out: Point[] = [];
        for (const [t, sum] of read(derivedKey(s.key, 'sum'))) {
          const count = counts.get(bucketOf(t, from, to, points));
          if (count !== undefined && count !== null && count > 0 && sum !== null) out.push([t, sum / count]);
        }
        return out;
      }
    }
  }

  /**
   * The stored series a chart series names and the metric's type, or `undefined` when the metric
   * is neither in the table nor in the store.
   */
  #storedSeries(def: ChartSeriesDef): { type: MetricType; series: StoredSeries[]; matching: number } | undefined {
    const metric = this.#registry.get(def.metric);
    if (metric !== undefined) {
      const type = metric.type;
      const { series, matching } = tableSeries(metric, def);
      if (matching > 0) return { type, series, matching };
      if (metric.slots > 0) {
        // Not every stored series is in the table (restore skips some; reset() empties it), but
        // listing the store's definitions would read every series of every metric: look up the
        // one series asked for by its key.
        if (def.labels === undefined || def.label_prefix !== undefined) return { type, series: [], matching: 0 };
        const byKey = this.#storedByKey(metric.labelNames, def.metric, def.labels, type);
        return byKey === undefined ? { type, series: [], matching: 0 } : { ...byKey, matching: byKey.series.length };
      }
    }
    // Not in this run's table (yet): what an earlier run stored.
    const defs = this.#store.seriesDefs().filter((d) => d.name === def.metric);
    if (defs.length === 0) return metric === undefined ? undefined : { type: metric.type, series: [], matching: 0 };
    const wanted = def.labels;
    const prefixes = def.label_prefix;
    const chosen =
      prefixes !== undefined
        ? defs.filter(
            (d) =>
              matchesPrefix(d.labels, prefixes) &&
              (wanted === undefined || Object.keys(wanted).every((k) => d.labels[k] === wanted[k])),
          )
        : wanted !== undefined
          ? defs.filter((d) => sameLabels(d.labels, wanted))
          : defs.some((d) => Object.keys(d.labels).length === 0)
            ? defs.filter((d) => Object.keys(d.labels).length === 0)
            : defs;
    return {
      type: defs[0]!.type,
      series: chosen.map((d) => ({ key: d.key, labels: d.labels })),
      matching: chosen.length,
    };
  }
  /** The stored series with exactly `labels` (tried in the metric's declared label order, then as given), by key. */
  #storedByKey(
    labelNames: readonly string[],
    name: string,
    labels: Record<string, string>,
    type: MetricType,
  ): { type: MetricType; series: StoredSeries[] } | undefined {
    const declared: Record<string, string> = {};
    for (const l of labelNames) if (l in labels) declared[l] = labels[l]!;
    for (const l of Object.keys(labels)) if (!(l in declared)) declared[l] = labels[l]!;
    for (const candidate of [declared, labels]) {
      const key = seriesKey(name, candidate);
      if (this.#store.seriesId(key) === undefined) continue;
      // A histogram's points are in its derived series; the stored type may differ from the table's.
      const storedType: MetricType =
        this.#store.seriesId(derivedKey(key, 'count')) !== undefined
          ? 'histogram'
          : type === 'histogram'
            ? 'gauge'
            : type;
      return { type: storedType, series: [{ key, labels: { ...labels } }] };
    }
    return undefined;
  }
}

/**
 * The table's series a chart series names, as stored series: the first {@link MAX_COMBINED_SERIES}
 * (all a history combines) and how many match. Walked by slot: a metric of a million series
 * costs a count, not a handle, key and label objects per series.
 */
function tableSeries(metric: AnyMetric, def: ChartSeriesDef): { series: StoredSeries[]; matching: number } {
  const series: StoredSeries[] = [];
  let matching = 0;
  selectSlots(metric, def.labels, def.label_prefix, (slot) => {
    if (++matching <= MAX_COMBINED_SERIES)
      series.push({ key: metric.keyAt(slot), labels: { ...metric.labelsAt(slot) } });
  });
  return { series, matching };
}

/** @throws {HttpError} 400 when a chart series would combine more than {@link MAX_COMBINED_SERIES} stored series */
function tooMany(def: ChartSeriesDef, count: number): void {
  if (count <= MAX_COMBINED_SERIES) return;
  throw new HttpError(
    400,
    `metric ${JSON.stringify(def.metric)} has ${count} series matching ${def.label_prefix === undefined ? 'no labels' : 'the label_prefix'}: history combines at most ${MAX_COMBINED_SERIES}; name one series with labels (find them with /api/series)`,
  );
}

function intParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null) return undefined;
  if (!/^-?\d{1,16}$/.test(raw))
    throw new HttpError(
      400,
      `${name} must be an integer (ms since the epoch for from/to), got ${JSON.stringify(raw.slice(0, 40))}`,
    );
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new HttpError(400, `${name} is out of range: ${raw}`);
  return n;
}

function labelsParam(raw: string | null): Record<string, string> | undefined {
  if (raw === null) return undefined;
  if (raw.length > MAX_LABELS_PARAM) throw new HttpError(400, `labels is longer than ${MAX_LABELS_PARAM} characters`);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new HttpError(400, 'labels must be a JSON object of label name to string value, e.g. {"percentile":"p95"}');
  }
  if (
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    !Object.values(value).every((v) => typeof v === 'string')
  ) {
    throw new HttpError(400, 'labels must be a JSON object of label name to string value, e.g. {"percentile":"p95"}');
  }
  return value as Record<string, string>;
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}

/** The store's downsampling bucket of time `t` (the same arithmetic as `downsample.ts`). */
function bucketOf(t: number, from: number, to: number, points: number): number {
  const span = to - from;
  return span > 0 ? Math.min(points - 1, Math.floor(((t - from) * points) / span)) : 0;
}

/** Change per second between consecutive points; a decrease (a reset) gives no point. */
function rates(points: Point[]): Point[] {
  const out: Point[] = [];
  for (let i = 1; i < points.length; i++) {
    const [t0, v0] = points[i - 1]!;
    const [t1, v1] = points[i]!;
    if (v0 === null || v1 === null || t1 <= t0 || v1 < v0) continue;
    out.push([t1, ((v1 - v0) * 1000) / (t1 - t0)]);
  }
  return out;
}

/** Several series' points merged per time bucket (see the module header). */
function combine(all: Point[][], stat: SeriesStat, from: number, to: number, points: number): Point[] {
  const additive = stat === 'value' || stat === 'rate' || stat === 'count';
  const buckets = new Map<number, { t: number; v: number }>();
  for (const series of all) {
    // The last point of this series in each bucket (raw reads can put two in one bucket).
    const last = new Map<number, Point>();
    for (const p of series) if (p[1] !== null) last.set(bucketOf(p[0], from, to, points), p);
    for (const [b, [t, v]] of last) {
      const acc = buckets.get(b);
      if (acc === undefined) buckets.set(b, { t, v: v! });
      else {
        acc.t = Math.max(acc.t, t);
        acc.v = additive ? acc.v + v! : Math.max(acc.v, v!);
      }
    }
  }
  return [...buckets.entries()].sort((a, b) => a[0] - b[0]).map(([, { t, v }]) => [t, v]);
}
