/**
 * Ready `route` options for `instrument.http`: each turns a finished request into its route
 * template (`/users/:id`), never its URL, so per-route series stay as few as the routes.
 * `expressRoute` (Express 4/5), `fastifyRoute(app)` (Fastify) and `routeTable(patterns)` (plain
 * node:http). A request none can match is `undefined` (`route="unmatched"`). Where Express does not
 * keep a mount's declared path, the fallback uses the path as the client sent it, bounded only by
 * `maxRoutes`. Matching rules per framework: docs/design-notes.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import type { RouteOf } from './http-instrument.js';

/** What `expressRoute` reads of an Express request (Express sets them on the node request itself). */
interface ExpressRequestFields {
  baseUrl?: unknown;
  route?: { path?: unknown };
  app?: unknown;
}

/** What `expressRoute` reads of a router layer: Express 5 (router 2) keeps the declared path as `rawPath`. */
interface ExpressLayer {
  route?: unknown;
  rawPath?: unknown;
  handle?: { stack?: unknown };
}

/** Deepest router nesting searched for a route. */
const MAX_MOUNT_DEPTH = 32;

/**
 * The declared mount paths above `route` in `stack`, joined (`''` for a route of the app itself);
 * `null` when `route` sits under a mount whose declared path is not kept as a string, `undefined`
 * when `route` is not in `stack`.
 */
function mountPath(stack: unknown, route: object, depth: number): string | null | undefined {
  if (!Array.isArray(stack) || depth > MAX_MOUNT_DEPTH) return undefined;
  for (const layer of stack as ExpressLayer[]) {
    if (layer === null || typeof layer !== 'object') continue;
    if (layer.route === route) return '';
    const inner = layer.handle?.stack;
    if (!Array.isArray(inner)) continue;
    const below = mountPath(inner, route, depth + 1);
    if (below === undefined) continue;
    if (below === null || typeof layer.rawPath !== 'string') return null;
    const at = layer.rawPath.endsWith('/') ? layer.rawPath.slice(0, -1) : layer.rawPath;
    return at + below;
  }
  return undefined;
}

/** The app's root router: `app.router` in Express 5, `app._router` in Express 4 (whose `app.router` throws). */
function rootStack(app: unknown): unknown {
  if (app === null || (typeof app !== 'object' && typeof app !== 'function')) return undefined;
  const { _router: old } = app as { _router?: { stack?: unknown } };
  if (old !== undefined) return old?.stack;
  return (app as { router?: { stack?: unknown } }).router?.stack;
}

/** Route object → its mount path (see `mountPath`), or null when it has none to use: looked up once per route. */
const mounts = new WeakMap<object, string | null>();

/**
 * The `route` option for an Express app: the matched route's path under its routers' declared
 * mount paths, e.g. `/api/users/:id` for `router.get('/users/:id')` mounted at `/api` (see the
 * module header for when it falls back to `req.baseUrl`); undefined when no route matched.
 */
export const expressRoute: RouteOf = (req) => {
  const { route, baseUrl, app } = req as IncomingMessage & ExpressRequestFields;
  if (route === undefined || route === null || route.path === undefined) return undefined;
  // Express route paths are strings, RegExps or arrays of them: their String() is the label.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  const path = typeof route.path === 'string' ? route.path : String(route.path);
  let mount = mounts.get(route);
  if (mount === undefined) {
    try {
      mount = mountPath(rootStack(app), route, 0) ?? null;
    } catch {
      mount = null; // an unexpected app shape: the baseUrl fallback
    }
    mounts.set(route, mount);
  }
  if (mount !== null) return mount + path;
  return typeof baseUrl === 'string' && baseUrl !== '' ? baseUrl + path : path;
};

/** What `fastifyRoute` reads and changes of a route's options in Fastify's `onRoute` hook. */
export interface FastifyRouteFields {
  url?: unknown;
  handler?: unknown;
  errorHandler?: unknown;
  onRequest?: unknown;
  preParsing?: unknown;
  preValidation?: unknown;
  preHandler?: unknown;
  onError?: unknown;
}

/**
 * What `fastifyRoute` needs of a Fastify instance: `addHook` (its `onRoute` hook, and a wrapper of
 * `addHook` itself, see `fastifyRoute`). Declared here rather than taken from fastify, so the
 * package's types need no fastify.
 */
