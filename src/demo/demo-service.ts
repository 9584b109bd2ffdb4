/**
 * The demo's instrumented service: a small node:http API on 127.0.0.1 with fast, slow and flaky
 * routes, and a bounded loopback load generator that exercises it.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface DemoService {
  readonly server: Server;
  readonly url: string;
  close(): Promise<void>;
}

/** Random delay in [min, max) ms. */
function delay(min: number, max: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, min + Math.random() * (max - min)));
}

export async function startDemoService(port = 0): Promise<DemoService> {
  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- it only awaits delay(), which never rejects
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    switch (path) {
      case '/api/items':
        await delay(1, 30);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ items: [1, 2, 3] }));
        return;
      case '/api/slow':
        await delay(150, 900);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}');
        return;
      case '/api/flaky':
        await delay(5, 60);
        if (Math.random() < 0.25)
          res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":"upstream unavailable"}');
        else res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        return;
      case '/':
        res
          .writeHead(200, { 'content-type': 'text/plain' })
          .end('erlmcp-monitor demo service: /api/items /api/slow /api/flaky\n');
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    server,
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface LoadOptions {
  /** Requests per second, roughly (default 20). */
  rate?: number;
  /** Stops after this many ms (default 30 minutes). */
  durationMs?: number;
  /** Stops after this many requests (default rate * duration). */
  maxRequests?: number;
}

/** A bounded loopback load: a mix of routes at `rate` req/s; stops by itself or when `stop()` is called. */
export function startLoad(baseUrl: string, options: LoadOptions = {}): { stop(): void; done: Promise<number> } {
  const rate = options.rate ?? 20;
  const durationMs = options.durationMs ?? 30 * 60_000;
  const maxRequests = options.maxRequests ?? Math.ceil((rate * durationMs) / 1000);
  const routes = [
    '/api/items',
    '/api/items',
    '/api/items',
    '/api/items',
    '/api/flaky',
    '/api/flaky',
    '/api/slow',
    '/missing',
  ];
  let sent = 0;
  let finish!: (n: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  const deadline = setTimeout(() => stop(), durationMs);
  const timer = setInterval(() => {
    if (sent >= maxRequests) {
      stop();
      return;
    }
    sent++;
    const route = routes[Math.floor(Math.random() * routes.length)]!;
    const req = request(`${baseUrl}${route}`, { agent: false }, (res) => res.resume());
    req.on('error', () => {});
    req.end();
  }, 1000 / rate);
  function stop() {
    clearInterval(timer);
    clearTimeout(deadline);
    finish(sent);
  }
  return { stop, done };
}
