/**
 * `HttpServer`: the dashboard's HTTP + WebSocket server (the source's erlmcp_dashboard, made
 * real). It binds 127.0.0.1 by default and serves the page, the JSON API, `/metrics`, `/health`
 * and the live feed on `/ws`.
 *
 * Every request passes `request-guard.ts`, then the token check (not for the page, its assets and
 * `/health`), then the route. The server has no timers of its own: its owner calls `tick()` and
 * `heartbeat()`, and `close()` or `kill()` at the end, so nothing outlives the process.
 * Request order and headers: docs/design-notes.md.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Duplex } from 'node:stream';
import type { DashboardConfig } from '../config/schema.js';
import { toError } from '../errors.js';
import { acceptsGzip, sendChunks, sendGzipped } from '../exposition/gzip-response.js';
import type { Logger } from '../logger.js';
import type { DerivedValues } from '../metrics/derived-values.js';
import type { Registry } from '../metrics/registry.js';
import type { AlertView, DashboardDef, FrameHealth, Scores } from './protocol.js';
import type { MetricStore } from '../store/lmdb-store.js';
import { Access } from './access.js';
import { API_ROUTES, ApiRoutes } from './api-routes.js';
import { callSource, type DashboardSources } from './dashboard-sources.js';
import { dashboardsFrom } from './dashboards.js';
import { FrameBuilder } from './frame-builder.js';
import { HistoryQuery } from './history-query.js';
import { HttpError, JSON_TYPE, rawAnswer } from './http-error.js';
import { LiveReader } from './live-reader.js';
import {
  checkCaller,
  checkRequest,
  createGuardedServer,
  type HttpTimeouts,
  MAX_URL_BYTES,
  parseUrl,
} from './request-guard.js';
import { StaticFiles } from './static-files.js';
import { type WsLimits, WsServer, type WsStats } from './ws-server.js';

export interface HttpServerOptions {
  registry: Registry;
  store: MetricStore;
  /** `dashboard.json` (host, port, token, origins, refresh interval, data points, ...). */
  config: DashboardConfig;
  derived?: DerivedValues;
  sources: DashboardSources;
  /** Wall clock for times shown (frame and point times, `server_time`), ms (default `Date.now`). */
  now?: () => number;
  /**
   * Clock for durations and rates (live rates, the slow-client bound, uptime), ms; must not step
   * (default: `now` when given, else `performance.now`).
   */
  steadyNow?: () => number;
  log: Logger;
  /** Default: `dashboardsFrom(config)`. */
  dashboards?: DashboardDef[];
  /** Feed limits (slow clients, max clients); defaults in `ws-server.ts`. */
  wsLimits?: Partial<WsLimits>;
  /** Where the page's files are (default `<package root>/src/dashboard-page`). */
  pageDir?: string;
  /** How long a source may take before its endpoint answers 503 (default 2000 ms). */
  sourceTimeoutMs?: number;
  /** Client deadlines; defaults in `DEFAULT_HTTP_TIMEOUTS` (request-guard.ts). */
  timeouts?: Partial<HttpTimeouts>;
}

/** Where the server listens. */
export interface ServerAddress {
  host: string;
  port: number;
  /** e.g. `http://127.0.0.1:8080` */
  url: string;
}

export interface ServerStats extends WsStats {
  /** Ticks run. */
  ticks: number;
  /** Frames serialized (one per distinct subscription per tick). */
  framesBuilt: number;
  /** HTTP requests answered, by status class. */
  requests: Record<string, number>;
}

/** Paths answered without the token: the page and the API's public routes (assets: `/assets/*`). */
const PUBLIC_PATHS = new Set<string>(['/', '/index.html', ...API_ROUTES.filter((r) => r.public).map((r) => r.path)]);