export interface FastifyHooks {
  addHook(name: 'onRoute', hook: (routeOptions: FastifyRouteFields) => void): unknown;
}

/** What the route recorders read of a Fastify request and reply. */
export interface FastifyRequestFields {
  raw: IncomingMessage;
  routeOptions?: { url?: string };
}

/** The request phases before a route's handler, where a hook may answer for it (a 401 from an auth hook). */
const REQUEST_PHASES = ['onRequest', 'preParsing', 'preValidation', 'preHandler'] as const;
type RequestPhase = (typeof REQUEST_PHASES)[number];
const isRequestPhase = (name: unknown): name is RequestPhase => (REQUEST_PHASES as readonly unknown[]).includes(name);

type Reply = { raw?: ServerResponse } | null | undefined;
type AnyHook = (...args: never[]) => unknown;
type AddHook = (this: unknown, name: string, hook: AnyHook) => unknown;

/**
 * The `route` option for a Fastify app: the matched route's declared url, e.g. `/users/:id`.
 * Call it right after creating the app, before declaring routes, hooks or plugins (as
 * `instrument.http(app.server, { route: fastifyRoute(app) })`): routes declared on `app` before
 * it are not seen (they count as `route="unmatched"`).
 *
 * Where the route is recorded costs Fastify's own request path: any app-wide lifecycle hook
 * (`app.addHook('onRequest' | 'onError' | ...)`, which Fastify queues through `app.after()`)
 * makes every request on a real socket cost +28-34 % CPU, even one that never runs, while the
 * same hook given to each route costs nothing measurable (bench/e2e-paired.ts modes
 * `fastify-hook`, `fastify-onerror`, `fastify-after`). So the route is recorded where Fastify
 * calls code anyway: by a wrapper of each route's handler (an `onRoute` hook); by the route's own
 * error handler, or else a recorder first in the route's `onError` hooks (answers from errors
 * raised before the handler: validation, body parsing, a hook's thrown error); and, only where a
 * request-phase hook exists (a route's own, or one added with `addHook` in any scope, whose
 * `addHook` is wrapped for this), by a recorder put first in that phase of that scope or route,
 * so a hook answering with `reply.send()` (a 401) is labelled too.
 * @throws {MonitorError} `EMON_INVALID_OPTION` if `app` has no `addHook`
 */
