/**
 * `instrument.outbound()`: measures the process's outbound HTTP requests, `fetch` (undici) and
 * node:http/https clients, from Node's diagnostics channels: nothing is patched and no listener is
 * added to a request, so every library on top (axios, got) is seen. Metrics: {@link OUTBOUND_METRICS}
 * (`http.client.requests`, `.errors`, `.duration` by client, method, host). Labels are bounded
 * (`maxHosts`, standard methods); the monitor's own requests are not counted (`net/own-requests.ts`).
 * Channels used and metric details: docs/design-notes.md.
 */
import diagnostics from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import { isOwnRequest } from '../net/own-requests.js';
import type { Logger } from '../logger.js';
import type { Counter, CounterSeries } from '../metrics/counter.js';
import type { HistogramSeries } from '../metrics/histogram.js';
import type { Registry } from '../metrics/registry.js';

/** The names of `instrument.outbound`'s metrics (see the module header for their labels). */
export const OUTBOUND_METRICS = Object.freeze({
  requests: 'http.client.requests',
  errors: 'http.client.errors',
  duration: 'http.client.duration',
} as const);

/** The owner named in the table for {@link OUTBOUND_METRICS}. */
export const OUTBOUND_INSTRUMENT_OWNER = 'instrument.outbound';

/** The `host` label of the hosts past `maxHosts`. */
export const OTHER_HOST = 'other';

/** Default of `maxHosts`. */
export const DEFAULT_MAX_HOSTS = 50;

export interface OutboundInstrumentOptions {
  /** Measure `fetch` (undici) requests (default true). */
  fetch?: boolean;
  /** Measure node:http/https client requests (default true). */
  http?: boolean;
  /** Distinct hosts kept as labels; past it a new host counts as `host="other"` (default 50). */
  maxHosts?: number;
  /** Which response statuses count as errors (default: status >= 500). */
  isError?: (status: number) => boolean;
}

/** The kinds of failure the `error` label tells apart (besides status classes). */
export type FailureKind = 'refused' | 'reset' | 'timeout' | 'dns' | 'aborted' | 'tls' | 'other';

const FAILURE_BY_CODE: Readonly<Record<string, FailureKind>> = {
  ECONNREFUSED: 'refused',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  ETIMEDOUT: 'timeout',
  UND_ERR_CONNECT_TIMEOUT: 'timeout',
  UND_ERR_HEADERS_TIMEOUT: 'timeout',
  UND_ERR_BODY_TIMEOUT: 'timeout',
  ENOTFOUND: 'dns',
  EAI_AGAIN: 'dns',
  ABORT_ERR: 'aborted',
  UND_ERR_ABORTED: 'aborted',
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 'other',
};

/** The failure kind of a client error, from its name and code (and its cause's: fetch wraps them). */
export function failureKind(err: unknown): FailureKind {
  for (
    let e = err, depth = 0;
    e !== null && typeof e === 'object' && depth < 3;
    e = (e as { cause?: unknown }).cause, depth++
  ) {
    const { name, code } = e as { name?: unknown; code?: unknown };
    if (name === 'TimeoutError') return 'timeout';
    if (name === 'AbortError') return 'aborted';
    if (typeof code === 'string') {
      const kind = FAILURE_BY_CODE[code];
      if (kind !== undefined) return kind;
      if (code.startsWith('ERR_TLS_') || code.startsWith('ERR_SSL_') || code.includes('CERT')) return 'tls';
    }
  }
  return 'other';
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);
const STATUS_CLASSES = ['other', '1xx', '2xx', '3xx', '4xx', '5xx'];
const statusClass = (status: number): number => (status >= 100 && status < 600 ? Math.floor(status / 100) : 0);
/** Index of `status="error"` in a method's `byStatus` (after the classes). */
const NO_RESPONSE = STATUS_CLASSES.length;

type Client = 'fetch' | 'http';

/** The series of one client, host and method. */
interface MethodSeries {
  labels: { client: Client; method: string; host: string };
  latency: HistogramSeries;
  /** By status class index (0 = other, 1..5 = 1xx..5xx, 6 = error), bound at first use. */
  byStatus: (CounterSeries | undefined)[];
  /** By `error` label value, bound at first use. */
  errors: Map<string, CounterSeries>;
}

/** undici's request object as published on its channels (the fields read here). */
interface UndiciRequest {
  method: string;
  origin: string | URL;
}

/** node:http's ClientRequest as published on its channels (the fields read here). */
interface ClientRequestLike {
  method: string;
  host: string;
  getHeader(name: string): unknown;
}

/** Value of a request's start slot once its outcome is counted: a later error counts only as an error. */
const ANSWERED = -1;

