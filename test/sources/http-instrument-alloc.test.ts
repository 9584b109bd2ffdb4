/**
 * What `instrument.http` allocates per request, counted in bytes of heap, not timed: real requests
 * on 127.0.0.1 give the messages Node publishes (real IncomingMessage, ServerResponse, socket and
 * server), and the instrumentation's subscribers then run on them again and again between two
 * readings of the heap, with no collection possible in between (a full collection empties the
 * young generation first, and one window allocates far less than it holds). Node's own payload
 * objects of the two channels are built before the window: they are Node's, paid by any subscriber.
 * Only the young generation is read: `fastifyRoute`'s WeakMap table lives in the old one, where
 * concurrent sweeping moves the figure by itself (its entry per live request goes with the request).
 */
import diagnostics from 'node:diagnostics_channel';
import { Agent, createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { fastifyRoute, type FastifyRequestFields, type FastifyRouteFields } from '../../src/sources/http-routes.js';
import { HTTP_METRICS, instrumentHttp, type RouteOf } from '../../src/sources/http-instrument.js';
import { routeTable } from '../../src/sources/http-routes.js';
import { newRegistry } from '../metrics/table-fixture.js';

/**
 * Heap bytes per request the instrumentation may allocate, with or without a route option: its two
 * clock readings (`performance.now()` returns a fresh 16-byte heap number on Node 20) and, where
 * V8 declines to inline the histogram's `observe`, the duration boxed for that call (16 more),
 * with 8 bytes of slack for the fraction a window's own bookkeeping adds. Any object, array or
 * closure put back on the path (32 bytes and up) passes it.
 */
export const BYTES_PER_REQUEST_BUDGET = 56;

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Requests per measured window, windows measured, warm-up rounds before them. */
const WINDOW = 2_000;
const WINDOWS = 20;
const WARM_UP = 20_000;

/** Bytes in the young generation, where every short-lived object starts (the old one is swept concurrently: its figure moves by itself). */
function youngBytes(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;
}

/**
 * Young-generation bytes allocated per `step(i)` call, net of an empty loop: the least over
 * `WINDOWS` windows of `WINDOW` calls each (a window allocates < 1 MB, and each starts right after
 * a full collection, which empties the young generation, so no collection can fall inside one and
 * hide allocation). The least is the steady state: unoptimised code boxes doubles, and V8
 * optimises on a background thread that a loaded machine can hold back, so the windows are apart
 * by a turn of the event loop and the earliest may still run unoptimised code.
 */
async function bytesPerCall(step: (i: number) => void): Promise<number> {
  const window = (f: (i: number) => void, from: number): number => {
    gc();
    const before = youngBytes();
    for (let i = from; i < from + WINDOW; i++) f(i);
    return youngBytes() - before;
  };
  const empty = (_i: number): void => undefined;
  for (let i = 0; i < WARM_UP; i++) step(i);
  for (let i = 0; i < WARM_UP; i++) empty(i);
  let least = Infinity;
  for (let w = 0; w < WINDOWS; w++) {
    await new Promise((r) => setTimeout(r, 5));
    const net = window(step, WARM_UP + w * WINDOW) - window(empty, 0);
    least = Math.min(least, net);
  }
  return least / WINDOW;
}

interface ServerMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
  server: Server;
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
});

