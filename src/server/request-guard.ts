/**
 * What every HTTP server of this package checks before a route sees a request (the dashboard's
 * `HttpServer` and `serveMetrics`), in order: size ({@link MAX_URL_BYTES}, {@link MAX_BODY_BYTES},
 * {@link MAX_HEADER_BYTES}), method (GET/HEAD only), then `Host` and `Origin` (`access.ts`).
 * Oversized bodies close the connection rather than being read; slow clients get a 408
 * ({@link HttpTimeouts}). Status codes per check: docs/design-notes.md.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Access } from './access.js';
import { HttpError, rawAnswer } from './http-error.js';

/** Longest request URL, bytes. */
export const MAX_URL_BYTES = 4096;
/** Largest request body accepted (and ignored), bytes. */
export const MAX_BODY_BYTES = 1024;
/** Largest request header block, bytes (a 431 above it). */
export const MAX_HEADER_BYTES = 16 * 1024;

/** How long a client may take; every one has a default ({@link DEFAULT_HTTP_TIMEOUTS}). */
export interface HttpTimeouts {
  /** From the connection (or the previous request) until the request's headers are complete, ms. Default 10000. */
  headersMs: number;
  /** Until the whole request is received, ms. Default 30000. */
  requestMs: number;
  /** An idle keep-alive connection is closed after this, ms. Default 5000. */
  keepAliveMs: number;
  /** How often the two deadlines above are checked, ms: a slow client is cut at most this late. Default 1000. */
  checkIntervalMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({
  headersMs: 10_000,
  requestMs: 30_000,
  keepAliveMs: 5000,
  checkIntervalMs: 1000,
});

/**
 * An HTTP server with the header limit and the client deadlines set, that answers `CONNECT` with
 * a 405 and a request its parser refused (or a client out of time) with its status.
 * @param timeouts client deadlines; defaults in {@link DEFAULT_HTTP_TIMEOUTS}
 * @param onRequest the request handler (call {@link checkRequest} first)
 * @param onRefused told the status of each request answered here, for counting
 */
export function createGuardedServer(
  timeouts: Partial<HttpTimeouts> | undefined,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  onRefused: (status: number) => void = () => {},
): Server {
  const t = { ...DEFAULT_HTTP_TIMEOUTS, ...timeouts };
  // Node's own check runs every 30 s by default: a slowloris would hold a socket 40 s past its deadline.
  // requireHostHeader off: Node's own refusal is a bodiless 400; checkCaller answers with the reason.
  const server = createServer(
    { maxHeaderSize: MAX_HEADER_BYTES, connectionsCheckingInterval: t.checkIntervalMs, requireHostHeader: false },
    onRequest,
  );
  server.keepAliveTimeout = t.keepAliveMs;
  server.headersTimeout = t.headersMs;
  server.requestTimeout = t.requestMs;
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    onRefused(405);
    socket.end(
      rawAnswer(new HttpError(405, `method ${req.method} not allowed (allowed: GET, HEAD)`, { allow: 'GET, HEAD' })),
    );
  });
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Duplex) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const refused = parserError(err);
    onRefused(refused.status);
    socket.end(rawAnswer(refused));
  });
  return server;
}

/**
 * Steps 1-3 of the module header; drains an accepted (small) body.
 * @returns the parsed request URL
 * @throws {HttpError} 413, 414, 405, 403, 400
 */
export function checkRequest(req: IncomingMessage, access: Access): URL {
  const raw = req.url ?? '/';
  if (Buffer.byteLength(raw) > MAX_URL_BYTES) throw new HttpError(414, `the URL is longer than ${MAX_URL_BYTES} bytes`);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    throw new HttpError(405, `method ${req.method} not allowed (allowed: GET, HEAD)`, { allow: 'GET, HEAD' });
  }
  const length = Number(req.headers['content-length'] ?? 0);
  if (req.headers['transfer-encoding'] !== undefined || !(length <= MAX_BODY_BYTES)) {
    // Closing rather than reading a body that may be gigabytes long (or chunked without end).
    throw new HttpError(
      413,
      `request bodies are not accepted (GET only; at most ${MAX_BODY_BYTES} bytes are ignored)`,
      { connection: 'close' },
    );
  }
  req.resume();
  checkCaller(req, access);
  return parseUrl(raw);
}

/** Step 3 of the module header. @throws {HttpError} 400 without a Host header, 403 for a foreign Host or Origin */
export function checkCaller(req: IncomingMessage, access: Access): void {
  if (req.headers.host === undefined)
    throw new HttpError(400, 'the request has no Host header (HTTP/1.1 requires one)');
  if (!access.hostAllowed(req.headers)) {
    const host = String(req.headers.host ?? '').slice(0, 100);
    throw new HttpError(
      403,
      `host ${JSON.stringify(host)} is not this server (use 127.0.0.1 or localhost, or add ${JSON.stringify(`http://${host}`)} to ${access.settings.origins})`,
    );
  }
  if (!access.originAllowed(req.headers)) {
    throw new HttpError(
      403,
      `origin ${JSON.stringify(String(req.headers.origin).slice(0, 100))} is not allowed (add it to ${access.settings.origins})`,
    );
  }
}

/** The request target as a URL. @throws {HttpError} 400 when it cannot be parsed */
export function parseUrl(raw: string): URL {
  try {
    return new URL(raw, 'http://dashboard.invalid');
  } catch {
    throw new HttpError(400, 'the request URL cannot be parsed');
  }
}

/** What to answer a request Node's parser refused, or a client that ran out of time. */
function parserError(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): HttpError {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      // The parser counts the request line with the headers; a target that long alone is a 414.
      const start = err.rawPacket?.subarray(0, MAX_URL_BYTES + 16).toString('latin1') ?? '';
      if (/^[A-Z]{1,16} [^\s]+$/.test(start) && start.length > MAX_URL_BYTES)
        return new HttpError(414, `the URL is longer than ${MAX_URL_BYTES} bytes`);
      return new HttpError(431, `the request headers are larger than ${MAX_HEADER_BYTES} bytes`);
    }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return new HttpError(408, 'the request took too long to arrive (slow client): connection closed');
    default:
      return new HttpError(
        400,
        `malformed HTTP request (${String(err.code ?? 'parse error').slice(0, 40)}): send "GET <path> HTTP/1.1" with valid headers`,
      );
  }
}
