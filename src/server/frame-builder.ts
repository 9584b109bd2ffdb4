/**
 * `FrameBuilder`: the live feed's `frame` messages, built once per tick.
 *
 * Clients with the same subscription get the very same bytes: a tick reads each dashboard's
 * charts once, serializes one frame per distinct subscription, and hands the ws layer one Buffer
 * to send to all of them (sending a Buffer as text skips ws's per-client UTF-8 encoding). With
 * 1,000 clients on one subscription that is one `JSON.stringify` per tick instead of 1,000.
 *
 * A frame carries at most {@link MAX_FRAME_ALERTS} alerts (most severe, then newest first) and
 * at most `maxSeriesPerMetric` series of each directly subscribed metric, so its size is bounded
 * whatever the table holds.
 */
import type {
  AlertView,
  ChartPoints,
  DashboardDef,
  FrameHealth,
  Point,
  Scores,
  ServerMsg,
  Subscription,
} from './protocol.js';
import type { LiveReader } from './live-reader.js';

/** Most alerts in one frame. */
export const MAX_FRAME_ALERTS = 200;
/** Default most series of one subscribed metric in a frame. */
export const DEFAULT_MAX_SERIES_PER_METRIC = 500;

const SEVERITY_RANK: Record<string, number> = { critical: 3, error: 2, warning: 1, info: 0 };

/** The identity of a subscription: equal subscriptions share one frame. Lists must be sorted. */
export function subscriptionKey(sub: Subscription): string {
  return `${sub.dashboards.join('\u0000')}\u0001${sub.metrics.join('\u0000')}`;
}

/** Alerts as frames carry them: most severe first, then newest, at most {@link MAX_FRAME_ALERTS}. */
export function frameAlerts(alerts: readonly AlertView[]): AlertView[] {
  return [...alerts]
    .sort((a, b) => (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0) || b.startedAt - a.startedAt)
    .slice(0, MAX_FRAME_ALERTS);
}

export class FrameBuilder {
  readonly #dashboards: ReadonlyMap<string, DashboardDef>;
  readonly #reader: LiveReader;
  readonly #maxSeriesPerMetric: number;
  #at = 0;
  #steadyAt = 0;
  #alerts: AlertView[] = [];
  #scores: Scores | null = null;
  #health: FrameHealth | undefined;
  /** This tick's chart points per dashboard, and frames per subscription key. */
  #charts = new Map<string, Record<string, ChartPoints>>();
  #metrics = new Map<string, Record<string, Point>>();
  #frames = new Map<string, Buffer>();
  /** Frames serialized since construction. */
  built = 0;

  /**
   * @param dashboards the server's dashboards
   * @param reader where values come from
   * @param maxSeriesPerMetric default {@link DEFAULT_MAX_SERIES_PER_METRIC}
   */
  constructor(
    dashboards: readonly DashboardDef[],
    reader: LiveReader,
    maxSeriesPerMetric = DEFAULT_MAX_SERIES_PER_METRIC,
  ) {
    this.#dashboards = new Map(dashboards.map((d) => [d.name, d]));
    this.#reader = reader;
    this.#maxSeriesPerMetric = maxSeriesPerMetric;
  }

  /**
   * Starts a tick: forgets the last tick's frames; values are read lazily, once, at `at`.
   * @param at the wall time points and the frame carry
   * @param health the store's health, carried by every frame of the tick
   * @param steadyAt the same moment on a clock that never steps, for rates (default `at`)
   */
  beginTick(
    at: number,
    alerts: readonly AlertView[],
    scores: Scores | null,
    health?: FrameHealth,
    steadyAt = at,
  ): void {
    this.#at = at;
    this.#health = health;
    this.#steadyAt = steadyAt;
    this.#alerts = frameAlerts(alerts);
    this.#scores = scores;
    this.#charts = new Map();
    this.#metrics = new Map();
    this.#frames = new Map();
  }

  /**
   * The newest point of every chart series of a dashboard, at `at`.
   * @returns chart id → series label → point; `{}` for an unknown dashboard
   */
  chartPoints(name: string, at: number, steadyAt = at): Record<string, ChartPoints> {
    const dashboard = this.#dashboards.get(name);
    const out: Record<string, ChartPoints> = {};
    if (dashboard === undefined) return out;
    for (const chart of dashboard.charts) {
      const points: ChartPoints = {};
      for (const series of chart.series) points[series.label] = [at, this.#reader.value(series, steadyAt)];
      out[chart.id] = points;
    }
    return out;
  }

  /**
   * This tick's frame for `sub`, serialized once per distinct subscription.
   * @param sub a subscription with sorted lists
   * @param key `subscriptionKey(sub)`, when the caller keeps it
   */
  frame(sub: Subscription, key = subscriptionKey(sub)): Buffer {
    const cached = this.#frames.get(key);
    if (cached !== undefined) return cached;
    // Null-prototype maps: a client may subscribe to a metric named `__proto__`, which a plain
    // object would take as its prototype instead of a key (and leave out of the frame).
    const dashboards = Object.create(null) as Record<string, Record<string, ChartPoints>>;
    for (const name of sub.dashboards) dashboards[name] = this.#tickCharts(name);
    const metrics = Object.create(null) as Record<string, Record<string, Point>>;
    for (const name of sub.metrics) metrics[name] = this.#tickMetric(name);
    const msg: ServerMsg = {
      type: 'frame',
      at: this.#at,
      dashboards,
      metrics,
      alerts: this.#alerts,
      scores: this.#scores,
      ...(this.#health === undefined ? {} : { health: this.#health }),
    };
    const bytes = Buffer.from(JSON.stringify(msg));
    this.#frames.set(key, bytes);
    this.built++;
    return bytes;
  }

  #tickCharts(name: string): Record<string, ChartPoints> {
    let charts = this.#charts.get(name);
    if (charts === undefined) {
      charts = this.chartPoints(name, this.#at, this.#steadyAt);
      this.#charts.set(name, charts);
    }
    return charts;
  }

  #tickMetric(name: string): Record<string, Point> {
    let points = this.#metrics.get(name);
    if (points === undefined) {
      points = Object.create(null) as Record<string, Point>;
      for (const [key, value] of Object.entries(this.#reader.metricValues(name, this.#maxSeriesPerMetric)))
        points[key] = [this.#at, value];
      this.#metrics.set(name, points);
    }
    return points;
  }
}