/** A node:http server on 127.0.0.1 answering `count` keep-alive GETs to `/users/<i>`; resolves with Node's published start messages. */
async function realMessages(
  count: number,
  instrument: (server: Server) => void,
): Promise<{ server: Server; messages: ServerMessage[] }> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
  instrument(server);
  const messages: ServerMessage[] = [];
  const capture = (m: unknown) => {
    if ((m as ServerMessage).server === server) messages.push(m as ServerMessage);
  };
  diagnostics.subscribe('http.server.request.start', capture);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const agent = new Agent({ keepAlive: true, maxSockets: 2 });
  closers.push(async () => {
    diagnostics.unsubscribe('http.server.request.start', capture);
    agent.destroy();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
  const port = (server.address() as AddressInfo).port;
  const get = (path: string) =>
    new Promise<void>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  for (let i = 0; i < count; i += 2) await Promise.all([get(`/users/${i}`), get(`/users/${i + 1}`)]);
  return { server, messages };
}

const start = diagnostics.channel('http.server.request.start');
const finish = diagnostics.channel('http.server.response.finish');

/** Replays real request `m` through the instrumentation: Node's start and finish publications. */
function replay(m: ServerMessage): void {
  start.publish(m);
  finish.publish(m);
}

describe('instrument.http allocation per request', () => {
  it.each([
    ['without a route option', undefined],
    ['with routeTable', routeTable(['/health', '/users/:id'])],
  ] as [string, RouteOf | undefined][])('node:http %s stays within the budget per request', async (_name, route) => {
    const { registry } = newRegistry();
    const { messages } = await realMessages(200, (server) =>
      instrumentHttp(registry, server, route === undefined ? {} : { route }),
    );
    expect(messages).toHaveLength(200);
    const requests = registry.require(HTTP_METRICS.requests, 'counter');
    const labels = { server: 'http', method: 'GET', route: route === undefined ? '' : '/users/:id', code: '200' };
    expect(requests.get(labels)).toBe(200);

    const bytes = await bytesPerCall((i) => replay(messages[i % messages.length]!));
    // Every replay was counted: the measured loop ran the path a real request takes.
    expect(requests.get(labels)).toBe(200 + WARM_UP + WINDOWS * WINDOW);
    console.info(`instrument.http ${_name}: ${bytes.toFixed(2)} B/request`);
    expect(bytes).toBeLessThanOrEqual(BYTES_PER_REQUEST_BUDGET);
  });

  it('Fastify with fastifyRoute stays within its budget per request', async () => {
    const { registry } = newRegistry();
    // fastifyRoute's wrapper of a route's handler (from its onRoute hook), called as Fastify calls it, on a distinct raw request each time.
    let onRoute: ((routeOptions: FastifyRouteFields) => void) | undefined;
    const route = fastifyRoute({
      addHook: (name, h) => {
        if (name === 'onRoute') onRoute = h;
      },
    });
    const routeOptions: FastifyRouteFields = { url: '/users/:id', handler: () => undefined };
    onRoute!(routeOptions);
    const handler = routeOptions.handler as (request: FastifyRequestFields, reply: unknown) => void;
    const { messages } = await realMessages(200, (server) => instrumentHttp(registry, server, { route }));
    const total = WARM_UP + WINDOWS * WINDOW;
    // Distinct raw requests, made before measuring (Node makes one per request); each carries a real one's fields.
    const raws = Array.from({ length: total }, (_, i) => {
      const m = messages[i % messages.length]!;
      return {
        message: { ...m, request: Object.create(m.request) as IncomingMessage },
        request: {} as FastifyRequestFields,
        reply: {} as { raw: ServerResponse },
      };
    });
    for (const r of raws) {
      r.message.response = Object.create(r.message.response) as ServerResponse;
      Object.defineProperty(r.message.response, 'req', { value: r.message.request });
      r.request = { raw: r.message.request };
      r.reply = { raw: r.message.response };
    }
    const bytes = await bytesPerCall((i) => {
      const r = raws[i]!;
      start.publish(r.message);
      handler(r.request, r.reply);
      finish.publish(r.message);
    });
    const requests = registry.require(HTTP_METRICS.requests, 'counter');
    expect(requests.get({ server: 'http', method: 'GET', route: '/users/:id', code: '200' })).toBe(total);
    console.info(`instrument.http with fastifyRoute: ${bytes.toFixed(2)} B/request`);
    expect(bytes).toBeLessThanOrEqual(BYTES_PER_REQUEST_BUDGET);
  });
});
