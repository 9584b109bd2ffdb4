/**
 * erlmcp_dashboard: the process that owns the dashboard's HTTP/WebSocket server, its lifetime and
 * its clock (`tick` and `heartbeat` timers). Requests are served by the server directly, not
 * through the mailbox.
 *
 * A bad bind, or a non-loopback host without a token, fails the start. Start args:
 * {@link DashboardArgs}. Lifecycle and calls: docs/design-notes.md.
 */
import type { DashboardConfig } from '../src/config/schema.js';
import type { Logger } from '../src/logger.js';
import type { DerivedValues } from '../src/metrics/derived-values.js';
import type { Registry } from '../src/metrics/registry.js';
import type { Behaviour, MessageSchema, Pid } from '../src/otp/index.js';
import type { DashboardSources } from '../src/server/dashboard-sources.js';
import { HttpServer, type ServerAddress, type ServerStats } from '../src/server/http-server.js';
import { listenError } from '../src/server/listen-error.js';
import type { HttpTimeouts } from '../src/server/request-guard.js';
import type { WsLimits } from '../src/server/ws-server.js';
import type { MetricStore } from '../src/store/lmdb-store.js';

export const DASHBOARD_NAME = 'erlmcp_dashboard';

/** Default ms between heartbeat pings; a peer that misses one is dropped at the next. */
export const DEFAULT_HEARTBEAT_MS = 30_000;

export interface DashboardProtocol {
  call: { type: 'address' } | { type: 'stats' };
  replies: { address: ServerAddress; stats: ServerStats };
  cast: never;
  info: { type: 'tick' } | { type: 'heartbeat' };
}

export type DashboardPid = Pid<DashboardProtocol>;

export interface DashboardArgs {
  registry: Registry;
  store: MetricStore;
  /** `dashboard.json`; `host`/`port` are where it binds (port 0 = a free port). */
  config: DashboardConfig;
  derived: DerivedValues;
  /** The report, SLAs, alerts, scores, `/metrics` and process states (see `dashboard-sources.ts`). */
  sources: DashboardSources;
  /** Wall clock for times shown (frame and point times, `server_time`), ms (default `Date.now`). */
  now?: () => number;
  /** Clock for durations and rates, ms; never steps (default: `now` when given, else `performance.now`). */
  steadyNow?: () => number;
  /** Default: the system's logger. */
  logger?: Logger;
  /** Default {@link DEFAULT_HEARTBEAT_MS}. */
  heartbeatMs?: number;
  /** Feed limits (slow clients, max clients); defaults in `src/server/ws-server.ts`. */
  wsLimits?: Partial<WsLimits>;
  /** The page's directory (default `<package root>/src/dashboard-page`). */
  pageDir?: string;
  /** Told where the server listens once it does (e.g. the bound port when configured as 0). */
  onListening?: (address: ServerAddress) => void;
  /** How long a source may take before its endpoint answers 503 (default 2000 ms). */
  sourceTimeoutMs?: number;
  /** Client deadlines (slow clients get a 408); defaults in `DEFAULT_HTTP_TIMEOUTS` of `src/server/http-server.ts`. */
  httpTimeouts?: Partial<HttpTimeouts>;
}

interface State {
  server: HttpServer;
}

/** What the dashboard process accepts; the gen_server layer refuses anything else. */
export const DASHBOARD_MESSAGES = {
  call: { address: {}, stats: {} },
  cast: {},
  info: { tick: {}, heartbeat: {} },
} as const satisfies MessageSchema<DashboardProtocol>;

export const dashboard: Behaviour<State, DashboardProtocol, DashboardArgs> = {
  name: 'dashboard',
  messages: DASHBOARD_MESSAGES,

  async init(args, ctx) {
    const log = args.logger ?? ctx.log;
    const server = new HttpServer({
      registry: args.registry,
      store: args.store,
      config: args.config,
      derived: args.derived,
      sources: args.sources,
      now: args.now,
      steadyNow: args.steadyNow,
      log,
      wsLimits: { maxClients: args.config.max_clients, ...args.wsLimits },
      pageDir: args.pageDir,
      sourceTimeoutMs: args.sourceTimeoutMs,
      timeouts: args.httpTimeouts,
    });
    const address = await server.listen(args.config.host, args.config.port).catch((err: unknown) => {
      throw listenError(err, args.config.host, args.config.port);
    });
    if (args.config.real_time_enabled) ctx.interval(args.config.refresh_interval, { type: 'tick' });
    ctx.interval(args.heartbeatMs ?? DEFAULT_HEARTBEAT_MS, { type: 'heartbeat' });
    log.info({ url: address.url }, 'dashboard listening');
    args.onListening?.(address);
    return { server };
  },

  handleCall(msg, state) {
    switch (msg.type) {
      case 'address':
        return { reply: state.server.address(), state };
      case 'stats':
        return { reply: state.server.stats(), state };
    }
  },

  async handleInfo(msg, state) {
    switch (msg.type) {
      case 'tick':
        await state.server.tick();
        return { state };
      case 'heartbeat':
        state.server.heartbeat();
        return { state };
    }
  },

  async terminate(_reason, state) {
    await state.server.close();
  },

  onKill(_reason, state) {
    state.server.kill();
  },
};
