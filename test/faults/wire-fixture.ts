/**
 * Wire-level tools for the bad-input fault suites: raw HTTP over `node:net` (so a test can send
 * what `fetch` and `http.request` refuse to: raw bytes, bad request lines, trickled headers),
 * a percent-encoder that also encodes lone surrogates, and snapshots of the dashboard's state so
 * a test can prove bad input changed nothing.
 */
import net from 'node:net';
import { flushTable } from '../../src/store/table-store.js';
import type { Registry } from '../../src/metrics/registry.js';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { tableState } from '../metrics/table-fixture.js';

/** One parsed HTTP response. */
export interface RawResponse {
  status: number;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: string;
  /** Whether the server closed the connection right after (or instead of) answering. */
  closedByServer: boolean;
}

/** How long a test request may take before the test calls it a hang. */
export const REQUEST_TIMEOUT_MS = 5000;

/**
 * Sends `data` on a fresh connection and parses the first response.
 * @param port the server's port on 127.0.0.1
 * @param data the request bytes, or chunks written `gapMs` apart
 * @param options.timeoutMs a response must arrive within this (default {@link REQUEST_TIMEOUT_MS}): else rejects "hang"
 * @param options.head whether it was a HEAD request (no body follows the headers)
 * @returns status 0 when the server closed without answering
 */
export function rawRequest(
  port: number,
  data: string | Buffer | (string | Buffer)[],
  options: { timeoutMs?: number; head?: boolean; gapMs?: number } = {},
): Promise<RawResponse> {
  const timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let settled = false;
    let trickle: NodeJS.Timeout | undefined;
    const finish = (err: Error | undefined, res?: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(trickle);
      socket.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `hang: no complete answer within ${timeoutMs} ms (got ${JSON.stringify(buf.toString('latin1').slice(0, 200))})`,
          ),
        ),
      timeoutMs,
    );
    const tryParse = (closed: boolean): RawResponse | undefined => {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0)
        return closed ? { status: 0, headers: {}, body: buf.toString('latin1'), closedByServer: true } : undefined;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0]!)?.[1] ?? 0);
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      if (!options.head && /chunked/i.test(headers['transfer-encoding'] ?? '')) {
        const body = dechunk(buf.subarray(end + 4));
        if (body === undefined)
          return closed
            ? { status, headers, body: buf.subarray(end + 4).toString('utf8'), closedByServer: true }
            : undefined;
        return {
          status,
          headers,
          body: body.toString('utf8'),
          closedByServer: closed || /close/i.test(headers.connection ?? ''),
        };
      }
      const length =
        options.head || status === 101 ? 0 : Number(headers['content-length'] ?? (closed ? buf.length - end - 4 : NaN));
      if (!Number.isFinite(length)) return undefined;
      if (buf.length - end - 4 < length)
        return closed
          ? { status, headers, body: buf.subarray(end + 4).toString('utf8'), closedByServer: true }
          : undefined;
      return {
        status,
        headers,
        body: buf.subarray(end + 4, end + 4 + length).toString('utf8'),
        closedByServer: closed || /close/i.test(headers.connection ?? ''),
      };
    };
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const res = tryParse(false);
      if (res !== undefined) finish(undefined, res);
    });
    socket.on('close', () => finish(undefined, tryParse(true)));
    socket.on('error', () => {
      /* a reset after the server answered and closed: 'close' follows */
    });
    const chunks = Array.isArray(data) ? [...data] : [data];
    const writeNext = () => {
      const chunk = chunks.shift();
      if (chunk === undefined || settled || socket.destroyed) return;
      socket.write(chunk);
      if (chunks.length > 0) trickle = setTimeout(writeNext, options.gapMs ?? 0);
    };
    socket.once('connect', writeNext);
  });
}

/** The body of a chunked transfer coding (a streamed /metrics), or `undefined` until its last chunk has come. */
function dechunk(raw: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  for (let at = 0; ;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const size = Number.parseInt(raw.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (raw.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(raw.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}

/**
 * A GET (or `method`) request for `target` as raw text, closing after the answer.
 * @param target the request target exactly as sent (not encoded here)
 */
export function requestText(
  port: number,
  target: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): string {
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, connection: 'close', ...options.headers };
  if (
    options.body !== undefined &&
    headers['content-length'] === undefined &&
    headers['transfer-encoding'] === undefined
  )
    headers['content-length'] = String(Buffer.byteLength(options.body));
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  return `${options.method ?? 'GET'} ${target} HTTP/1.1\r\n${lines.join('\r\n')}\r\n\r\n${options.body ?? ''}`;
}

/** GETs `target` (sent as is) and parses the answer. */
export function get(port: number, target: string, headers?: Record<string, string>): Promise<RawResponse> {
  return rawRequest(port, requestText(port, target, { headers }));
}

/**
 * Percent-encodes every UTF-16 code unit that is not unreserved; a lone surrogate becomes the
 * three bytes its (invalid) UTF-8 encoding would have, e.g. `%ED%A0%80`, which
 * `encodeURIComponent` refuses to produce.
 */
export function wireEncode(text: string): string {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const isHigh = c >= 0xd800 && c <= 0xdbff;
    const next = text.charCodeAt(i + 1);
    if (isHigh && next >= 0xdc00 && next <= 0xdfff) {
      out += encodeURIComponent(text.slice(i, i + 2));
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      out += `%${(0xe0 | (c >> 12)).toString(16).toUpperCase()}%${(0x80 | ((c >> 6) & 0x3f)).toString(16).toUpperCase()}%${(0x80 | (c & 0x3f)).toString(16).toUpperCase()}`;
    } else out += encodeURIComponent(text[i]!);
  }
  return out;
}

/** A test table: a plain gauge, a labelled gauge, a counter and a histogram, with history in the store. */
export async function seedTable(registry: Registry, store: MetricStore, t0: number): Promise<void> {
  const cpu = registry.gauge('system.cpu');
  const latency = registry.gauge('perf.latency', { labels: ['percentile'] });
  const requests = registry.counter('http.requests', { labels: ['code'] });
  const rt = registry.histogram('response_time');
  for (let i = 0; i < 10; i++) {
    cpu.set(i);
    latency.set({ percentile: 'p95' }, 100 + i);
    requests.inc({ code: '200' }, i);
    rt.observe(i * 3);
    await flushTable(registry, store, t0 + i * 1000);
  }
}

/** Everything a bad request must not change: the table (values included) and the store's series and history. */
export function dashboardState(registry: Registry, store: MetricStore, t0: number): Promise<string> {
  return renderPrometheusText(registry).then((text) => {
    const defs = store.seriesDefs();
    const history = defs.map((d) => [d.key, store.queryRange(d.id, 0, t0 + 3_600_000, 1000)]);
    return JSON.stringify({ table: tableState(registry), text, defs, history });
  });
}
