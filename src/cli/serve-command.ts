/**
 * `erlmcp-monitor serve <dataDir>`: the dashboard over a store another process writes, opened
 * read-only: the library's own server and page, with the metric table replaced by a mirror
 * restored from the store each `refresh_interval`.
 *
 * The mirror cannot show histogram percentiles in live frames (their window is not stored), nor
 * the performance report, SLAs and alerts (those live in the application's processes).
 * Wiring details: docs/design-notes.md.
 */
import { loadConfig } from '../config/load-config.js';
import type { DashboardConfig } from '../config/schema.js';
import { toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { Registry } from '../metrics/registry.js';
import { restoreTable } from '../store/table-store.js';
import { standaloneSources } from '../server/dashboard-sources.js';
import { dashboardsFrom } from '../server/dashboards.js';
import { HttpServer } from '../server/http-server.js';
import { listenError } from '../server/listen-error.js';
import type { Command, Flags, CliIo } from './command.js';
import { openReadOnly } from './open-store.js';
import { STORE_DASHBOARD, storeDashboard } from './store-dashboard.js';
import { UsageError } from './usage-error.js';

/** Heartbeat pings to feed clients, as the dashboard process sends them (`actors/dashboard.ts`). */
const HEARTBEAT_MS = 30_000;
/** The mirror holds every stored series of a metric (the application's own limit applied when it wrote them). */
const MIRROR_SERIES_LIMIT = 10_000_000;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'the dashboard and /api/history over a store another process writes (read-only)',
  positionals: ['dataDir'],
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    config: { type: 'string' },
  },
  help: `Usage: erlmcp-monitor serve <dataDir> [--port N] [--host H] [--config DIR]

Serves the dashboard page, /api/history, /api/dashboards, /api/realtime, /metrics and the live
feed over the store in <dataDir>, opened read-only: the application keeps writing it. Live values
are the store's newest committed ones, read every refresh_interval. Besides the configured
dashboards there is "store": a chart per metric found in the store. Stops on Ctrl-C (SIGINT) or
SIGTERM.

Options:
  --port N      port (default: dashboard.port of the config, 8080; 0 = any free port)
  --host H      address to bind (default 127.0.0.1; any other needs dashboard.auth_token, e.g. from
                ERLMCP_DASHBOARD_TOKEN)
  --config DIR  the application's config directory, for its dashboards, refresh interval and
                token (default: the built-in defaults plus ERLMCP_* variables)
  -h, --help    this help`,

  async run([dataDir], flags: Flags, io: CliIo): Promise<number> {
    let port: number | undefined;
    if (flags.port !== undefined) {
      port = Number(flags.port);
      if (!/^\d{1,5}$/.test(String(flags.port)) || port > 65_535)
        throw new UsageError(`--port must be an integer from 0 to 65535, got ${JSON.stringify(flags.port)}`, 'serve');
    }
    const host = flags.host === undefined ? '127.0.0.1' : String(flags.host);
    if (host === '') throw new UsageError('--host must not be empty', 'serve');
    const loaded = loadConfig({
      ...(flags.config === undefined ? {} : { configDir: String(flags.config) }),
      env: io.env,
    }).dashboard;
    const config: DashboardConfig = { ...loaded, host, port: port ?? loaded.port };
    const log = onceLogger(io);

    const store = openReadOnly(dataDir!);
    const timers: NodeJS.Timeout[] = [];
    let server: HttpServer | undefined;
    try {
      const registry = new Registry({ seriesLimit: MIRROR_SERIES_LIMIT, logger: log });
      const mirror = (): void => void restoreTable(registry, store, log);
      mirror();
      const dashboards = dashboardsFrom(config);
      const stored = dashboards.some((d) => d.name === STORE_DASHBOARD)
        ? undefined
        : storeDashboard(store.seriesDefs());
      if (stored !== undefined) dashboards.push(stored);
      server = new HttpServer({ registry, store, config, dashboards, sources: standaloneSources(registry), log });
      const address = await server.listen(config.host, config.port).catch((err: unknown) => {
        throw listenError(err, config.host, config.port);
      });
      io.out(`serving ${store.dataDir} (read-only) at ${address.url}\n`);
      let polling = false;
      const live = server;
      timers.push(
        setInterval(() => {
          if (polling) return;
          polling = true;
          try {
            mirror();
          } catch (err) {
            log.warn({ err: toError(err) }, 'serve: reading the store failed; live values are the last ones read');
          }
          live
            .tick()
            .catch((err: unknown) => log.warn({ err: toError(err) }, 'serve: sending live frames failed'))
            .finally(() => (polling = false));
        }, config.refresh_interval),
        setInterval(() => live.heartbeat(), HEARTBEAT_MS),
      );
      if (!io.signal.aborted)
        await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve(), { once: true }));
      return 0;
    } finally {
      for (const timer of timers) clearInterval(timer);
      await server?.close();
      await store.close();
    }
  },
};

/**
 * Warnings and errors as one plain line each on stderr (no stack: they are about the data, not a
 * bug), each distinct line once: every poll re-reads the same series, and one that cannot be
 * mirrored would otherwise warn at every refresh.
 */
function onceLogger(io: CliIo): Logger {
  const seen = new Set<string>();
  const write = (level: string) => (fields: object, msg: string) => {
    const details = Object.entries(fields).map(
      ([k, v]) => `${k}: ${v instanceof Error ? v.message : typeof v === 'string' ? v : JSON.stringify(v)}`,
    );
    const line = `erlmcp-monitor serve: ${level}: ${msg}${details.length === 0 ? '' : ` (${details.join('; ')})`}`;
    if (seen.has(line) || seen.size > 10_000) return;
    seen.add(line);
    io.err(`${line}\n`);
  };
  return { debug: () => undefined, info: () => undefined, warn: write('warning'), error: write('error') };
}
