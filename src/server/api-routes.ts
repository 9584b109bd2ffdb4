/**
 * `ApiRoutes`: the JSON API, `/metrics` and `/health` (see the route list in `src/server/protocol.ts`).
 * The routes are the table {@link API_ROUTES}. Each route checks its query parameters (an unknown
 * one is a 400, so a typo is not silently ignored; `token` is allowed everywhere) and answers a
 * response or throws `HttpError`. What comes from other processes goes through `callSource`, so a
 * failing or slow source is a 503 with the reason, never a crash or a hung request. Access checks
 * happen before, in `http-server.ts`.
 */
import type { DashboardConfig } from '../config/schema.js';
import { METRICS_VARY } from '../exposition/gzip-response.js';
import type { DashboardDef, DashboardResponse, HealthResponse, RealtimeResponse } from './protocol.js';
import { historyToCsv } from './csv-export.js';
import { callSource, type DashboardSources, SOURCE_TIMEOUT_MS, SourceUnavailable } from './dashboard-sources.js';
import type { Registry } from '../metrics/registry.js';
import type { FrameBuilder } from './frame-builder.js';
import type { HistoryQuery } from './history-query.js';
import { HttpError, JSON_TYPE } from './http-error.js';
import { listSeries } from './series-list.js';

/** What a route answers. */
export interface ApiResponse {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
  /** Sent gzip-compressed when the request accepts gzip (`/metrics`). */
  compressible?: boolean;
  /** The body as chunks written as they come (`/metrics`), instead of `body`. */
  stream?: AsyncIterable<string>;
}

function json(value: unknown, status = 200): ApiResponse {
  return { status, contentType: JSON_TYPE, body: JSON.stringify(value) };
}

/**
 * @throws {HttpError} 400 for a parameter not in `allowed` (besides `token`), or one given twice:
 * `?from=1&from=2` would otherwise silently mean whichever value the route happened to read
 */
function allowParams(query: URLSearchParams, allowed: readonly string[]): void {
  const seen = new Set<string>();
  for (const name of query.keys()) {
    if (name !== 'token' && !allowed.includes(name)) {
      throw new HttpError(
        400,
        `unknown parameter ${JSON.stringify(name.slice(0, 40))} (allowed: ${allowed.length === 0 ? 'none' : allowed.join(', ')})`,
      );
    }
    if (seen.has(name))
      throw new HttpError(400, `parameter ${JSON.stringify(name)} is given more than once (give it once)`);
    seen.add(name);
  }
}

/** One route of the API. */
export interface RouteDef {
  /** The URL path; a last segment `:name` stands for one percent-encoded name. */
  path: string;
  /** Query parameters it takes besides `token` (any other is a 400). */
  params: readonly string[];
  /** Whether it answers without the token (see `access.ts`). */
  public: boolean;
}

const HISTORY_PARAMS = ['metric', 'labels', 'stat', 'dashboard', 'from', 'to', 'points'] as const;

/**
 * The router table: every route `ApiRoutes` answers, and nothing else (the handlers are keyed by
 * these paths, so a route cannot be added without an entry here). Access tests enumerate it.
 */
export const API_ROUTES = [
  { path: '/health', params: [], public: true },
  { path: '/metrics', params: [], public: false },
  { path: '/api/dashboards', params: [], public: false },
  { path: '/api/dashboards/:name', params: [], public: false },
  { path: '/api/realtime', params: ['dashboard'], public: false },
  { path: '/api/history', params: HISTORY_PARAMS, public: false },
  { path: '/api/export', params: [...HISTORY_PARAMS, 'format'], public: false },
  { path: '/api/series', params: ['metric', 'match', 'after', 'limit'], public: false },
  { path: '/api/alerts', params: [], public: false },
  { path: '/api/slas', params: [], public: false },
  { path: '/api/dead-letters', params: [], public: false },
  { path: '/api/report', params: [], public: false },
] as const satisfies readonly RouteDef[];

/** A path of {@link API_ROUTES}. */
export type RoutePath = (typeof API_ROUTES)[number]['path'];

