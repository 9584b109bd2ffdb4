/**
 * `instrument.http(server)`: measures a node:http (or https) server from Node's diagnostics
 * channels `http.server.request.start` / `http.server.response.finish` and the server's
 * connection events (no listener on the request path: see `onStart` below).
 *
 * - `requests.total{server,method,code}` and `requests.errors{server,method,code}` (status >= 500 by
 *   default, and requests whose connection closed before the response finished, code `aborted`);
 * - `response_time{server}` (ms, from the request's start, before the application's 'request'
 *   listeners run, to the response's finish; for an aborted request, to its connection's close);
 * - `network.connections{server}` (open sockets) and `network.bytes_in` / `network.bytes_out`
 *   `{server}` (bytes read from and written to the sockets, headers included, taken from the
 *   sockets' own counters at a socket's first response, then at most once per
 *   {@link BYTES_ACCOUNT_MS} per socket, and when the socket closes: exact once it has closed, at
 *   most that late on a keep-alive connection still open).
 *
 * Methods outside the standard set are counted as `OTHER`, so a client cannot grow the label
 * set without bound. Updates are direct calls on bound series: no mailbox, no I/O.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import { Server as HttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ErrorCode, MonitorError } from '../errors.js';
import type { CounterSeries } from '../metrics/counter.js';
import type { GaugeSeries } from '../metrics/gauge.js';
import type { HistogramSeries } from '../metrics/histogram.js';
import type { Registry } from '../metrics/registry.js';

export interface HttpInstrumentOptions {
  /** Value of the `server` label (default `'http'`). */
  name?: string;
  /** Which statuses count as errors (default: status >= 500). */
  isError?: (status: number) => boolean;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']);


/**
 * Least ms between two readings of one keep-alive socket's byte counters. Reading them costs
 * about a third of the instrumentation's time per request (`bytesWritten` copies the socket's
 * write queue each time), and the counters are read by exposition and flushes seconds apart.
 */
export const BYTES_ACCOUNT_MS = 1000;


interface BoundRequestSeries {
  labels: { server: string; method: string; code: string };
  total: CounterSeries;
  /** Bound at the first error with these labels, so successful codes get no error series. */
  errors: CounterSeries | undefined;
}

