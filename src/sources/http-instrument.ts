/**
 * `instrument.http(server)`: measures a node:http (or https) server from Node's diagnostics
 * channels and the server's connection events, with no listener on the request path.
 *
 * Its metrics ({@link HTTP_METRICS}) are owned by `instrument.http`: the application cannot declare
 * them. The raw URL is never a label value: `route` comes from the `route` option and is capped at
 * `maxRoutes` (`route="other"` beyond), so the label set cannot grow without bound. Nothing thrown
 * while counting may leave the diagnostics-channel subscribers (it would be the host's uncaught
 * exception). Metric list, byte accounting and route rules: docs/design-notes.md.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CounterSeries } from '../metrics/counter.js';
import type { HistogramSeries } from '../metrics/histogram.js';
import { LONE_SURROGATE } from '../metrics/label-map.js';
import { MAX_SERIES_KEY_BYTES, seriesKey } from '../metrics/metric.js';
import type { Registry } from '../metrics/registry.js';

/** The names of `instrument.http`'s metrics (see the module header for their labels). */
export const HTTP_METRICS = Object.freeze({
  requests: 'http.server.requests',
  errors: 'http.server.errors',
  duration: 'http.server.duration',
  connections: 'http.server.connections',
  receivedBytes: 'http.server.received_bytes',
  sentBytes: 'http.server.sent_bytes',
} as const);

/** The owner named in the table for {@link HTTP_METRICS} (and in the errors of a clashing declaration). */
export const HTTP_INSTRUMENT_OWNER = 'instrument.http';

/** The `route` label of a request the `route` option gave no route for. */
export const UNMATCHED_ROUTE = 'unmatched';
/** The `route` label of the routes past `maxRoutes`. */
export const OTHER_ROUTE = 'other';

/** From a finished (or aborted) request to its route template, e.g. `/users/:id`; undefined when none matched. */
export type RouteOf = (req: IncomingMessage, res: ServerResponse) => string | undefined;

export interface HttpInstrumentOptions {
  /** Value of the `server` label (default `'http'`). */
  name?: string;
  /** Which statuses count as errors (default: status >= 500); asked once per distinct status of a route and method, so it must answer by the status alone. */
  isError?: (status: number) => boolean;
  /**
   * The request's route template (default: none, every request is `route=""`). Called once per
   * request, when it finishes. Return a template, never the URL; undefined (or a throw) counts
   * the request as `route="unmatched"`. Ready ones: `expressRoute`, `fastifyRoute(app)`, `routeTable(patterns)`.
   */
  route?: RouteOf;
  /** Distinct routes kept as labels; past it a new route counts as `route="other"` (default 100). */
  maxRoutes?: number;
}

/** Default of `maxRoutes`. */
export const DEFAULT_MAX_ROUTES = 100;

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
/** The longest `method` and `code` label values a request can get, for the series key bound. */
const LONGEST_METHOD = 'OPTIONS';
const LONGEST_CODE = 'aborted';

/**
 * Whether `route` can be the `route` label of every series of server `name`: its longest series
 * key (the longest metric name, method and code) within `MAX_SERIES_KEY_BYTES`, and valid Unicode.
 */
function usableRoute(name: string, route: string): boolean {
  if (LONE_SURROGATE.test(route)) return false;
  const key = seriesKey(HTTP_METRICS.requests, { server: name, method: LONGEST_METHOD, route, code: LONGEST_CODE });
  return key.length <= MAX_SERIES_KEY_BYTES && Buffer.byteLength(key) <= MAX_SERIES_KEY_BYTES;
}

/**
 * Least ms between two readings of one keep-alive socket's byte counters. Reading them costs
 * about a third of the instrumentation's time per request (`bytesWritten` copies the socket's
 * write queue each time), and the counters are read by exposition and flushes seconds apart.
 */
export const BYTES_ACCOUNT_MS = 1000;

interface BoundRequestSeries {
  labels: { server: string; method: string; route: string; code: string };
  total: CounterSeries;
  /** Bound at the first error with these labels, so successful codes get no error series. */
  errors: CounterSeries | undefined;
  /** Whether these requests count as errors: `isError` asked once per status, not per request. */
  error: boolean;
}

/** The series of one route and method: by status code, for responses that never finished, and the latency. */
interface MethodSeries {
  byStatus: Map<number, BoundRequestSeries>;
  aborted: BoundRequestSeries | undefined;
  latency: HistogramSeries;
}

/** The series of one route label value (`route` is the label: `other` past `maxRoutes`). */
interface RouteSeries {
  route: string;
  methods: Map<string, MethodSeries>;
}