export function fastifyRoute(app: FastifyHooks): RouteOf {
  if (app === null || typeof app !== 'object' || typeof (app as { addHook?: unknown }).addHook !== 'function') {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `fastifyRoute: expected a Fastify instance (with addHook), got ${describeValue(app)}`,
    );
  }
  // Where a request's route waits for its finish: in a slot of its connection, one object per
  // socket overwritten by each request (a WeakMap entry per request made Fastify's requests cost
  // about a quarter more CPU, measured by bench/e2e-paired.ts: every young request key is
  // ephemeron work for each scavenge). Not a property on the raw request: one added to every
  // IncomingMessage changes its hidden class, which slows Node's own code on it. A request still
  // unfinished when the next one on its socket arrives (pipelining) moves to the WeakMap.
  const slotKey = Symbol('erlmcp-monitor.fastifyRoute');
  interface Slot {
    req: IncomingMessage | undefined;
    res: ServerResponse | undefined;
    url: string;
  }
  type SlottedSocket = Socket & { [slotKey]?: Slot };
  const pipelined = new WeakMap<IncomingMessage, string>();
  const record = (req: IncomingMessage | undefined, res: ServerResponse | undefined, url: string) => {
    if (req === undefined || req === null) return;
    const socket = req.socket as SlottedSocket | null;
    if (socket === null || typeof socket !== 'object') {
      pipelined.set(req, url);
      return;
    }
    const slot = socket[slotKey];
    if (slot === undefined) socket[slotKey] = { req, res, url };
    else if (slot.req !== req) {
      if (slot.req !== undefined && slot.res?.writableFinished !== true) pipelined.set(slot.req, slot.url);
      slot.req = req;
      slot.res = res;
      slot.url = url;
    } else slot.url = url;
  };

  // The hooks of a scope apply to its 404 handler too, whose context has no url: those stay unmatched.
  // `request.routeOptions` builds a new object of a dozen fields on every read; the url it reads
  // is the route context's `config.url`, read straight from the context where Fastify keeps it
  // (found once, by its symbol's description), else through `routeOptions`.
  let context: symbol | null | undefined;
  const fromHook = (request: FastifyRequestFields, reply: unknown) => {
    if (context === undefined)
      context = Object.getOwnPropertySymbols(request).find((s) => s.description === 'fastify.context') ?? null;
    const url =
      context !== null
        ? (request as unknown as Record<symbol, { config?: { url?: unknown } } | undefined>)[context]?.config?.url
        : request.routeOptions?.url;
    if (typeof url === 'string') record(request.raw, (reply as Reply)?.raw, url);
  };
  const phaseHook = (request: FastifyRequestFields, reply: unknown, done: () => void) => {
    fromHook(request, reply);
    done();
  };
  const recorders: Record<RequestPhase, AnyHook> = {
    onRequest: phaseHook,
    preParsing: (
      request: FastifyRequestFields,
      reply: unknown,
      payload: unknown,
      done: (err: null, payload: unknown) => void,
    ) => {
      fromHook(request, reply);
      done(null, payload);
    },
    preValidation: phaseHook,
    preHandler: phaseHook,
  };

  const target = app as unknown as { addHook: AddHook };
  const original = target.addHook;

  const onErrorRecorder = (request: FastifyRequestFields, reply: unknown, _error: unknown, done: () => void) => {
    fromHook(request, reply);
    done();
  };

  /**
   * Puts a recorder first in each request phase the route has hooks in, and in its `onError`
   * hooks (idempotent).
   */
  const prependRecorders = (routeOptions: FastifyRouteFields): void => {
    for (const phase of REQUEST_PHASES) {
      const own = routeOptions[phase];
      if (own === undefined || own === null || (Array.isArray(own) && own.length === 0)) continue;
      const hooks = Array.isArray(own) ? (own as AnyHook[]) : [own as AnyHook];
      if (hooks[0] !== recorders[phase]) routeOptions[phase] = [recorders[phase], ...hooks];
    }
    const own = routeOptions.onError;
    const hooks = own === undefined || own === null ? [] : Array.isArray(own) ? (own as AnyHook[]) : [own as AnyHook];
    if (hooks[0] !== onErrorRecorder) routeOptions.onError = [onErrorRecorder, ...hooks];
  };

  // Registered before `addHook` is wrapped: on an app that has started this throws Fastify's own
  // error and leaves the app as it was.
  original.call(app, 'onRoute', (routeOptions: FastifyRouteFields) => {
    const { url, handler } = routeOptions;
    if (typeof url !== 'string' || typeof handler !== 'function') return;
    routeOptions.handler = function (this: unknown, request: FastifyRequestFields, reply: Reply) {
      record(request.raw, reply?.raw, url);
      return (handler as (this: unknown, request: unknown, reply: unknown) => unknown).call(this, request, reply);
    };
    prependRecorders(routeOptions);
    const theirs = routeOptions.errorHandler;
    // A route's own error handler is wrapped; the others are left alone (a rethrow from a route
    // error handler makes Fastify send a thrown non-Error as a 200 payload): the route's `onError`
    // recorder (see `prependRecorders`) records those requests, and Fastify runs it only on the
    // error path.
    if (typeof theirs === 'function') {
      routeOptions.errorHandler = function (
        this: unknown,
        error: unknown,
        request: FastifyRequestFields,
        reply: Reply,
      ) {
        record(request.raw, reply?.raw, url);
        return (theirs as (this: unknown, error: unknown, request: unknown, reply: unknown) => unknown).call(
          this,
          error,
          request,
          reply,
        );
      };
    }
  });

  // Scopes (Fastify instances: the app and each plugin's, which inherit `addHook` from it) and
  // the phases given a recorder there.
  const recorded = new WeakMap<object, Set<RequestPhase>>();
  target.addHook = function (this: unknown, name: string, hook: AnyHook) {
    if (isRequestPhase(name) && this !== null && typeof this === 'object') {
      let phases = recorded.get(this);
      if (phases === undefined) recorded.set(this, (phases = new Set()));
      if (!phases.has(name)) {
        phases.add(name);
        original.call(this, name, recorders[name]);
      }
    }
    // A later onRoute hook may give the route hooks of its own (rate limiters do): they get a
    // recorder in front too, so what they answer keeps its route.
    if (name === 'onRoute' && typeof hook === 'function') {
      const theirs = hook as (this: unknown, routeOptions: FastifyRouteFields) => unknown;
      return original.call(this, name, function (this: unknown, routeOptions: FastifyRouteFields) {
        const result = theirs.call(this, routeOptions);
        prependRecorders(routeOptions);
        return result;
      });
    }
    return original.call(this, name, hook);
  };
  return (req) => {
    const slot = (req.socket as SlottedSocket | null)?.[slotKey];
    return slot !== undefined && slot.req === req ? slot.url : pipelined.get(req);
  };
}

