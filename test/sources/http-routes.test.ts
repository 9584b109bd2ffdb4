import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import express from 'express';
import Fastify, { type preHandlerHookHandler } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { Registry } from '../../src/metrics/registry.js';
import { HTTP_METRICS, instrumentHttp, type RouteOf } from '../../src/sources/http-instrument.js';
import { expressRoute, fastifyRoute, routeTable } from '../../src/sources/http-routes.js';
import { expectMonitorError, memoryLogger, until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(
    () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  );
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function nodeServer(handler: RequestListener): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  return { server, url: await listen(server) };
}

/** Sends the requests one after the other and waits for each whole answer. */
async function send(base: string, requests: readonly (string | [method: string, path: string])[]): Promise<number[]> {
  const statuses: number[] = [];
  for (const r of requests) {
    const [method, path] = typeof r === 'string' ? ['GET', r] : r;
    const res = await fetch(base + path, { method });
    await res.arrayBuffer();
    statuses.push(res.status);
  }
  return statuses;
}

/** `route code → count` of the request counter, e.g. `{ 'GET /users/:id 200': 3 }`. */
function requestsByRoute(registry: Registry): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of registry.require(HTTP_METRICS.requests, 'counter').series())
    out[`${s.labels.method} ${s.labels.route} ${s.labels.code}`] = s.value;
  return out;
}

/** Every `route` label value of every instrument.http metric that has one. */
function routeLabels(registry: Registry): Set<string> {
  const routes = new Set<string>();
  for (const name of [HTTP_METRICS.requests, HTTP_METRICS.errors, HTTP_METRICS.duration]) {
    for (const s of registry.get(name)?.series() ?? []) routes.add(s.labels.route!);
  }
  return routes;
}

const req = (url: string) => ({ url }) as IncomingMessage;

describe('routeTable', () => {
  const route = routeTable(['/', '/health', '/users/:id', '/users/:id/posts/:post', '/users/me', '/static/*']);
  it('matches literal paths, :param segments and a final *, ignoring the query and a trailing slash', () => {
    const res = undefined as never;
    expect(route(req('/'), res)).toBe('/');
    expect(route(req('/health?verbose=1'), res)).toBe('/health');
    expect(route(req('/users/42'), res)).toBe('/users/:id');
    expect(route(req('/users/42/'), res)).toBe('/users/:id');
    expect(route(req('/users/42/posts/7'), res)).toBe('/users/:id/posts/:post');
    expect(route(req('/users/me'), res)).toBe('/users/me'); // a literal wins over a pattern listed before it
    expect(route(req('/static'), res)).toBe('/static/*');
    expect(route(req('/static/css/app.css'), res)).toBe('/static/*');
  });

  it('matches nothing else: a missing segment, an extra one, an empty parameter', () => {
    const res = undefined as never;
    for (const url of [
      '/users',
      '/users//posts/1',
      '/users/42/posts',
      '/users/42/comments/1',
      '/healthz',
      '/nope',
      '*',
      'http://x/health',
    ]) {
      expect(route(req(url), res)).toBeUndefined();
    }
  });

  it('refuses patterns that are not paths, naming the pattern and what is allowed', () => {
    expectMonitorError(
      () => routeTable(['/ok', 'users/:id']),
      ErrorCode.InvalidOption,
      'routeTable: pattern 1 "users/:id" must be a string starting with "/" (expected e.g. "/users/:id" or "/static/*")',
    );
    expectMonitorError(
      () => routeTable(['/a/*/b']),
      ErrorCode.InvalidOption,
      /pattern 0 "\/a\/\*\/b" may have "\*" only as its last segment/,
    );
    expectMonitorError(() => routeTable(['/a/:']), ErrorCode.InvalidOption, /":" segment without a parameter name/);
    expectMonitorError(() => routeTable(['/a?b=1']), ErrorCode.InvalidOption, /without query/);
    expectMonitorError(
      () => routeTable('/users/:id' as never),
      ErrorCode.InvalidOption,
      /expected an array of path patterns/,
    );
  });
});