/** The series of one method: by status code, and for responses that never finished. */
interface MethodSeries {
  byStatus: Map<number, BoundRequestSeries>;
  aborted: BoundRequestSeries | undefined;
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
   * `performance.now()` at each open response's start, same order as `open`. Kept here rather
   * than on the response object: a property added to every ServerResponse changes its hidden
   * class, which costs Node's own code on that object more than the write itself.
   */
  starts: number[];
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
 * @throws {MonitorError} `EMON_INVALID_OPTION` if `server` is not a node:http/https server
 */
export function instrumentHttp(registry: Registry, server: HttpServer, options: HttpInstrumentOptions = {}): () => void {
  if (server === null || typeof server !== 'object' || typeof (server as { on?: unknown }).on !== 'function' || typeof server.listen !== 'function') {
    throw new MonitorError(ErrorCode.InvalidOption, 'instrument.http: expected a node:http or node:https Server');
  }
  const name = options.name ?? 'http';
  const isError = options.isError ?? ((status: number) => status >= 500);
  const total = registry.counter('requests.total', { help: 'HTTP requests served', labels: ['server', 'method', 'code'] });
  const errors = registry.counter('requests.errors', { help: 'HTTP requests that failed (5xx or aborted)', labels: ['server', 'method', 'code'] });
  const latency: HistogramSeries = registry
    .histogram('response_time', { help: 'HTTP response time, from request to response end', unit: 'ms', labels: ['server'] })
    .bind({ server: name });
  const connections: GaugeSeries = registry.gauge('network.connections', { help: 'Open connections', labels: ['server'] }).bind({ server: name });
  const bytesIn: CounterSeries = registry.counter('network.bytes_in', { help: 'Bytes received', unit: 'bytes', labels: ['server'] }).bind({ server: name });
  const bytesOut: CounterSeries = registry.counter('network.bytes_out', { help: 'Bytes sent', unit: 'bytes', labels: ['server'] }).bind({ server: name });
  // Per socket, under a symbol of this instrumentation (two instrumentations of one server stay
  // apart; a property is cheaper than a WeakMap lookup per response): the byte counts accounted
  // so far and the responses started on it and not finished yet.
  const state = Symbol('erlmcp-monitor.socketState');
  type TrackedSocket = Socket & { [state]?: SocketState };
  const stateOf = (socket: TrackedSocket): SocketState => (socket[state] ??= { read: 0, written: 0, at: -Infinity, open: [], starts: [] });
  const account = (socket: TrackedSocket, last: SocketState, at: number) => {
    last.at = at;
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    if (read > last.read) bytesIn.inc(read - last.read);
    if (written > last.written) bytesOut.inc(written - last.written);
    last.read = read;
    last.written = written;
  };

  // Bound counter series per (method, status): a request costs two Map lookups on a string and
  // a number it already has, instead of building a key or a label object.
  const bound = new Map<string, MethodSeries>();
  const bindSeries = (method: string, code: string): BoundRequestSeries => {
    const labels = { server: name, method, code };
    return { labels, total: total.bind(labels), errors: undefined };
  };
  const seriesFor = (method: string, finished: boolean, status: number): BoundRequestSeries => {
    let forMethod = bound.get(method);
    if (forMethod === undefined) bound.set(method, (forMethod = { byStatus: new Map(), aborted: undefined }));
    if (!finished) return (forMethod.aborted ??= bindSeries(method, 'aborted'));
    let entry = forMethod.byStatus.get(status);
    if (entry === undefined) forMethod.byStatus.set(status, (entry = bindSeries(method, String(status))));
    return entry;
  };
  const count = (res: ServerResponse, req: IncomingMessage | undefined, finished: boolean, start: number, end: number) => {
    latency.observe(end - start);
    const method = req?.method !== undefined && METHODS.has(req.method) ? req.method : 'OTHER';
    const series = seriesFor(method, finished, res.statusCode);
    series.total.inc();
    if (!finished || isError(res.statusCode)) (series.errors ??= errors.bind(series.labels)).inc();
  };

  const onConnection = (socket: TrackedSocket) => {
    connections.inc();
    const tracked = stateOf(socket);
    socket.once('close', () => {
      connections.dec();
      const end = performance.now();
      // Responses still open when their connection closed never finished: the client went away.
      const starts = tracked.starts.splice(0);
      tracked.open.splice(0).forEach((res, i) => count(res, res.req, false, starts[i]!, end));
      account(socket, tracked, end);
    });
  };

  // Node's own diagnostics channels instead of listeners: a second 'request' listener and a
  // 'close' listener on every response cost Node's request path about as much as all the work
  // done here (measured by bench/e2e-attribution.ts, mode `listeners`). The channels are
  // published for every server of the process, hence the check of `server`.
  const onStart = (message: unknown) => {
    const { response: res, socket, server: from } = message as ServerMessage;
    if (from !== server) return;
    const tracked = stateOf(socket as TrackedSocket);
    tracked.open.push(res);
    tracked.starts.push(performance.now());
  };
  const onFinish = (message: unknown) => {
    const { request: req, response: res, socket, server: from } = message as ServerMessage;
    if (from !== server) return;
    const end = performance.now();
    const tracked = stateOf(socket as TrackedSocket);
    const open = tracked.open;
    const i = open[0] === res ? 0 : open.indexOf(res);
    if (i < 0) return; // counted as aborted already, or started before the instrumentation
    const start = tracked.starts[i]!;
    if (i === open.length - 1) {
      // The usual case (one response at a time on a connection): no splice, no array allocated.
      open.pop();
      tracked.starts.pop();
    } else {
      open.splice(i, 1);
      tracked.starts.splice(i, 1);
    }
    count(res, req, true, start, end);
    if (end - tracked.at >= BYTES_ACCOUNT_MS) account(socket as TrackedSocket, tracked, end);
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
