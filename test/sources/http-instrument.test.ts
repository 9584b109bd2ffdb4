import { Agent, createServer, request, type RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { HTTP_METRICS, instrumentHttp } from '../../src/sources/http-instrument.js';
import { expectMonitorError, until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

async function server(handler: RequestListener) {
  const s = createServer(handler);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise((r) => {
        s.close(() => r());
        s.closeAllConnections();
      }),
  );
  return { server: s, port: (s.address() as AddressInfo).port };
}

function get(port: number, path: string, body?: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: body ? 'POST' : 'GET', agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (d: Buffer) => (bytes += d.length));
      res.on('end', () => resolve({ status: res.statusCode!, bytes }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('instrument.http', () => {
  it('counts real requests, errors, latency, connections and bytes', async () => {
    const { registry } = newRegistry();
    const { server: s, port } = await server((req, res) => {
      if (req.url === '/fail') res.writeHead(500).end('boom');
      else if (req.url === '/slow') setTimeout(() => res.writeHead(200).end('x'.repeat(1000)), 40);
      else res.writeHead(200).end('ok');
    });
    instrumentHttp(registry, s, { name: 'api' });
    await get(port, '/');
    await get(port, '/fail');
    await get(port, '/slow', 'y'.repeat(500));

    const total = registry.require(HTTP_METRICS.requests, 'counter');
    expect(total.get({ server: 'api', method: 'GET', route: '', code: '200' })).toBe(1);
    expect(total.get({ server: 'api', method: 'GET', route: '', code: '500' })).toBe(1);
    expect(total.get({ server: 'api', method: 'POST', route: '', code: '200' })).toBe(1);
    const errors = registry.require(HTTP_METRICS.errors, 'counter');
    expect(errors.get({ server: 'api', method: 'GET', route: '', code: '500' })).toBe(1);
    expect(errors.series()).toHaveLength(1);

    const duration = registry.require(HTTP_METRICS.duration, 'histogram');
    const gets = duration.get({ server: 'api', method: 'GET', route: '' })!;
    const posts = duration.get({ server: 'api', method: 'POST', route: '' })!;
    expect(gets.count).toBe(2);
    expect(posts.count).toBe(1);
    // The /slow response waits a 40 ms timer. libuv schedules timers from the loop time cached at
    // the start of the iteration, which on a loaded machine can be several ms older than the
    // moment the request was timed, so the timer may fire up to that much "early".
    expect(posts.max!).toBeGreaterThanOrEqual(30);

    // Each request used its own connection (agent: false); wait for the sockets to close.
    const conns = registry.require(HTTP_METRICS.connections, 'gauge');
    await until(() => expect(conns.get({ server: 'api' })).toBe(0));
    const bytesIn = registry.require(HTTP_METRICS.receivedBytes, 'counter').get({ server: 'api' })!;
    const bytesOut = registry.require(HTTP_METRICS.sentBytes, 'counter').get({ server: 'api' })!;
    expect(bytesIn).toBeGreaterThan(500); // the POST body plus three request heads
    expect(bytesOut).toBeGreaterThan(1000 + 2 + 4); // bodies plus response heads
  });

  it('counts the bytes of a keep-alive connection at its first response and exactly once it closes', async () => {
    const { registry } = newRegistry();
    const { server: s, port } = await server((_req, res) => res.end('x'.repeat(100)));
    instrumentHttp(registry, s);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let clientSocket: Socket | undefined;
    const call = () =>
      new Promise<void>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
          clientSocket = res.socket;
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', reject);
        req.end();
      });
    const bytesIn = registry.require(HTTP_METRICS.receivedBytes, 'counter');
    const bytesOut = registry.require(HTTP_METRICS.sentBytes, 'counter');
    await call();
    expect(bytesOut.get({ server: 'http' })!).toBeGreaterThan(100);
    await call();
    await call();
    const socket = clientSocket!;
    const conns = registry.require(HTTP_METRICS.connections, 'gauge');
    expect(conns.get({ server: 'http' })).toBe(1); // all three on one connection
    agent.destroy();
    await until(() => expect(conns.get({ server: 'http' })).toBe(0));
    // Whatever was skipped between readings is counted when the socket closes: nothing lost.
    expect(bytesOut.get({ server: 'http' })).toBe(socket.bytesRead);
    expect(bytesIn.get({ server: 'http' })).toBe(socket.bytesWritten);
  });

  it('times a request from its start, the application handler included, and counts only its own server', async () => {
    const { registry } = newRegistry();
    const busyHandler: RequestListener = (_req, res) => {
      const until = performance.now() + 30;
      while (performance.now() < until); // a synchronous handler: 30 ms before the response
      res.end('ok');
    };
    const { server: s, port } = await server(busyHandler);
    const other = await server((_req, res) => res.end('other'));
    instrumentHttp(registry, s);
    await get(port, '/');
    await get(other.port, '/'); // same process, same diagnostics channels, not instrumented
    const latency = registry
      .require(HTTP_METRICS.duration, 'histogram')
      .get({ server: 'http', method: 'GET', route: '' })!;
    expect(latency.count).toBe(1);
    expect(latency.max!).toBeGreaterThanOrEqual(30);
    expect(
      registry.require(HTTP_METRICS.requests, 'counter').get({ server: 'http', method: 'GET', route: '', code: '200' }),
    ).toBe(1);
  });

  it('keeps two instrumentations of one server apart', async () => {
    const a = newRegistry().registry;
    const b = newRegistry().registry;
    const { server: s, port } = await server((_req, res) => res.end('ok'));
    instrumentHttp(a, s);
    const { bytes } = await get(port, '/');
    instrumentHttp(b, s);
    await get(port, '/');
    const out = (r: typeof a) => r.require(HTTP_METRICS.sentBytes, 'counter').get({ server: 'http' }) ?? 0;
    const conns = a.require(HTTP_METRICS.connections, 'gauge');
    await until(() => expect(conns.get({ server: 'http' })).toBe(0));
    expect(out(b)).toBeGreaterThan(bytes); // the second response, head included
    expect(out(a)).toBeGreaterThan(out(b)); // both responses
    expect(
      a.require(HTTP_METRICS.requests, 'counter').get({ server: 'http', method: 'GET', route: '', code: '200' }),
    ).toBe(2);
    expect(
      b.require(HTTP_METRICS.requests, 'counter').get({ server: 'http', method: 'GET', route: '', code: '200' }),
    ).toBe(1);
  });

  it('counts a request whose client went away as aborted and an error', async () => {
    const { registry } = newRegistry();
    let release!: () => void;
    const { server: s, port } = await server((_req, res) => {
      release = () => res.end('late');
    });
    instrumentHttp(registry, s);
    const req = request({ host: '127.0.0.1', port, path: '/hang', agent: false });
    req.on('error', () => {});
    req.end();
    await until(() => expect(release).toBeTypeOf('function'));
    req.destroy();
    const errors = registry.require(HTTP_METRICS.errors, 'counter');
    await until(() => expect(errors.get({ server: 'http', method: 'GET', route: '', code: 'aborted' })).toBe(1));
  });

  it('stops counting after uninstrumenting, and refuses what is not a server', async () => {
    const { registry } = newRegistry();
    const { server: s, port } = await server((_req, res) => res.end('ok'));
    const remove = instrumentHttp(registry, s);
    await get(port, '/');
    remove();
    await get(port, '/');
    expect(
      registry.require(HTTP_METRICS.requests, 'counter').get({ server: 'http', method: 'GET', route: '', code: '200' }),
    ).toBe(1);
    expect(() => instrumentHttp(registry, {} as never)).toThrow(MonitorError);
  });

  it('owns its metric names: a user metric of the same name fails naming instrument.http, whichever comes first', async () => {
    const { registry } = newRegistry();
    // The README's own metric beside the instrumentation: different names, no clash.
    const own = registry.counter('requests.total', { help: 'Requests served', labels: ['method', 'route'] });
    const { server: s, port } = await server((_req, res) => res.end('ok'));
    instrumentHttp(registry, s, { name: 'api' });
    own.inc({ method: 'GET', route: '/api' });
    await get(port, '/');
    expect(
      registry.require(HTTP_METRICS.requests, 'counter').get({ server: 'api', method: 'GET', route: '', code: '200' }),
    ).toBe(1);
    expect(Object.values(HTTP_METRICS).map((name) => registry.ownerOf(name))).toEqual(Array(6).fill('instrument.http'));
    expectMonitorError(
      () => registry.histogram(HTTP_METRICS.duration, { unit: 'ms', labels: ['route'] }),
      ErrorCode.MetricConflict,
      'metric "http.server.duration" is owned by instrument.http; choose another name for your metric (instrument.http\'s names are documented with it)',
    );
    // A second server into the same table shares the metrics.
    const other = await server((_req, res) => res.end('ok'));
    instrumentHttp(registry, other.server, { name: 'admin' });
    await get(other.port, '/');
    expect(
      registry
        .require(HTTP_METRICS.requests, 'counter')
        .get({ server: 'admin', method: 'GET', route: '', code: '200' }),
    ).toBe(1);

    // The application took a name first: instrument.http refuses to share it, and says whose it is.
    const early = newRegistry().registry;
    early.counter(HTTP_METRICS.requests, { labels: ['server', 'method', 'route', 'code'] });
    early.gauge(HTTP_METRICS.connections);
    expectMonitorError(
      () => instrumentHttp(early, s),
      ErrorCode.MetricConflict,
      'instrument.http needs metric name "http.server.requests", which is registered already by the application: rename that metric (instrument.http owns "http.server.requests")',
    );
    // Refused as a whole: none of its other metrics were registered.
    expect(early.metrics().map((m) => m.name)).toEqual([
      'monitor.series_dropped',
      HTTP_METRICS.requests,
      HTTP_METRICS.connections,
    ]);
  });
});