const NAME_ROUTES = API_ROUTES.filter((r) => r.path.endsWith('/:name')).map((r) => ({
  route: r,
  prefix: r.path.slice(0, -':name'.length),
}));
const EXACT_ROUTES = new Map<string, RouteDef & { path: RoutePath }>(
  API_ROUTES.filter((r) => !r.path.endsWith('/:name')).map((r) => [r.path, r]),
);

/**
 * The route a URL path is, with its `:name` (undecoded), or `undefined`.
 * @param path the URL path
 */
export function findRoute(path: string): { route: RouteDef & { path: RoutePath }; name?: string } | undefined {
  const exact = EXACT_ROUTES.get(path);
  if (exact !== undefined) return { route: exact };
  for (const { route, prefix } of NAME_ROUTES) {
    if (path.startsWith(prefix) && path.length > prefix.length && !path.includes('/', prefix.length))
      return { route, name: path.slice(prefix.length) };
  }
  return undefined;
}

type Handler = (query: URLSearchParams, accept: string | undefined, name: string) => Promise<ApiResponse> | ApiResponse;

export interface ApiRoutesOptions {
  config: DashboardConfig;
  dashboards: readonly DashboardDef[];
  sources: DashboardSources;
  history: HistoryQuery;
  frames: FrameBuilder;
  /** The metric table, for `/api/series`. */
  registry: Registry;
  /** Wall clock, for times shown. */
  now: () => number;
  /** Clock for durations and rates; never steps. */
  steadyNow: () => number;
  /** When the server started (ms, on `steadyNow`), for `uptime_s`. */
  startedAt: number;
  /** How long a source may take before its endpoint answers 503 (default `SOURCE_TIMEOUT_MS`). */
  sourceTimeoutMs?: number;
}

export class ApiRoutes {
  readonly #o: ApiRoutesOptions;
  readonly #dashboards: ReadonlyMap<string, DashboardDef>;
  readonly #timeoutMs: number;

  constructor(options: ApiRoutesOptions) {
    this.#o = options;
    this.#timeoutMs = options.sourceTimeoutMs ?? SOURCE_TIMEOUT_MS;
    this.#dashboards = new Map(options.dashboards.map((d) => [d.name, d]));
  }

  /** Whether `path` is one of these routes (else the server tries static files, then 404). */
  static owns(path: string): boolean {
    return findRoute(path) !== undefined || path === '/api' || path.startsWith('/api/');
  }

  /**
   * Answers one GET.
   * @param path the URL path
   * @param query the URL's parameters
   * @param accept the request's `Accept` header (for `/metrics`)
   * @throws {HttpError} 400 bad parameter, 404 unknown route or name, 503 a source failed
   */
  async handle(path: string, query: URLSearchParams, accept: string | undefined): Promise<ApiResponse> {
    try {
      return await this.#route(path, query, accept);
    } catch (err) {
      if (err instanceof SourceUnavailable) throw new HttpError(503, err.message);
      throw err;
    }
  }