export class HttpServer {
  readonly #server: Server;
  readonly #access: Access;
  readonly #routes: ApiRoutes;
  readonly #files: StaticFiles;
  readonly #ws: WsServer;
  readonly #frames: FrameBuilder;
  readonly #sources: DashboardSources;
  readonly #now: () => number;
  readonly #steadyNow: () => number;
  readonly #log: Logger;
  #ticks = 0;
  readonly #requests: Record<string, number> = {};
  #address: ServerAddress | undefined;
  /** The last alerts a tick could read, kept when the alerts source fails so highlighting does not flicker off. */
  #lastAlerts: AlertView[] = [];
  #alertsFailing = false;
  /** `performance.now()` of the last alerts read (a tick's or a first frame's). */
  #alertsReadAt = -Infinity;
  /** The alerts read first frames are waiting for, shared by all of them. */
  #alertsReading: Promise<AlertView[]> | undefined;
  readonly #refreshMs: number;
  readonly #sourceTimeoutMs: number | undefined;

  /** Builds the server without listening; `listen()` binds it. @throws {MonitorError} as `Access` */
  constructor(options: HttpServerOptions) {
    const config = options.config;
    this.#access = new Access({ token: config.auth_token, allowedOrigins: config.allowed_origins, host: config.host });
    this.#now = options.now ?? Date.now;
    this.#steadyNow = options.steadyNow ?? options.now ?? (() => performance.now());
    this.#log = options.log;
    this.#sources = options.sources;
    this.#sourceTimeoutMs = options.sourceTimeoutMs;
    this.#refreshMs = config.refresh_interval;
    const dashboards = options.dashboards ?? dashboardsFrom(config);
    const reader = new LiveReader(options.registry, options.derived);
    this.#frames = new FrameBuilder(dashboards, reader);
    const registry = options.registry;
    const history = new HistoryQuery(options.registry, options.store, dashboards, {
      dataPoints: config.data_points,
      defaultRangeMs: config.historical_range,
      maxRangeMs: Math.max(config.historical_range, options.store.rollupRetentionMs),
    });
    this.#routes = new ApiRoutes({
      config,
      dashboards,
      sources: options.sources,
      history,
      frames: this.#frames,
      registry,
      now: this.#now,
      steadyNow: this.#steadyNow,
      startedAt: this.#steadyNow(),
      sourceTimeoutMs: options.sourceTimeoutMs,
    });
    this.#files = new StaticFiles(options.pageDir);
    this.#ws = new WsServer({
      dashboards: dashboards.map((d) => d.name),
      refreshInterval: config.refresh_interval,
      now: this.#now,
      steadyNow: this.#steadyNow,
      log: this.#log,
      limits: options.wsLimits,
      knownMetric: (name) => registry.get(name) !== undefined,
      firstFrame: async (sub) => {
        if (!config.real_time_enabled) return undefined;
        // A builder of its own: the shared one holds the current tick's frames for broadcast.
        const single = new FrameBuilder(dashboards, reader);
        single.beginTick(
          this.#now(),
          await this.#alertsForFirstFrame(),
          this.#readScores(),
          this.#readHealth(),
          this.#steadyNow(),
        );
        return single.frame(sub);
      },
    });
    this.#server = createGuardedServer(
      options.timeouts,
      (req, res) => void this.#onRequest(req, res),
      (status) => this.#count(status),
    );
    this.#server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) =>
      this.#onUpgrade(req, socket, head),
    );
  }

  /**
   * Binds `config.host`:`port` (0 = a free port).
   * @throws (rejects) the listen error, e.g. `EADDRINUSE`
   */
  async listen(host: string, port: number): Promise<ServerAddress> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const info = this.#server.address() as AddressInfo;
    const shown = info.address.includes(':') ? `[${info.address}]` : info.address;
    this.#address = { host: info.address, port: info.port, url: `http://${shown}:${info.port}` };
    return this.#address;
  }

  /** Where it listens. @throws {Error} before `listen()` resolved */
  address(): ServerAddress {
    if (this.#address === undefined) throw new Error('the dashboard server is not listening');
    return { ...this.#address };
  }

  /**
   * One refresh: reads alerts and scores, builds one frame per distinct subscription and sends
   * it to the subscribed clients. Does nothing when no client is subscribed.
   */
  async tick(): Promise<void> {
    this.#ticks++;
    if (!this.#ws.hasSubscribers) return;
    const alerts = await this.#readAlerts();
    this.#frames.beginTick(this.#now(), alerts, this.#readScores(), this.#readHealth(), this.#steadyNow());
    this.#ws.broadcast((sub, key) => this.#frames.frame(sub, key));
  }

  #readHealth(): FrameHealth | undefined {
    try {
      const store = this.#sources.storeHealth?.();
      return store === undefined ? undefined : { status: store.status === 'ok' ? 'ok' : 'degraded', store };
    } catch (err) {
      this.#log.warn({ err: toError(err) }, 'dashboard: store health source failed; frame sent without health');
      return undefined;
    }
  }

  #readScores(): Scores | null {
    try {
      return this.#sources.scores();
    } catch (err) {
      this.#log.warn({ err: toError(err) }, 'dashboard: scores source failed; frame sent without scores');
      return null;
    }
  }

  async #readAlerts(): Promise<AlertView[]> {
    try {
      this.#lastAlerts = await callSource('alerts', () => this.#sources.alerts(), this.#sourceTimeoutMs);
      this.#alertsFailing = false;
    } catch (err) {
      if (!this.#alertsFailing)
        this.#log.warn({ err: toError(err) }, 'dashboard: alerts source failed; frames keep the last alerts read');
      this.#alertsFailing = true;
    }
    this.#alertsReadAt = performance.now();
    return this.#lastAlerts;
  }

  /**
   * The alerts of a first frame: the last read's while it is under one refresh interval old, else
   * one read shared by every first frame waiting meanwhile. A read per first frame let one client
   * flipping its subscription queue a call to alerting per flip (5,000 subscribes: 2,503
   * `alert_views` calls), and alerting's own work timed out behind them.
   */
  #alertsForFirstFrame(): AlertView[] | Promise<AlertView[]> {
    if (performance.now() - this.#alertsReadAt < this.#refreshMs) return this.#lastAlerts;
    return (this.#alertsReading ??= this.#readAlerts().finally(() => {
      this.#alertsReading = undefined;
    }));
  }

  /** Pings feed clients; terminates those that missed the previous ping. */
  heartbeat(): void {
    this.#ws.heartbeat();
  }

  stats(): ServerStats {
    return {
      ...this.#ws.stats(),
      ticks: this.#ticks,
      framesBuilt: this.#frames.built,
      requests: { ...this.#requests },
    };
  }

  /** The feed's clients (for tests and diagnostics). */
  feedClients(): ReturnType<WsServer['clients']> {
    return this.#ws.clients();
  }

  /** Closes feed clients with 1001 (briefly waiting for them), then the server and its connections. */
  async close(): Promise<void> {
    await this.#ws.close();
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  /** Stops at once: clients terminated, sockets destroyed (for a killed process). */
  kill(): void {
    this.#ws.kill();
    this.#server.close();
    this.#server.closeAllConnections();
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = checkRequest(req, this.#access);
      const path = url.pathname;
      if (
        !PUBLIC_PATHS.has(path) &&
        !path.startsWith('/assets/') &&
        !this.#access.hasToken(req.headers, url.searchParams)
      ) {
        throw new HttpError(401, 'a valid token is required: send "Authorization: Bearer <token>" or ?token=<token>', {
          'www-authenticate': 'Bearer',
        });
      }
      if (ApiRoutes.owns(path)) {
        const out = await this.#routes.handle(path, url.searchParams, req.headers.accept);
        const headers = { 'cache-control': 'no-store', ...out.headers };
        if (out.stream !== undefined) {
          this.#count(out.status);
          const streamHeaders = { 'content-type': out.contentType, 'x-content-type-options': 'nosniff', ...headers };
          // HEAD: the headers a GET would get (chunked, no length); the render never starts.
          if (req.method === 'HEAD') res.writeHead(out.status, streamHeaders).end();
          else
            sendChunks(
              res,
              out.status,
              streamHeaders,
              out.stream,
              out.compressible === true && acceptsGzip(req.headers['accept-encoding']),
            );
        } else if (out.compressible === true && req.method !== 'HEAD' && acceptsGzip(req.headers['accept-encoding'])) {
          this.#count(out.status);
          sendGzipped(
            res,
            out.status,
            { 'content-type': out.contentType, 'x-content-type-options': 'nosniff', ...headers },
            out.body,
          );
        } else this.#send(req, res, out.status, out.contentType, out.body, headers);
        return;
      }
      if (path !== '/health') {
        const file = await this.#files.get(path);
        if (file !== undefined) {
          const headers: Record<string, string> = { 'cache-control': 'no-cache' };
          if (file.contentType.startsWith('text/html')) Object.assign(headers, this.#pageHeaders(req));
          this.#send(req, res, 200, file.contentType, file.body, headers);
          return;
        }
      }
      throw new HttpError(404, `not found: ${path.slice(0, 100)}`);
    } catch (err) {
      if (err instanceof HttpError) {
        this.#send(req, res, err.status, JSON_TYPE, JSON.stringify({ error: err.message }), {
          'cache-control': 'no-store',
          ...err.headers,
        });
        return;
      }
      // The path only: the query may hold the token.
      this.#log.error(
        { err: toError(err), path: (req.url ?? '').split('?')[0]!.slice(0, 200) },
        'dashboard request failed',
      );
      this.#send(req, res, 500, JSON_TYPE, JSON.stringify({ error: 'internal error (logged on the server)' }), {
        'cache-control': 'no-store',
      });
    }
  }

  #pageHeaders(req: IncomingMessage): Record<string, string> {
    const host = req.headers.host ?? '';
    return {
      'content-security-policy': [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        `connect-src 'self' ws://${host} wss://${host}`,
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
      'x-frame-options': 'DENY',
      'referrer-policy': 'no-referrer',
    };
  }

  #count(status: number): void {
    const kind = `${Math.floor(status / 100)}xx`;
    this.#requests[kind] = (this.#requests[kind] ?? 0) + 1;
  }

  #send(
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    contentType: string,
    body: string | Buffer,
    headers: Record<string, string>,
  ): void {
    this.#count(status);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, {
      'content-type': contentType,
      'content-length': Buffer.byteLength(body),
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  #onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    try {
      const url = this.#checkUpgrade(req);
      if (!this.#access.hasToken(req.headers, url.searchParams))
        throw new HttpError(401, 'a valid token is required: send "Authorization: Bearer <token>" or ?token=<token>');
      if (!this.#ws.accepting) {
        this.#ws.countRefused();
        throw new HttpError(503, 'the live feed has as many clients as it takes; try again later');
      }
      this.#ws.accept(req, socket, head);
    } catch (err) {
      if (!(err instanceof HttpError)) this.#log.error({ err: toError(err) }, 'dashboard upgrade failed');
      socket.end(rawAnswer(err instanceof HttpError ? err : new HttpError(500, 'internal error')));
    }
  }

  /** @throws {HttpError} 414, 400 (not a websocket upgrade), 404, 405, 403 */
  #checkUpgrade(req: IncomingMessage): URL {
    const raw = req.url ?? '/';
    if (Buffer.byteLength(raw) > MAX_URL_BYTES)
      throw new HttpError(414, `the URL is longer than ${MAX_URL_BYTES} bytes`);
    const url = parseUrl(raw);
    const upgrade = String(req.headers.upgrade ?? '');
    if (upgrade.toLowerCase() !== 'websocket') {
      throw new HttpError(
        400,
        `Upgrade ${JSON.stringify(upgrade.slice(0, 40))} is not supported (only websocket, at /ws): send the request without Upgrade`,
      );
    }
    if (url.pathname !== '/ws') throw new HttpError(404, 'the live feed is at /ws');
    if (req.method !== 'GET')
      throw new HttpError(405, `method ${req.method} not allowed for the live feed (allowed: GET)`, { allow: 'GET' });
    checkCaller(req, this.#access);
    return url;
  }
}