interface SocketState {
  /** Bytes read and written already counted. */
  read: number;
  written: number;
  /** `performance.now()` of the last reading of the socket's counters; -Infinity before the first. */
  at: number;
  /** Responses started on this socket and not finished yet (more than one only when pipelining). */
  open: ServerResponse[];
  /**
   * `performance.now()` at each open response's start, same index as in `open` (grown when more
   * are open at once). Kept here rather than on the response object: a property added to every
   * ServerResponse changes its hidden class, which costs Node's own code on that object more than
   * the write itself. A typed array, not a number[]: `pop()` on an array of doubles boxes the
   * popped value into a fresh heap number wherever V8 does not inline it.
   */
  starts: Float64Array;
}

/** What Node publishes on its `http.server.*` diagnostics channels. */
interface ServerMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
  server: HttpServer;
}

const REQUEST_START_CHANNEL = 'http.server.request.start';
const RESPONSE_FINISH_CHANNEL = 'http.server.response.finish';

/**
 * Instruments `server`. Returns a function that removes the instrumentation.
 * @param log where a misbehaving `route` option is reported (once per instrumentation)
 * @throws {MonitorError} `EMON_INVALID_OPTION` if `server` is not a node:http/https server or an
 *   option is invalid; `EMON_METRIC_CONFLICT` if the application registered one of
 *   {@link HTTP_METRICS} already
 */