/** One compiled pattern of a route table. */
interface Pattern {
  template: string;
  /** Segments, `null` for a `:param` one. */
  segments: (string | null)[];
  /** A final `*`: matches any number (>= 0) of further segments. */
  rest: boolean;
}

function compile(pattern: unknown, index: number): Pattern {
  const bad = (why: string) =>
    new MonitorError(
      ErrorCode.InvalidOption,
      `routeTable: pattern ${index} ${describeValue(pattern)} ${why} (expected e.g. "/users/:id" or "/static/*")`,
    );
  if (typeof pattern !== 'string' || !pattern.startsWith('/')) throw bad('must be a string starting with "/"');
  if (/[?#\s]/.test(pattern)) throw bad('must be a path without query, fragment or spaces');
  const parts = splitPath(pattern);
  const rest = parts.at(-1) === '*';
  if (rest) parts.pop();
  const segments = parts.map((part) => {
    if (part === '*') throw bad('may have "*" only as its last segment');
    if (part.startsWith(':')) {
      if (part.length === 1) throw bad('has a ":" segment without a parameter name');
      return null;
    }
    return part;
  });
  return { template: pattern, segments, rest };
}

/** `/a/b/` → `['a', 'b']`; `/` → `[]`. */
function splitPath(path: string): string[] {
  const parts = path.split('/');
  parts.shift();
  if (parts.at(-1) === '') parts.pop();
  return parts;
}

/**
 * Whether `path` (starting with "/", no trailing slash but "/" itself) matches `p`, segment by
 * segment in place: splitting it would allocate an array and a string per segment on every request.
 */
function matches(p: Pattern, path: string): boolean {
  let length = path.length;
  // One trailing slash is already gone; like main's splitPath, drop one more (`/a//` reads as `/a`).
  if (length > 1 && path.charCodeAt(length - 1) === 47) length--;
  let at = length === 1 ? 2 : 1; // start of the next segment; past the end when none is left ("/" has none)
  for (const want of p.segments) {
    if (at > length) return false;
    let end = path.indexOf('/', at);
    if (end < 0) end = length;
    if (want === null ? end === at : end - at !== want.length || !path.startsWith(want, at)) return false;
    at = end + 1;
  }
  return p.rest || at > length;
}

/**
 * The `route` option for a plain node:http server, e.g.
 * `routeTable(['/health', '/users/:id', '/users/:id/posts', '/static/*'])`: the literal pattern
 * equal to the request's path (query and a trailing slash ignored) if there is one (looked up in
 * a map, so `/users/me` wins over `/users/:id`), else the first pattern with parameters that matches.
 * @throws {MonitorError} `EMON_INVALID_OPTION` for a pattern that is not a path (naming it)
 */
export function routeTable(patterns: readonly string[]): RouteOf {
  if (!Array.isArray(patterns)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `routeTable: expected an array of path patterns such as ["/users/:id"], got ${describeValue(patterns)}`,
    );
  }
  const compiled = patterns.map(compile);
  const exact = new Map<string, string>();
  const dynamic: Pattern[] = [];
  for (const p of compiled) {
    const literal = !p.rest && p.segments.every((s) => s !== null);
    if (!literal) dynamic.push(p);
    else {
      const key = `/${p.segments.join('/')}`;
      if (!exact.has(key)) exact.set(key, p.template);
    }
  }
  return (req) => {
    const url = req.url;
    if (url === undefined) return undefined;
    const q = url.indexOf('?');
    let path = q < 0 ? url : url.slice(0, q);
    if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
    const hit = exact.get(path);
    if (hit !== undefined) return hit;
    if (dynamic.length === 0 || !path.startsWith('/')) return undefined;
    for (const p of dynamic) if (matches(p, path)) return p.template;
    return undefined;
  };
}