/** Requests instrumented into each table: a second instrumentation would count every request twice. */
const instrumented = new WeakSet<Registry>();

/**
 * Instruments the process's outbound HTTP. Returns a function that removes the instrumentation.
 * @param log where the host cap and a throwing `isError` are reported (once each)
 * @throws {MonitorError} `EMON_INVALID_OPTION` if an option is invalid or the table is instrumented
 *   already; `EMON_METRIC_CONFLICT` if the application registered one of {@link OUTBOUND_METRICS}
 */
export function instrumentOutbound(
  registry: Registry,
  options: OutboundInstrumentOptions = {},
  log?: Logger,
): () => void {
  if (options === null || typeof options !== 'object') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.outbound: options must be an object, got ${describeValue(options)}`,
    );
  }
  const spec = {
    fetch: true,
    http: true,
    maxHosts: DEFAULT_MAX_HOSTS,
    isError: (status: number) => status >= 500,
    ...options,
  };
  for (const key of ['fetch', 'http'] as const) {
    if (typeof spec[key] !== 'boolean')
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `instrument.outbound: ${key} must be a boolean, got ${describeValue(spec[key])}`,
      );
  }
  if (!Number.isInteger(spec.maxHosts) || spec.maxHosts < 1) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.outbound: maxHosts must be a positive integer, got ${describeValue(spec.maxHosts)}`,
    );
  }
  if (typeof spec.isError !== 'function') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `instrument.outbound: isError must be a function (status) => boolean, got ${describeValue(spec.isError)}`,
    );
  }
  if (instrumented.has(registry)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      'instrument.outbound: this table is instrumented already (every request would count twice); call the remove function it returned first',
    );
  }
  const { maxHosts, isError } = spec;
  const { total, errors, duration } = registry.own(OUTBOUND_INSTRUMENT_OWNER, Object.values(OUTBOUND_METRICS), () => ({
    total: registry.counter(OUTBOUND_METRICS.requests, {
      help: 'Outbound HTTP requests, by response status class (error: no response)',
      labels: ['client', 'method', 'host', 'status'],
    }),
    errors: registry.counter(OUTBOUND_METRICS.errors, {
      help: 'Outbound HTTP requests that failed (5xx or no response)',
      labels: ['client', 'method', 'host', 'error'],
    }),
    duration: registry.histogram(OUTBOUND_METRICS.duration, {
      help: 'Outbound HTTP time to the response headers (or to the failure)',
      unit: 'ms',
      labels: ['client', 'method', 'host'],
    }),
  }));

  const warned = new Set<string>();
  const warnOnce = (what: string, fields: object, msg: string) => {
    if (warned.has(what)) return;
    warned.add(what);
    log?.warn(fields, msg);
  };
  const errorStatus = (status: number): boolean => {
    try {
      return isError(status);
    } catch (err) {
      warnOnce(
        'isError',
        { err: toError(err) },
        'instrument.outbound: the isError function threw; such responses are counted by status >= 500',
      );
      return status >= 500;
    }
  };

  // Host label by the request's own host string (bounded: hosts past the cap are not remembered).
  const hosts = new Map<string, string>();
  const hostLabel = (host: string): string => {
    const known = hosts.get(host);
    if (known !== undefined) return known;
    if (hosts.size >= maxHosts) {
      warnOnce(
        'maxHosts',
        { maxHosts },
        `instrument.outbound: more than ${maxHosts} distinct hosts; further ones are counted as host="${OTHER_HOST}" (raise maxHosts if the service really calls more)`,
      );
      return OTHER_HOST;
    }
    hosts.set(host, host);
    return host;
  };
  // Bound series per client, host label and method: a request costs three Map lookups.
  const bound: Record<Client, Map<string, Map<string, MethodSeries>>> = { fetch: new Map(), http: new Map() };
  const seriesOf = (client: Client, rawMethod: string, host: string): MethodSeries => {
    const method = METHODS.has(rawMethod) ? rawMethod : 'OTHER';
    const label = hostLabel(host);
    let byMethod = bound[client].get(label);
    if (byMethod === undefined) bound[client].set(label, (byMethod = new Map<string, MethodSeries>()));
    let series = byMethod.get(method);
    if (series === undefined) {
      const labels = { client, method, host: label };
      byMethod.set(method, (series = { labels, latency: duration.bind(labels), byStatus: [], errors: new Map() }));
    }
    return series;
  };
  const countStatus = (series: MethodSeries, index: number, status: string) => {
    (series.byStatus[index] ??= bindStatus(total, series, status)).inc();
  };
  const countError = (series: MethodSeries, error: string) => {
    let counter = series.errors.get(error);
    if (counter === undefined) series.errors.set(error, (counter = errors.bind({ ...series.labels, error })));
    counter.inc();
  };
  const answered = (series: MethodSeries, status: number, elapsed: number) => {
    series.latency.observe(elapsed);
    const index = statusClass(status);
    countStatus(series, index, STATUS_CLASSES[index]!);
    if (errorStatus(status)) countError(series, STATUS_CLASSES[index]!);
  };
  const failed = (series: MethodSeries, start: number | undefined, err: unknown) => {
    if (start !== ANSWERED) {
      // No response came: the request ends here. One without a start began before the instrumentation.
      if (start !== undefined) series.latency.observe(performance.now() - start);
      countStatus(series, NO_RESPONSE, 'error');
    }
    countError(series, failureKind(err));
  };

  // The start time of each request under a symbol of this instrumentation: a property on the
  // request rather than a WeakMap entry (a lookup per channel message, and GC work per request).
  // Never deleted: a delete would turn the request object into a dictionary.
  const started = Symbol('erlmcp-monitor.outboundStart');
  interface Tracked {
    [started]?: number;
  }

  const undiciHost = (request: UndiciRequest): string => {
    const origin = typeof request.origin === 'string' ? request.origin : String(request.origin);
    const i = origin.indexOf('//');
    return i < 0 ? origin : origin.slice(i + 2);
  };
  const onUndiciCreate = (message: unknown) => {
    (message as { request: Tracked }).request[started] = performance.now();
  };
  const onUndiciHeaders = (message: unknown) => {
    const { request, response } = message as { request: UndiciRequest & Tracked; response: { statusCode: number } };
    const start = request[started];
    if (start === undefined || start === ANSWERED) return; // began before the instrumentation, or a second headers message
    request[started] = ANSWERED;
    answered(seriesOf('fetch', request.method, undiciHost(request)), response.statusCode, performance.now() - start);
  };
  const onUndiciError = (message: unknown) => {
    const { request, error } = message as { request: UndiciRequest & Tracked; error: unknown };
    const start = request[started];
    request[started] = ANSWERED;
    failed(seriesOf('fetch', request.method, undiciHost(request)), start, error);
  };

  const httpHost = (request: ClientRequestLike): string => {
    const header = request.getHeader('host');
    return typeof header === 'string' && header !== '' ? header : request.host;
  };
  const onHttpStart = (message: unknown) => {
    const request = (message as { request: ClientRequestLike & Tracked }).request;
    if (!isOwnRequest(request)) request[started] = performance.now();
  };
  const onHttpResponse = (message: unknown) => {
    const { request, response } = message as {
      request: ClientRequestLike & Tracked;
      response: { statusCode?: number };
    };
    const start = request[started];
    if (start === undefined || start === ANSWERED) return;
    request[started] = ANSWERED;
    answered(seriesOf('http', request.method, httpHost(request)), response.statusCode ?? 0, performance.now() - start);
  };
  const onHttpError = (message: unknown) => {
    const { request, error } = message as { request: ClientRequestLike & Tracked; error: unknown };
    if (isOwnRequest(request)) return;
    const start = request[started];
    request[started] = ANSWERED;
    failed(seriesOf('http', request.method, httpHost(request)), start, error);
  };

  // Each handler runs inside Node's publish, on the host's request path: a throw there would
  // reach the host. None is expected (the inputs are Node's and undici's own objects), but a
  // monitoring bug must not break the host's requests, so each is guarded once, here.
  const subscriptions: [string, (message: unknown) => void][] = [];
  const guard = (channel: string, handler: (message: unknown) => void) => {
    const safe = (message: unknown) => {
      try {
        handler(message);
      } catch (err) {
        warnOnce(
          channel,
          { err: toError(err) },
          `instrument.outbound: measuring a request on ${channel} failed; the request itself is unaffected`,
        );
      }
    };
    subscriptions.push([channel, safe]);
  };
  if (spec.fetch) {
    guard('undici:request:create', onUndiciCreate);
    guard('undici:request:headers', onUndiciHeaders);
    guard('undici:request:error', onUndiciError);
  }
  if (spec.http) {
    guard('http.client.request.start', onHttpStart);
    guard('http.client.response.finish', onHttpResponse);
    guard('http.client.request.error', onHttpError);
  }
  for (const [channel, handler] of subscriptions) diagnostics.subscribe(channel, handler);
  instrumented.add(registry);
  let removed = false;
  return () => {
    if (removed) return;
    removed = true;
    for (const [channel, handler] of subscriptions) diagnostics.unsubscribe(channel, handler);
    instrumented.delete(registry);
  };
}

function bindStatus(total: Counter, series: MethodSeries, status: string): CounterSeries {
  return total.bind({ ...series.labels, status });
}
