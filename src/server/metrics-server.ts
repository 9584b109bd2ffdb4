/**
 * A minimal HTTP endpoint for the metric table: `GET /metrics` (the Prometheus text format or
 * OpenMetrics, by the Accept header; gzip-compressed for `Accept-Encoding: gzip`; streamed as it
 * renders when the source streams, see gzip-response.ts) and `GET /health`. Bound to 127.0.0.1
 * unless told otherwise. The dashboard server serves the same routes among its own.
 *
 * It puts the dashboard server's limits on every request (`request-guard.ts`: URL, header and body
 * sizes, GET/HEAD only, Host and Origin, client deadlines) and its access rule (`access.ts`): with
 * a `token`, `/metrics` requires it (`Authorization: Bearer <token>`, as Prometheus's
 * `authorization` scrape option sends it); a bind off loopback requires a token.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptsGzip, METRICS_VARY, sendChunks, sendGzipped } from '../exposition/gzip-response.js';
import { type ExpositionSource, registrySource } from '../exposition/negotiate.js';
import type { Registry } from '../metrics/registry.js';
import { Access } from './access.js';
import { HttpError, JSON_TYPE } from './http-error.js';
import { checkRequest, createGuardedServer, type HttpTimeouts } from './request-guard.js';

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface MetricsServerOptions {
  /** The bind address. Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** The token `/metrics` requires; `''` = none (allowed only on a loopback bind). Default `''`. */
  token?: string;
  /** Origins besides the server's own whose browser requests are allowed. Default none. */
  allowedOrigins?: readonly string[];
  /** Client deadlines; defaults in `DEFAULT_HTTP_TIMEOUTS` (request-guard.ts). */
  timeouts?: Partial<HttpTimeouts>;
}

/**
 * Starts the endpoint; resolves once it listens.
 * @param source the registry to expose, or an exposition source (e.g. a cluster primary's `exposition`)
 * @param options where to listen and who may scrape (defaults above)
 * @throws {MonitorError} `EMON_INVALID_CONFIG` for a bind off loopback without a token (as the dashboard's)
 * @throws (rejects) the listen error, e.g. `EADDRINUSE`
 */
export async function serveMetrics(
  source: Registry | ExpositionSource,
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const render = typeof source === 'function' ? source : registrySource(source);
  const host = options.host ?? '127.0.0.1';
  const access = new Access({
    token: options.token ?? '',
    allowedOrigins: options.allowedOrigins ?? [],
    host,
    settings: {
      host: 'serveMetrics host',
      token: 'its token',
      origins: 'its allowedOrigins',
      tokenHint: 'pass serveMetrics({ token })',
    },
  });
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      const url = checkRequest(req, access);
      if (url.pathname === '/health') {
        res
          .writeHead(200, { 'content-type': 'application/json', 'x-content-type-options': 'nosniff' })
          .end('{"status":"ok"}\n');
        return;
      }
      if (url.pathname !== '/metrics')
        throw new HttpError(404, `not found: ${url.pathname.slice(0, 100)} (this server has /metrics and /health)`);
      if (!access.hasToken(req.headers, url.searchParams)) {
        throw new HttpError(401, 'a valid token is required: send "Authorization: Bearer <token>"', {
          'www-authenticate': 'Bearer',
        });
      }
      render(req.headers.accept).then(
        (out) => {
          const headers = { 'content-type': out.contentType, vary: METRICS_VARY, 'x-content-type-options': 'nosniff' };
          const gzip = acceptsGzip(req.headers['accept-encoding']);
          if (req.method === 'HEAD') res.writeHead(200, headers).end();
          else if ('chunks' in out) sendChunks(res, 200, headers, out.chunks, gzip);
          else if (gzip) sendGzipped(res, 200, headers, out.body);
          else res.writeHead(200, headers).end(out.body);
        },
        () => refuse(req, res, new HttpError(500, 'exposition failed')),
      );
    } catch (err) {
      refuse(req, res, err instanceof HttpError ? err : new HttpError(500, 'internal error'));
    }
  };
  const server: Server = createGuardedServer(options.timeouts, onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** `{ "error": reason }` with the error's status and headers. */
function refuse(req: IncomingMessage, res: ServerResponse, err: HttpError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: err.message });
  res
    .writeHead(err.status, {
      'content-type': JSON_TYPE,
      'content-length': Buffer.byteLength(body),
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
      ...err.headers,
    })
    .end(req.method === 'HEAD' ? undefined : body);
}
