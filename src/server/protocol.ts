/**
 * The dashboard's wire protocol: the WebSocket live feed's messages in both directions and the
 * JSON shapes of the HTTP API. The server (`src/server/`) validates client messages once, in
 * ws-server.ts; the page (`src/dashboard-page/`) reads exactly these shapes.
 *
 * Chart series name a metric series in the table (metric name, labels, and for histograms which
 * statistic), so the same series has live points (from the table) and history (from LMDB).
 */
import type { Severity } from '../alerts/severity.js';

// ---------------------------------------------------------------------------------------------
// Dashboards and charts (config `dashboard.json` → `dashboards`; the default "main" is the source's)

export type ChartType = 'line' | 'bar' | 'pie' | 'gauge';

/** Which number of a metric series a chart plots. Histograms: a window statistic; others: the value. */
export const SERIES_STATS = ['value', 'rate', 'p50', 'p95', 'p99', 'mean', 'count'] as const;
export type SeriesStat = (typeof SERIES_STATS)[number];

export interface ChartSeriesDef {
  /** Legend label, e.g. `'p95'`. */
  label: string;
  /** Metric name in the table, e.g. `'perf.latency'`, `'system.cpu'`. */
  metric: string;
  /** Exact label values of the series (omitted: the series with no labels, or all series summed). */
  labels?: Record<string, string>;
  /**
   * Label value prefixes: every series whose value of each named label starts with the prefix,
   * combined as for omitted `labels`; e.g. `{ code: '5' }` on a request counter is the 5xx class.
   */
  label_prefix?: Record<string, string>;
  /** Default `'value'`. */
  stat?: SeriesStat;
}

export interface ChartDef {
  /** Unique within its dashboard, e.g. `'response_time'`. */
  id: string;
  title: string;
  type: ChartType;
  /** Display unit, e.g. `'ms'`, `'req/s'`, `'%'`. */
  unit: string;
  series: ChartSeriesDef[];
  /** For gauges: the value of a full dial (e.g. 100 for %). */
  max?: number;
}

export interface DashboardDef {
  name: string;
  title: string;
  charts: ChartDef[];
}

/** A time-value point: `[timestampMs, value]`; `value` is `null` where there is no data. */
export type Point = [number, number | null];

// ---------------------------------------------------------------------------------------------
// Shapes shared by the feed and the HTTP API

/** An alert as the dashboard shows it. `title`/`message`/labels are untrusted text: escape them. */
export interface AlertView {
  id: string;
  severity: Severity;
  status: 'pending' | 'firing' | 'resolved';
  title: string;
  message: string;
  source: string;
  labels: Record<string, string>;
  startedAt: number;
  /** Chart ids this alert concerns (for highlighting), when known. */
  charts?: string[];
}

/** 0-100 scores of the performance report; `null` where there is no data. */
/** The performance scores, 0-100 each, in the order the dashboard shows them. */
export const SCORE_KINDS = ['latency', 'throughput', 'error_rate', 'resources', 'overall'] as const;
export type ScoreKind = (typeof SCORE_KINDS)[number];
/** `null`: no data for that score. */
export type Scores = Record<ScoreKind, number | null>;

export interface SlaView {
  name: string;
  kind: string;
  target: number;
  unit: string;
  direction: 'higher_is_better' | 'lower_is_better';
  /** The measured value over the SLA window; `null` with no data. */
  current: number | null;
  /** 0-100 compliance; `null` with no data. */
  compliance: number | null;
  status: 'ok' | 'warning' | 'violated' | 'no_data';
  /** Availability SLOs: the share of the error budget left over the window (0-1). */
  budget_remaining?: number | null;
}

/** The newest point of each series of a chart, keyed by the series label. */
export type ChartPoints = Record<string, Point>;

// ---------------------------------------------------------------------------------------------
// WebSocket: server → client

export type ServerMsg =
  | {
      type: 'connected';
      client_id: string;
      server_time: number;
      refresh_interval: number;
      /** Dashboard names the client may subscribe to; it starts subscribed to the first ("main"). */
      dashboards: string[];
      subscribed: Subscription;
    }
  | {
      /** One per refresh_interval, built once and sent to every client with the same subscription. */
      type: 'frame';
      at: number;
      /** dashboard name → chart id → newest points. */
      dashboards: Record<string, Record<string, ChartPoints>>;
      /** Directly subscribed metrics: metric name → series key → newest point. */
      metrics: Record<string, Record<string, Point>>;
      alerts: AlertView[];
      scores: Scores | null;
      /** Present when the server runs with a metric store: whether its writes commit. */
      health?: FrameHealth;
    }
  | { type: 'subscribed'; subscribed: Subscription }
  | { type: 'pong'; id?: string | number; server_time: number }
  | { type: 'error'; reason: string };

