/**
 * A minimal HTTP endpoint for the metric table: `GET /metrics` (the Prometheus text format or
 * OpenMetrics, by the Accept header; gzip-compressed for `Accept-Encoding: gzip`; streamed as it
 * renders when the source streams, see gzip-response.ts) and `GET /health`. Bound to 127.0.0.1 unless told otherwise.
 * The dashboard server serves the same routes among its own.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { acceptsGzip, METRICS_VARY, sendChunks, sendGzipped } from '../exposition/gzip-response.js';
import { type ExpositionSource, registrySource } from '../exposition/negotiate.js';
import type { Registry } from '../metrics/registry.js';

export interface MetricsServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Starts the endpoint; resolves once it listens. `port` 0 picks a free port.
 * @param source the registry to expose, or an exposition source (e.g. a cluster primary's `exposition`)
 * @param options.host default `127.0.0.1`; options.port default 0
 */
export async function serveMetrics(source: Registry | ExpositionSource, options: { host?: string; port?: number } = {}): Promise<MetricsServer> {
  const render = typeof source === 'function' ? source : registrySource(source);
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/metrics') {
      render(req.headers.accept).then(
        (out) => {
          const headers = { 'content-type': out.contentType, vary: METRICS_VARY };
          const gzip = acceptsGzip(req.headers['accept-encoding']);
          if (req.method === 'HEAD') res.writeHead(200, headers).end();
          else if ('chunks' in out) sendChunks(res, 200, headers, out.chunks, gzip);
          else if (gzip) sendGzipped(res, 200, headers, out.body);
          else res.writeHead(200, headers).end(out.body);
        },
        () => res.writeHead(500, { 'content-type': 'text/plain' }).end('exposition failed\n'),
      );
    } else if (path === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}\n');
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
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