describe('instrument.http route labels', () => {
  it('labels node:http requests by their route-table template, unmatched ones as "unmatched", never by URL', async () => {
    const { registry } = newRegistry();
    const { server, url } = await nodeServer((request, res) => {
      if (request.url === '/users/3') res.writeHead(500).end('boom');
      else if (request.url?.startsWith('/users/') || request.url === '/health') res.end('ok');
      else res.writeHead(404).end('no');
    });
    instrumentHttp(registry, server, { name: 'api', route: routeTable(['/health', '/users/:id']) });
    await send(url, [
      '/users/1',
      '/users/2?tab=posts',
      '/users/3',
      ['POST', '/users/4'],
      '/health',
      '/nope/1',
      '/nope/2',
      '/%2e%2e/etc',
    ]);
    expect(requestsByRoute(registry)).toEqual({
      'GET /users/:id 200': 2,
      'GET /users/:id 500': 1,
      'POST /users/:id 200': 1,
      'GET /health 200': 1,
      'GET unmatched 404': 3,
    });
    expect(
      registry
        .require(HTTP_METRICS.errors, 'counter')
        .get({ server: 'api', method: 'GET', route: '/users/:id', code: '500' }),
    ).toBe(1);
    const duration = registry.require(HTTP_METRICS.duration, 'histogram');
    expect(duration.get({ server: 'api', method: 'GET', route: '/users/:id' })!.count).toBe(3);
    expect(duration.get({ server: 'api', method: 'GET', route: 'unmatched' })!.count).toBe(3);
    expect([...routeLabels(registry)].sort()).toEqual(['/health', '/users/:id', 'unmatched']);
  });

  it('labels Express requests by mount path + route path, and a 404 as "unmatched"', async () => {
    const { registry } = newRegistry();
    const app = express();
    const users = express.Router();
    users.get('/:id', (request, res) => void res.send(`user ${request.params.id}`));
    users.get('/:id/fail', () => {
      throw new Error('boom');
    });
    app.use('/api/users', users);
    app.get('/health', (_request, res) => void res.send('ok'));
    const server = createServer(app);
    instrumentHttp(registry, server, { name: 'express', route: expressRoute });
    const url = await listen(server);
    expect(
      await send(url, ['/api/users/1', '/api/users/2', '/api/users/3/fail', '/health', '/api/nothing', '/other']),
    ).toEqual([200, 200, 500, 200, 404, 404]);
    expect(requestsByRoute(registry)).toEqual({
      'GET /api/users/:id 200': 2,
      // The error left the router, and Express resets baseUrl before its final handler answers:
      // the declared mount path, found in the app's router stack, still labels it.
      'GET /api/users/:id/fail 500': 1,
      'GET /health 200': 1,
      'GET unmatched 404': 2,
    });
    expect([...routeLabels(registry)].some((r) => /\/users\/\d/.test(r))).toBe(false);
  });

  it('labels a router mounted on a path with parameters by its declared path: a long URL is no label and no uncaught exception', async () => {
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => void uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    closers.push(async () => void process.off('uncaughtException', onUncaught));
    const { registry, logger } = newRegistry();
    const app = express();
    const items = express.Router();
    items.get('/items', (_request, res) => void res.send('items'));
    const deep = express.Router();
    deep.get('/:n', (_request, res) => void res.send('deep'));
    items.use('/deep/:d', deep);
    app.use('/x/:id', items);
    const server = createServer(app);
    instrumentHttp(registry, server, { name: 'express', route: expressRoute }, logger);
    const url = await listen(server);
    const long = 'a'.repeat(3000);
    expect(await send(url, [`/x/${long}/items`, '/x/1/items', `/x/2/deep/${long}/3`])).toEqual([200, 200, 200]);
    expect(requestsByRoute(registry)).toEqual({ 'GET /x/:id/items 200': 2, 'GET /x/:id/deep/:d/:n 200': 1 });
    expect(uncaught).toEqual([]);
  });

  it('labels Fastify requests by the declared route url, and a 404 as "unmatched"', async () => {
    const { registry } = newRegistry();
    const app = Fastify();
    closers.push(() => app.close());
    // Before listen: fastifyRoute adds an onRequest hook.
    instrumentHttp(registry, app.server, { name: 'fastify', route: fastifyRoute(app) });
    app.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id }));
    app.post('/users', async (_request, reply) => reply.code(201).send({ ok: true }));
    app.get('/fail', async () => {
      throw new Error('boom');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect(await send(url, ['/users/1', '/users/2?x=1', ['POST', '/users'], '/fail', '/missing/7'])).toEqual([
      200, 200, 201, 500, 404,
    ]);
    expect(requestsByRoute(registry)).toEqual({
      'GET /users/:id 200': 2,
      'POST /users 201': 1,
      'GET /fail 500': 1,
      'GET unmatched 404': 1,
    });
    expect(
      registry
        .require(HTTP_METRICS.errors, 'counter')
        .get({ server: 'fastify', method: 'GET', route: '/fail', code: '500' }),
    ).toBe(1);
  });

  it("labels Fastify answers given before the handler by their route: hooks (401), validation and body errors; the app's own error handler and onError hooks run once", async () => {
    const { registry } = newRegistry();
    const app = Fastify();
    closers.push(() => app.close());
    instrumentHttp(registry, app.server, { name: 'fastify', route: fastifyRoute(app) });
    const seen = { errorHandler: 0, onError: 0 };
    app.addHook('onError', async () => {
      seen.onError++;
    });
    app.get('/open/:id', async () => 'open');
    // A route-level preHandler that answers itself (no error): the handler never runs.
    app.get(
      '/own-auth/:id',
      {
        preHandler: (_request, reply, done) => {
          reply
            .code(401)
            .send({ denied: true })
            .then(() => {
              done();
            }, done);
        },
      },
      async () => 'never',
    );
    app.post(
      '/items',
      { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } },
      async (_request, reply) => reply.code(201).send({ ok: true }),
    );
    await app.register(async (scope) => {
      // A plugin-scoped onRequest hook answering 401 for every route of the scope.
      scope.addHook('onRequest', async (request, reply) => {
        if (request.headers.authorization === undefined) return reply.code(403).send({ denied: true });
      });
      scope.setErrorHandler((error, _request, reply) => {
        seen.errorHandler++;
        return reply.code(418).send({ handled: (error as Error).message });
      });
      scope.get('/admin/:id', async () => 'admin');
      scope.get('/admin-fail/:id', async () => {
        throw new Error('inner');
      });
    });
    app.addHook('preHandler', async (request, reply) => {
      if (request.url.startsWith('/open/locked')) return reply.code(401).send({ denied: true });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const post = async (body: string, type = 'application/json') => {
      const res = await fetch(`${base}/items`, { method: 'POST', body, headers: { 'content-type': type } });
      await res.arrayBuffer();
      return res.status;
    };
    expect(
      await send(base, ['/open/1', '/open/locked', '/own-auth/1', '/admin/1', '/nowhere', ['HEAD', '/open/2']]),
    ).toEqual([200, 401, 401, 403, 404, 200]);
    const authorized = await fetch(`${base}/admin-fail/2`, { headers: { authorization: 'x' } });
    await authorized.arrayBuffer();
    expect(authorized.status).toBe(418);
    expect([
      await post('{"name":"a"}'),
      await post('{}'),
      await post('{not json'),
      await post('x', 'text/strange'),
    ]).toEqual([201, 400, 400, 415]);
    expect(requestsByRoute(registry)).toEqual({
      'GET /open/:id 200': 1,
      'GET /open/:id 401': 1,
      'HEAD /open/:id 200': 1,
      'GET /own-auth/:id 401': 1,
      'GET /admin/:id 403': 1,
      'GET /admin-fail/:id 418': 1,
      'GET unmatched 404': 1,
      'POST /items 201': 1,
      'POST /items 400': 2,
      'POST /items 415': 1,
    });
    expect(seen).toEqual({ errorHandler: 1, onError: 4 });
  });

  it('labels errors before the handler on routes with onError hooks of their own, also one a later onRoute hook sets, and runs those hooks once', async () => {
    const { registry } = newRegistry();
    const app = Fastify();
    closers.push(() => app.close());
    instrumentHttp(registry, app.server, { name: 'fastify', route: fastifyRoute(app) });
    const seen = { own: 0, fromOnRoute: 0 };
    const body = { schema: { body: { type: 'object', required: ['name'] } } } as const;
    app.post('/own/:id', {
      ...body,
      onError: (_request, _reply, _error, done) => {
        seen.own++;
        done();
      },
      handler: async () => 'never',
    });
    await app.register(async (scope) => {
      // Replaces whatever onError hooks the route had (the recorder fastifyRoute put there too).
      scope.addHook('onRoute', (routeOptions) => {
        routeOptions.onError = (_request, _reply, _error, done) => {
          seen.fromOnRoute++;
          done();
        };
      });
      scope.post('/replaced/:id', { ...body, handler: async () => 'never' });
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    const statuses: number[] = [];
    for (const path of ['/own/1', '/replaced/1']) {
      const res = await fetch(base + path, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      await res.arrayBuffer();
      statuses.push(res.status);
    }
    expect(statuses).toEqual([400, 400]);
    expect(requestsByRoute(registry)).toEqual({ 'POST /own/:id 400': 1, 'POST /replaced/:id 400': 1 });
    expect(seen).toEqual({ own: 1, fromOnRoute: 1 });
  });

  it("leaves Fastify's answers to thrown non-Errors as they are (a string: 500; { statusCode }: its status; the app's error handler runs) and labels them by route", async () => {
    // The same app with and without fastifyRoute: the statuses must not change.
    const build = async (withRoute: boolean) => {
      const { registry } = newRegistry();
      const app = Fastify();
      closers.push(() => app.close());
      if (withRoute) instrumentHttp(registry, app.server, { name: 'fastify', route: fastifyRoute(app) });
      app.get('/string', async () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- what the test is about
        throw 'boom';
      });
      app.get('/object', async () => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- what the test is about
        throw { statusCode: 418, message: 'teapot' };
      });
      await app.register(async (scope) => {
        scope.setErrorHandler((_error, _request, reply) => reply.code(503).send({ handled: true }));
        scope.get('/scoped', async () => {
          // eslint-disable-next-line @typescript-eslint/only-throw-error -- what the test is about
          throw 'plain';
        });
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
      return { registry, statuses: await send(base, ['/string', '/object', '/scoped']) };
    };
    const plain = await build(false);
    const labelled = await build(true);
    expect(plain.statuses).toEqual([500, 418, 503]);
    expect(labelled.statuses).toEqual(plain.statuses);
    expect(requestsByRoute(labelled.registry)).toEqual({
      'GET /string 500': 1,
      'GET /object 418': 1,
      'GET /scoped 503': 1,
    });
  });

  it("labels what a hook added by a later onRoute hook answers (a rate limiter's 429) by its route", async () => {
    const { registry } = newRegistry();
    const app = Fastify();
    closers.push(() => app.close());
    instrumentHttp(registry, app.server, { name: 'fastify', route: fastifyRoute(app) });
    // As rate-limit plugins do: an onRoute hook gives each route a hook of its own.
    app.addHook('onRoute', (routeOptions) => {
      const limit: preHandlerHookHandler = (_request, reply, done) => {
        reply
          .code(429)
          .send({ limited: true })
          .then(() => {
            done();
          }, done);
      };
      routeOptions.preHandler = routeOptions.url === '/limited/:id' ? [limit] : routeOptions.preHandler;
    });
    app.get('/limited/:id', async () => 'never');
    app.get('/free/:id', async () => 'free');
    await app.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    expect(await send(base, ['/limited/1', '/free/1'])).toEqual([429, 200]);
    expect(requestsByRoute(registry)).toEqual({ 'GET /limited/:id 429': 1, 'GET /free/:id 200': 1 });
  });

  it('labels pipelined Fastify requests on one connection by their own routes', async () => {
    const { registry } = newRegistry();
    const app = Fastify();
    closers.push(() => app.close());
    instrumentHttp(registry, app.server, { name: 'fastify', route: fastifyRoute(app) });
    // /first answers only once /second has arrived on the same socket, so both are open at once.
    let secondArrived!: () => void;
    const arrived = new Promise<void>((r) => (secondArrived = r));
    app.get('/first/:id', async () => {
      await arrived;
      return 'first';
    });
    app.get('/second/:id', async () => {
      secondArrived();
      return 'second';
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const socket = connect((app.server.address() as AddressInfo).port, '127.0.0.1');
    closers.push(async () => void socket.destroy());
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (answer += d));
    socket.write(
      'GET /first/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /second/2 HTTP/1.1\r\nHost: x\r\n\r\nGET /first/3 HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    await until(() => expect(answer.match(/HTTP\/1\.1 200/g)).toHaveLength(3));
    await until(() => expect(requestsByRoute(registry)).toEqual({ 'GET /first/:id 200': 2, 'GET /second/:id 200': 1 }));
  });

  it('bounds the routes of a route function that returns URLs: past maxRoutes they count as "other", with one warning', async () => {
    const { registry } = newRegistry();
    const log = memoryLogger();
    const { server, url } = await nodeServer((_request, res) => res.end('ok'));
    const rawUrl: RouteOf = (request) => request.url;
    instrumentHttp(registry, server, { name: 'leaky', route: rawUrl, maxRoutes: 3 }, log);
    await send(url, ['/a', '/b', '/c', '/d', '/e', '/a', '/f']);
    expect(requestsByRoute(registry)).toEqual({
      'GET /a 200': 2,
      'GET /b 200': 1,
      'GET /c 200': 1,
      'GET other 200': 3,
    });
    const warnings = log.records.filter((r) => r.level === 'warn');
    expect(warnings.map((r) => r.msg)).toEqual([
      'instrument.http (server "leaky"): more than 3 distinct routes; further ones are counted as route="other". A route function must return templates such as "/users/:id", not URLs; raise maxRoutes if the service really has more routes',
    ]);
  });

  it('counts a request whose route function throws or answers a non-string as "unmatched", warning once', async () => {
    const { registry } = newRegistry();
    const log = memoryLogger();
    const { server, url } = await nodeServer((_request, res) => res.end('ok'));
    const flaky: RouteOf = (request) => {
      if (request.url === '/throw') throw new Error('no route');
      return request.url === '/number' ? (42 as never) : '/fine';
    };
    instrumentHttp(registry, server, { route: flaky }, log);
    expect(await send(url, ['/throw', '/throw', '/number', '/fine'])).toEqual([200, 200, 200, 200]);
    expect(requestsByRoute(registry)).toEqual({ 'GET unmatched 200': 3, 'GET /fine 200': 1 });
    expect(log.records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      'instrument.http (server "http"): the route function threw; such requests are counted as route="unmatched"',
    ]);
  });

  it('survives an isError that throws: no uncaught exception in the host, statuses judged by >= 500, one warning', async () => {
    const { registry } = newRegistry();
    const log = memoryLogger();
    const { server, url } = await nodeServer((request, res) =>
      res.writeHead(request.url === '/fail' ? 502 : 200).end(),
    );
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    closers.push(async () => void process.off('uncaughtException', onUncaught));
    instrumentHttp(
      registry,
      server,
      {
        isError: () => {
          throw new Error('bad predicate');
        },
      },
      log,
    );
    expect(await send(url, ['/ok', '/fail', '/fail'])).toEqual([200, 502, 502]);
    await new Promise((resolve) => setImmediate(resolve)); // where a subscriber's throw would surface
    expect(uncaught).toEqual([]);
    expect(
      registry.require(HTTP_METRICS.errors, 'counter').get({ server: 'http', method: 'GET', route: '', code: '502' }),
    ).toBe(2);
    expect(registry.require(HTTP_METRICS.errors, 'counter').series()).toHaveLength(1);
    expect(log.records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      'instrument.http (server "http"): the isError function threw; such responses are counted by status >= 500',
    ]);
  });

  it('counts a route too long for a label (3 KB) or not valid Unicode as "other", warning once, with no uncaught exception', async () => {
    const { registry } = newRegistry();
    const log = memoryLogger();
    const { server, url } = await nodeServer((_request, res) => res.end('ok'));
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    closers.push(async () => void process.off('uncaughtException', onUncaught));
    const route: RouteOf = (request) =>
      request.url === '/long' ? `/${'r'.repeat(3000)}` : request.url === '/surrogate' ? '/\uD800' : request.url;
    instrumentHttp(registry, server, { route }, log);
    expect(await send(url, ['/long', '/long', '/surrogate', '/fine'])).toEqual([200, 200, 200, 200]);
    await new Promise((resolve) => setImmediate(resolve)); // where a subscriber's throw would surface
    expect(uncaught).toEqual([]);
    expect(requestsByRoute(registry)).toEqual({ 'GET other 200': 3, 'GET /fine 200': 1 });
    expect(log.records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      'instrument.http (server "http"): the route function gave a route that cannot be a label (its series key would pass 1000 bytes, or it is not valid Unicode); such requests are counted as route="other"',
    ]);
  });

  it('refuses a route option that is not a function, a bad maxRoutes or name, and a non-Fastify app', () => {
    const { registry } = newRegistry();
    const server = createServer();
    expectMonitorError(
      () => instrumentHttp(registry, server, { route: ['/users/:id'] as never }),
      ErrorCode.InvalidOption,
      /route must be a function \(req, res\) => template, e\.g\. expressRoute, fastifyRoute\(app\) or routeTable\(\['\/users\/:id'\]\), got /,
    );
    expectMonitorError(
      () => instrumentHttp(registry, server, { maxRoutes: 0 }),
      ErrorCode.InvalidOption,
      'instrument.http: maxRoutes must be a positive integer, got 0',
    );
    expectMonitorError(
      () => instrumentHttp(registry, server, { name: '' }),
      ErrorCode.InvalidOption,
      /name must be a non-empty string \(the "server" label\)/,
    );
    expectMonitorError(
      () => instrumentHttp(registry, server, { name: 'n'.repeat(1000) }),
      ErrorCode.InvalidOption,
      /name \(the "server" label\) is too long or not valid Unicode: its series keys would not fit 1000 bytes/,
    );
    expectMonitorError(
      () => fastifyRoute({} as never),
      ErrorCode.InvalidOption,
      /fastifyRoute: expected a Fastify instance \(with addHook\)/,
    );
    // Nothing was registered by the refused calls.
    expect(registry.get(HTTP_METRICS.requests)).toBeUndefined();
  });
});

describe('routeTable: paths with repeated slashes', () => {
  it('answers as main did (one trailing slash stripped, then one trailing empty segment dropped)', () => {
    const route = routeTable([
      '/health',
      '/users/me',
      '/:x',
      '/users/:id',
      '/users/:id/posts',
      '/static/*',
      '/a/:b/c',
      '/files/:f/*',
    ]);
    // main's answers (e9b06ac, splitPath), taken by running its routeTable on these paths.
    const mains: [string, string | undefined][] = [
      ['/a//', '/:x'],
      ['/users//', '/:x'],
      ['/users/7//', '/users/:id'],
      ['/users/7///', undefined],
      ['/a///', undefined],
      ['/', undefined],
      ['//', undefined],
      ['///', undefined],
      ['/health', '/health'],
      ['/health/', '/health'],
      ['/health//', '/:x'],
      ['/users/me', '/users/me'],
      ['/users/me/', '/users/me'],
      ['/users/me//', '/users/:id'],
      ['/static', '/:x'],
      ['/static/', '/:x'],
      ['/static//', '/:x'],
      ['/static/x/y', '/static/*'],
      ['/static/x/y//', '/static/*'],
      ['/a/b/c', '/a/:b/c'],
      ['/a/b/c/', '/a/:b/c'],
      ['/a/b/c//', '/a/:b/c'],
      ['/a//c', undefined],
      ['/users/7?x=1', '/users/:id'],
      ['/users/7//?x=1', '/users/:id'],
      ['/x/', '/:x'],
      ['/users/7/', '/users/:id'],
      ['/users/7/posts//', '/users/:id/posts'],
      ['/files/1/', '/files/:f/*'],
      ['/files/1//', '/files/:f/*'],
      ['/files//', '/:x'],
      ['nope', undefined],
      ['/u/v/w/z', undefined],
    ];
    expect(mains.map(([url]) => [url, route({ url } as IncomingMessage, undefined as never)])).toEqual(mains);
  });
});