export interface Subscription {
  dashboards: string[];
  metrics: string[];
}

// ---------------------------------------------------------------------------------------------
// WebSocket: client → server (validated in ws-server.ts; anything else gets `{type:'error'}`)

export type ClientMsg =
  | { type: 'subscribe'; dashboards?: string[]; metrics?: string[] }
  | { type: 'unsubscribe'; dashboards?: string[]; metrics?: string[] }
  | { type: 'ping'; id?: string | number };

// ---------------------------------------------------------------------------------------------
// HTTP API (all JSON unless said; errors are `{ error: string }` with 400/401/403/404/413)
//
// GET /                              the page (text/html)
// GET /assets/<file>                 the page's scripts and styles (uPlot included), no CDN
// GET /health                        HealthResponse
// GET /metrics                       Prometheus text / OpenMetrics (by Accept)
// GET /api/dashboards                DashboardDef[]
// GET /api/dashboards/<name>         DashboardResponse (generate_dashboard)
// GET /api/realtime?dashboard=main   RealtimeResponse (get_real_time_data)
// GET /api/history?metric=&labels=&stat=&from=&to=&points=
//                                    HistoryResponse (get_historical_data; at most `points` ≤ data_points)
//                                    labels: a URL-encoded JSON object, e.g. {"percentile":"p95"};
//                                    from/to: ms since the epoch (default: the last historical_range)
// GET /api/history?dashboard=&from=&to=   HistoryResponse per chart series
// GET /api/export?dashboard=&from=&to=&format=json|csv   the history as a download
// GET /api/series?metric=&match=&after=&limit=   SeriesListResponse: one page of the table's
//                                    metrics (no `metric`) or of one metric's series, `match` a
//                                    substring of the name or series key, `limit` ≤ 1000 (default 100)
// GET /api/alerts                    AlertView[]
// GET /api/slas                      SlaView[]
// GET /api/dead-letters              DeadLetter[] (src/notify/types.ts): notifications given up on, secrets redacted
// GET /api/report                    the performance monitor's report
// WS  /ws                            the live feed (token: `Authorization: Bearer`, or `?token=`)

/** One page of `/api/series`: `next` is the `after` of the next page, absent on the last. */
export interface SeriesListResponse {
  /** The metric listed, absent when listing metrics. */
  metric?: string;
  items: {
    name: string;
    type: string;
    key?: string;
    labels?: Record<string, string>;
    value?: number;
    series?: number;
  }[];
  /** Entries scanned for this page (the rest are not counted: a metric may hold a million). */
  scanned: number;
  next?: string;
}

export interface HealthResponse {
  /** `degraded` when a process is down or the metric store's writes fail. */
  status: 'ok' | 'degraded';
  uptime_s: number;
  /** Supervised processes and whether each is running. */
  processes: Record<string, 'running' | 'down'>;
  /** The metric store's writes (absent for a server running without a store). */
  store?: StoreHealth;
}

/**
 * Whether the metric store's writes commit. `failing`: since when (wall ms), the newest error
 * (e.g. `No space left on device`), a short reason (`ENOSPC`, `EIO`, ...) and failed flushes so far.
 */
export type StoreHealth =
  { status: 'ok' } | { status: 'failing'; error: string; reason: string; since: number; attempts: number };

/** The health part of a feed frame: `degraded` names what is wrong. */
export interface FrameHealth {
  status: 'ok' | 'degraded';
  store: StoreHealth;
}

export interface DashboardResponse extends DashboardDef {
  refresh_interval: number;
  data_points: number;
  historical_range: number;
  theme: 'dark' | 'light';
  alert_highlighting: boolean;
  real_time_enabled: boolean;
}

export interface RealtimeResponse {
  at: number;
  dashboard: string;
  charts: Record<string, ChartPoints>;
  alerts: AlertView[];
  scores: Scores | null;
}

export interface HistoryResponse {
  from: number;
  to: number;
  /** One entry per series: chart id (dashboard query) or metric, its label, and at most `points` points. */
  series: {
    chart?: string;
    label: string;
    metric: string;
    labels: Record<string, string>;
    stat: SeriesStat;
    points: Point[];
    /** Dashboard only: the chart series matched more stored series than one may combine; `points` combine the first `combined`. */
    truncated?: { combined: number; matching: number };
  }[];
}