  async #route(path: string, query: URLSearchParams, accept: string | undefined): Promise<ApiResponse> {
    const found = findRoute(path);
    if (found === undefined) throw new HttpError(404, `no route ${JSON.stringify(path.slice(0, 100))}`);
    allowParams(query, found.route.params);
    return this.#handlers[found.route.path](query, accept, found.name ?? '');
  }

  readonly #handlers: Record<RoutePath, Handler> = {
    '/health': async () => {
      const o = this.#o;
      const processes = await this.#source('processes', () => o.sources.processes());
      const down = Object.values(processes).some((state) => state !== 'running');
      const store =
        o.sources.storeHealth === undefined ? undefined : await this.#source('store', () => o.sources.storeHealth!());
      const degraded = down || store?.status === 'failing';
      const body: HealthResponse = {
        status: degraded ? 'degraded' : 'ok',
        uptime_s: Math.floor((o.steadyNow() - o.startedAt) / 1000),
        processes,
        ...(store === undefined ? {} : { store }),
      };
      return json(body);
    },
    '/metrics': async (_query, accept) => {
      const out = await this.#source('metrics', () => this.#o.sources.metrics(accept));
      const headers = { vary: METRICS_VARY };
      if ('chunks' in out)
        return { status: 200, contentType: out.contentType, body: '', stream: out.chunks, headers, compressible: true };
      return { status: 200, contentType: out.contentType, body: out.body, headers, compressible: true };
    },
    '/api/dashboards': () => json([...this.#dashboards.values()]),
    '/api/dashboards/:name': (_query, _accept, encoded) => {
      let name: string;
      try {
        name = decodeURIComponent(encoded);
      } catch {
        throw new HttpError(400, 'the dashboard name is not valid percent-encoding');
      }
      const def = this.#dashboard(name);
      const c = this.#o.config;
      const body: DashboardResponse = {
        ...def,
        refresh_interval: c.refresh_interval,
        data_points: c.data_points,
        historical_range: c.historical_range,
        theme: c.theme,
        alert_highlighting: c.alert_highlighting,
        real_time_enabled: c.real_time_enabled,
      };
      return json(body);
    },
    '/api/realtime': async (query) => {
      const o = this.#o;
      const name = query.get('dashboard') ?? o.dashboards[0]!.name;
      this.#dashboard(name);
      const [alerts, scores] = await Promise.all([
        this.#source('alerts', () => o.sources.alerts()),
        this.#source('scores', () => o.sources.scores()),
      ]);
      const at = o.now();
      const body: RealtimeResponse = {
        at,
        dashboard: name,
        charts: o.frames.chartPoints(name, at, o.steadyNow()),
        alerts,
        scores,
      };
      return json(body);
    },
    '/api/history': (query) => json(this.#o.history.run(this.#o.history.parse(query, this.#o.now()))),
    '/api/export': (query) => this.#export(query),
    '/api/series': async (query) => json(await listSeries(this.#o.registry, query)),
    '/api/alerts': async () => json(await this.#source('alerts', () => this.#o.sources.alerts())),
    '/api/slas': async () => json(await this.#source('slas', () => this.#o.sources.slas())),
    '/api/dead-letters': async () => json(await this.#source('dead letters', () => this.#o.sources.deadLetters())),
    '/api/report': async () => {
      const report = await this.#source('report', () => this.#o.sources.report());
      if (report === undefined)
        throw new HttpError(503, 'no performance report yet: the performance monitor has not run a check');
      return json(report);
    },
  };

  #export(query: URLSearchParams): ApiResponse {
    const o = this.#o;
    const format = query.get('format') ?? o.config.export_format;
    if (format !== 'json' && format !== 'csv')
      throw new HttpError(400, `format must be json or csv, got ${JSON.stringify(format.slice(0, 20))}`);
    const request = o.history.parse(query, o.now());
    const history = o.history.run(request);
    const what = request.target.kind === 'dashboard' ? request.target.dashboard.name : request.target.series.metric;
    const file = `erlmcp-${what.replace(/[^A-Za-z0-9_.-]/g, '_')}-${request.from}-${request.to}.${format}`;
    const headers = { 'content-disposition': `attachment; filename="${file}"` };
    if (format === 'csv')
      return { status: 200, contentType: 'text/csv; charset=utf-8', body: historyToCsv(history), headers };
    return {
      status: 200,
      contentType: JSON_TYPE,
      body: JSON.stringify(
        { ...history, ...(request.target.kind === 'dashboard' ? { dashboard: what } : {}) },
        null,
        2,
      ),
      headers,
    };
  }

  #source<T>(name: string, run: () => T | Promise<T>): Promise<T> {
    return callSource(name, run, this.#timeoutMs);
  }

  #dashboard(name: string): DashboardDef {
    const def = this.#dashboards.get(name);
    if (def === undefined)
      throw new HttpError(
        404,
        `unknown dashboard ${JSON.stringify(name.slice(0, 64))} (available: ${[...this.#dashboards.keys()].join(', ')})`,
      );
    return def;
  }
}
