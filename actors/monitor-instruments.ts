/**
 * `mon.instrument`: the instrumentations of the host's servers, bound to the tree's metric table,
 * each removable on its own and all removed by `stop()`.
 */
import type { Server as HttpServer } from 'node:http';
import type { Logger } from '../src/logger.js';
import type { Registry } from '../src/metrics/registry.js';
import { type HttpInstrumentOptions, instrumentHttp } from '../src/sources/http-instrument.js';
import {
  instrumentMcp,
  type McpInstrumentOptions,
  type McpProtocolLike,
  type McpServerLike,
} from '../src/sources/mcp-instrument.js';
import { instrumentOutbound, type OutboundInstrumentOptions } from '../src/sources/outbound-instrument.js';
import { instrumentPg, type PgInstrumentOptions, type PgPoolLike } from '../src/sources/pg-instrument.js';
import {
  instrumentPino,
  type PinoDestinationLike,
  pinoDestination,
  type PinoLineCounter,
  type PinoLoggerLike,
} from '../src/sources/pino-instrument.js';

/** Instrumentation of your servers. */
export interface MonitorInstruments {
  /**
   * Measures a node:http/https server into `http.server.requests`, `.errors`, `.duration`,
   * `.connections`, `.received_bytes` and `.sent_bytes` (names owned by the instrumentation);
   * `route` (e.g. `expressRoute`, `fastifyRoute(app)`, `routeTable([...])`) adds per-route
   * labels. Returns a function that removes the instrumentation.
   */
  http(server: HttpServer, options?: HttpInstrumentOptions): () => void;
  /**
   * Measures a node-postgres `pg.Pool` into `db.pool.connections`, `.waiting`, `.max`,
   * `.acquire.duration`, `.errors` and `db.query.duration` / `.errors` by operation (the query's
   * first keyword, never its text). Returns a function that removes the instrumentation;
   * `stop()` removes it too. `pg` is never imported by this package.
   */
  pg(pool: PgPoolLike, options?: PgInstrumentOptions): () => void;
  /**
   * Measures the process's outbound HTTP (`fetch` and node:http/https clients, from Node's
   * diagnostics channels) into `http.client.requests`, `.errors` and `.duration` by client,
   * method, status class and host (at most `maxHosts`, default 50, then `host="other"`; never
   * paths). The monitor's own notification and remote-write requests are left out. Returns a
   * function that removes it (as `stop()` does). @throws {MonitorError} `EMON_INVALID_OPTION`
   * for a bad option or a second call before the first is removed
   */
  outbound(options?: OutboundInstrumentOptions): () => void;
  /**
   * Counts the lines of an existing pino logger, and of every logger of its family (root and
   * children, made before or after), by level into `log.lines` (a histogram of line lengths:
   * its count is the lines). Returns a function that removes it (as `stop()` does).
   * @throws {MonitorError} `EMON_INVALID_OPTION` if it is not a pino logger or is counted already
   */
  pino(logger: PinoLoggerLike): () => void;
  /**
   * The same counting as a destination to create a pino logger with: `pino(options,
   * mon.instrument.pinoDestination(pino.destination(1)))` (default `process.stdout`). It keeps
   * counting into the table after `stop()`, as updates do.
   */
  pinoDestination(dest?: PinoDestinationLike): PinoLineCounter;
  /**
   * Measures an MCP server of `@modelcontextprotocol/sdk` (an McpServer or a low-level Server,
   * connected or not) into `mcp.requests`, `mcp.request.duration`, `mcp.errors`, `mcp.tool.*`,
   * `mcp.resource.reads`, `mcp.prompt.gets`, `mcp.notifications`, `mcp.cancelled`,
   * `mcp.sessions.*`, `mcp.session.duration` and `mcp.received_bytes` / `mcp.sent_bytes`
   * (names owned by the instrumentation). Returns a function that removes the instrumentation.
   */
  mcp(server: McpServerLike | McpProtocolLike, options?: McpInstrumentOptions): () => void;
}

/** The instrumentations over `registry`, and `removeAll` for `stop()`. */
export function monitorInstruments(
  registry: Registry,
  log: Logger,
): { instrument: MonitorInstruments; removeAll(): void } {
  const installed = new Set<() => void>();
  const removedOnStop = (remove: () => void): (() => void) => {
    const once = () => {
      remove();
      installed.delete(once);
    };
    installed.add(once);
    return once;
  };
  const instrument: MonitorInstruments = {
    http: (server, options) => removedOnStop(instrumentHttp(registry, server, options, log)),
    pg: (pool, options) => removedOnStop(instrumentPg(registry, pool, options, log)),
    outbound: (options) => removedOnStop(instrumentOutbound(registry, options, log)),
    pino: (logger) => removedOnStop(instrumentPino(registry, logger)),
    pinoDestination: (dest) => pinoDestination(registry, dest),
    mcp(server, options) {
      // Kept in `installed` only while a transport is connected: a service that builds one
      // McpServer per session must not grow the set by one closure per session ever served.
      let remove = (): void => undefined;
      const once = () => {
        remove();
        installed.delete(once);
      };
      remove = instrumentMcp(registry, server, options, log, {
        busy: () => installed.add(once),
        idle: () => installed.delete(once),
      });
      return once;
    },
  };
  return {
    instrument,
    removeAll() {
      for (const remove of [...installed]) remove();
    },
  };
}