export function instrumentHttp(
  registry: Registry,
  server: HttpServer,
  options: HttpInstrumentOptions = {},
  log?: Logger,
): () => void {
  if (
    server === null ||
    typeof server !== 'object' ||
    typeof (server as { on?: unknown }).on !== 'function' ||
    typeof server.listen !== 'function'
  ) {
    throw new MonitorError(ErrorCode.InvalidOption, 'instrument.http: expected a node:http or node:https Server');
  }
  const spec = { name: 'http', isError: (status: number) => status >= 500, maxRoutes: DEFAULT_MAX_ROUTES, ...options };
  if (typeof spec.name !== 'string' || spec.name === '') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.http: name must be a non-empty string (the "server" label), got ${describeValue(spec.name)}`,
    );
  }
  if (typeof spec.isError !== 'function') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.http: isError must be a function (status) => boolean, got ${describeValue(spec.isError)}`,
    );
  }
  if (spec.route !== undefined && typeof spec.route !== 'function') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.http: route must be a function (req, res) => template, e.g. expressRoute, fastifyRoute(app) or routeTable(['/users/:id']), got ${describeValue(spec.route)}`,
    );
  }
  if (!Number.isInteger(spec.maxRoutes) || spec.maxRoutes < 1) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.http: maxRoutes must be a positive integer, got ${describeValue(spec.maxRoutes)}`,
    );
  }
  const { name, isError, maxRoutes } = spec;
  if (!usableRoute(name, UNMATCHED_ROUTE)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.http: name (the "server" label) is too long or not valid Unicode: its series keys would not fit ${MAX_SERIES_KEY_BYTES} bytes`,
    );
  }
  const { total, errors, latencyMetric, connections, bytesIn, bytesOut } = registry.own(
    HTTP_INSTRUMENT_OWNER,
    Object.values(HTTP_METRICS),
    () => ({
      total: registry.counter(HTTP_METRICS.requests, {
        help: 'HTTP requests served',
        labels: ['server', 'method', 'route', 'code'],
      }),
      errors: registry.counter(HTTP_METRICS.errors, {
        help: 'HTTP requests that failed (5xx or aborted)',
        labels: ['server', 'method', 'route', 'code'],
      }),
      latencyMetric: registry.histogram(HTTP_METRICS.duration, {
        help: 'HTTP response time, from request to response end',
        unit: 'ms',
        labels: ['server', 'method', 'route'],
      }),
      connections: registry
        .gauge(HTTP_METRICS.connections, { help: 'Open connections', labels: ['server'] })
        .bind({ server: name }),
      bytesIn: registry
        .counter(HTTP_METRICS.receivedBytes, { help: 'Bytes received', unit: 'bytes', labels: ['server'] })
        .bind({ server: name }),
      bytesOut: registry
        .counter(HTTP_METRICS.sentBytes, { help: 'Bytes sent', unit: 'bytes', labels: ['server'] })
        .bind({ server: name }),
    }),
  );
  // Per socket, under a symbol of this instrumentation (two instrumentations of one server stay
  // apart; a property is cheaper than a WeakMap lookup per response): the byte counts accounted
  // so far and the responses started on it and not finished yet.
  const state = Symbol('erlmcp-monitor.socketState');
  type TrackedSocket = Socket & { [state]?: SocketState };
  const stateOf = (socket: TrackedSocket): SocketState =>
    (socket[state] ??= { read: 0, written: 0, at: -Infinity, open: [], starts: new Float64Array(2) });
  const account = (socket: TrackedSocket, last: SocketState, at: number) => {
    last.at = at;
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    if (read > last.read) bytesIn.inc(read - last.read);
    if (written > last.written) bytesOut.inc(written - last.written);
    last.read = read;
    last.written = written;
  };

  // The application's functions run inside diagnostics-channel subscribers, where a throw would
  // become an uncaught exception of the host: each is caught, and reported once.
  const warned = new Set<string>();
  const warnOnce = (option: string, err: unknown, outcome: string) => {
    if (warned.has(option)) return;
    warned.add(option);
    log?.warn(
      { server: name, err: toError(err) },
      `instrument.http (server "${name}"): the ${option} function threw; ${outcome}`,
    );
  };
  /** A throw while counting (inside a diagnostics-channel subscriber or a socket listener, where nothing may escape). */
  const countFailed = (err: unknown) => {
    if (warned.has('count')) return;
    warned.add('count');
    log?.warn(
      { server: name, err: toError(err) },
      `instrument.http (server "${name}"): counting a request failed; such requests go uncounted`,
    );
  };
  const errorStatus = (status: number): boolean => {
    try {
      return isError(status);
    } catch (err) {
      warnOnce('isError', err, 'such responses are counted by status >= 500');
      return status >= 500;
    }
  };
  // Chosen once: without a route option no function is called per request.
  const route = spec.route;
  const routeOf: (req: IncomingMessage | undefined, res: ServerResponse) => string =
    route === undefined
      ? () => ''
      : (req, res) => {
          let template: unknown;
          try {
            template = req === undefined ? undefined : route(req, res);
          } catch (err) {
            warnOnce('route', err, `such requests are counted as route="${UNMATCHED_ROUTE}"`);
            return UNMATCHED_ROUTE;
          }
          return typeof template === 'string' && template !== '' ? template : UNMATCHED_ROUTE;
        };

  // Bound series per (route, method, status): a request costs three Map lookups on strings and a
  // number it already has, instead of building a key or a label object.
  const bound = new Map<string, RouteSeries>();
  const routeSeries = (asked: string): RouteSeries => {
    const known = bound.get(asked);
    if (known !== undefined) return known;
    let route = asked;
    if (!usableRoute(name, route)) {
      // Not kept under `asked`: unusable routes (e.g. URLs) must not grow `bound`.
      const other = bound.get(OTHER_ROUTE);
      if (other !== undefined) return other;
      if (!warned.has('unusable route')) {
        warned.add('unusable route');
        log?.warn(
          { server: name, bytes: Buffer.byteLength(route) },
          `instrument.http (server "${name}"): the route function gave a route that cannot be a label (its series key would pass ${MAX_SERIES_KEY_BYTES} bytes, or it is not valid Unicode); such requests are counted as route="${OTHER_ROUTE}"`,
        );
      }
      route = OTHER_ROUTE;
    } else if (bound.size >= maxRoutes && route !== UNMATCHED_ROUTE) {
      const other = bound.get(OTHER_ROUTE);
      if (other !== undefined) return other;
      log?.warn(
        { server: name, maxRoutes },
        `instrument.http (server "${name}"): more than ${maxRoutes} distinct routes; further ones are counted as route="${OTHER_ROUTE}". ` +
          'A route function must return templates such as "/users/:id", not URLs; raise maxRoutes if the service really has more routes',
      );
      route = OTHER_ROUTE;
    }
    const entry: RouteSeries = { route, methods: new Map() };
    bound.set(route, entry);
    return entry;
  };
  const methodSeries = (forRoute: RouteSeries, method: string): MethodSeries => {
    let forMethod = forRoute.methods.get(method);
    if (forMethod === undefined) {
      const latency = latencyMetric.bind({ server: name, method, route: forRoute.route });
      forRoute.methods.set(method, (forMethod = { byStatus: new Map(), aborted: undefined, latency }));
    }
    return forMethod;
  };
  const bindSeries = (method: string, route: string, code: string, error: boolean): BoundRequestSeries => {
    const labels = { server: name, method, route, code };
    return { labels, total: total.bind(labels), errors: undefined, error };
  };
  /**
   * Counts the request and returns its series, whose latency the caller observes: a double passed
   * to a call V8 does not inline is boxed into a fresh heap number, so none is passed here.
   */
  // The last finished request's method, asked route, status and series: most requests repeat
  // them, and skip the method check and the three lookups (an asked route always gets the same
  // label once it has one: `bound` only grows).
  let lastMethod: string | undefined;
  let lastAsked: string | undefined;
  let lastStatus = -1;
  let last: BoundRequestSeries | undefined;
  let lastForMethod: MethodSeries | undefined;
  const count = (res: ServerResponse, req: IncomingMessage | undefined, finished: boolean): MethodSeries => {
    const asked = routeOf(req, res);
    const rawMethod = req?.method;
    const status = res.statusCode;
    let series: BoundRequestSeries;
    let forMethod: MethodSeries;
    if (finished && last !== undefined && status === lastStatus && rawMethod === lastMethod && asked === lastAsked) {
      series = last;
      forMethod = lastForMethod!;
    } else {
      const method = rawMethod !== undefined && METHODS.has(rawMethod) ? rawMethod : 'OTHER';
      const forRoute = routeSeries(asked);
      forMethod = methodSeries(forRoute, method);
      if (!finished) series = forMethod.aborted ??= bindSeries(method, forRoute.route, 'aborted', true);
      else {
        let entry = forMethod.byStatus.get(status);
        if (entry === undefined)
          forMethod.byStatus.set(
            status,
            (entry = bindSeries(method, forRoute.route, String(status), errorStatus(status))),
          );
        series = last = entry;
        lastForMethod = forMethod;
        lastMethod = rawMethod;
        lastAsked = asked;
        lastStatus = status;
      }
    }
    series.total.inc();
    if (series.error) (series.errors ??= errors.bind(series.labels)).inc();
    return forMethod;
  };

  const onConnection = (socket: TrackedSocket) => {
    try {
      connections.inc();
      const tracked = stateOf(socket);
      socket.once('close', () => {
        try {
          connections.dec();
          const end = performance.now();
          // Responses still open when their connection closed never finished: the client went away.
          const starts = tracked.starts;
          tracked.open.splice(0).forEach((res, i) => count(res, res.req, false).latency.observe(end - starts[i]!));
          account(socket, tracked, end);
        } catch (err) {
          countFailed(err);
        }
      });
    } catch (err) {
      countFailed(err);
    }
  };

  // Node's own diagnostics channels instead of listeners: a second 'request' listener and a
  // 'close' listener on every response cost Node's request path about as much as all the work
  // done here (measured by bench/e2e-attribution.ts, mode `listeners`). The channels are
  // published for every server of the process, hence the check of `server`. Both subscribers
  // are plain functions of one argument (a rest-argument wrapper allocates an array per call
  // wherever V8 does not optimise it away), and allocate nothing per request but the two clock
  // readings (`performance.now()` returns a fresh 16-byte heap number; `process.hrtime.bigint()`
  // costs 20 bytes a reading: test/sources/http-instrument-alloc.test.ts counts them).
  const onStart = (message: unknown) => {
    try {
      const m = message as ServerMessage;
      if (m.server !== server) return;
      const tracked = stateOf(m.socket);
      const at = tracked.open.push(m.response) - 1;
      if (at === tracked.starts.length) {
        const grown = new Float64Array(at * 2);
        grown.set(tracked.starts);
        tracked.starts = grown;
      }
      tracked.starts[at] = performance.now();
    } catch (err) {
      countFailed(err);
    }
  };
  const onFinish = (message: unknown) => {
    try {
      const m = message as ServerMessage;
      if (m.server !== server) return;
      const end = performance.now();
      const res = m.response;
      const socket = m.socket as TrackedSocket;
      const tracked = stateOf(socket);
      const open = tracked.open;
      const i = open[0] === res ? 0 : open.indexOf(res);
      if (i < 0) return; // counted as aborted already, or started before the instrumentation
      const ms = end - tracked.starts[i]!;
      if (i === open.length - 1) {
        // The usual case (one response at a time on a connection): no splice, no array allocated.
        open.pop();
      } else {
        open.splice(i, 1);
        tracked.starts.copyWithin(i, i + 1, open.length + 1);
      }
      count(res, m.request, true).latency.observe(ms);
      if (end - tracked.at >= BYTES_ACCOUNT_MS) account(socket, tracked, end);
    } catch (err) {
      countFailed(err);
    }
  };

  // For https, requests see the TLS socket, so count connections on it too.
  const connectionEvent = server instanceof HttpsServer ? 'secureConnection' : 'connection';
  server.on(connectionEvent, onConnection);
  diagnostics.subscribe(REQUEST_START_CHANNEL, onStart);
  diagnostics.subscribe(RESPONSE_FINISH_CHANNEL, onFinish);
  return () => {
    server.off(connectionEvent, onConnection);
    diagnostics.unsubscribe(REQUEST_START_CHANNEL, onStart);
    diagnostics.unsubscribe(RESPONSE_FINISH_CHANNEL, onFinish);
  };
}
