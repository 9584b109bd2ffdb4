/**
 * The service of the end-to-end bench, run in its own process: `node e2e-server.js <mode>`.
 * A node:http server on 127.0.0.1 (port 0) answering every request with a small JSON body.
 *
 * Modes:
 * - `plain`: the bare service;
 * - `instrumented`: also `startMonitoring` (the whole tree with the default production intervals
 *   of configs/*.json, a temporary data directory, process metrics on) and `mon.instrument.http`;
 * - `http-only`: `instrumentHttp` on a bare metric table (no tree, no sources);
 * - `http-route`: the same with the `route` option (`routeTable`, the plain node:http router);
 * - `fastify-plain` / `fastify-route`: the same body from a Fastify app, bare or with
 *   `instrumentHttp(app.server, { route: fastifyRoute(app) })` on a bare table; `fastify-http`:
 *   `instrumentHttp` without the route option; `fastify-hook`: only an empty global `onRequest`
 *   hook (what an app-wide hook costs every route: why `fastifyRoute` adds no such hook; the
 *   same hook given to each route in an `onRoute` hook costs nothing measurable);
 *   `fastify-onerror`: only an empty app-wide `onError` hook, which Fastify runs only on errors
 *   and still costs every request (why `fastifyRoute` gives each route an `onError` hook of its
 *   own instead); `fastify-after`: only an empty `app.after()` before the route (Fastify's
 *   `addHook` of a request lifecycle hook queues the hook through `after`: what that costs alone);
 * - `channels`: empty subscribers on the two diagnostics channels `instrumentHttp` uses (what Node
 *   itself then does per request: a payload object per publication);
 * - `listeners`: only what `instrumentHttp` hooks into Node's path, doing nothing: a second
 *   'request' listener and an empty 'close' listener per response (diagnostic);
 * - `tree:<parts>` (attribution, bench/e2e-attribution.ts): `instrumentHttp` on a table plus only
 *   the named parts of the tree, comma-separated from `collector`, `process` (the collector's
 *   process source), `flush` (the collector's aggregation flush to LMDB; without it the
 *   collector never flushes), `perf` (performance monitor), `alerting` (with its outbox),
 *   `dashboard`. The parts run with the same default configuration as `instrumented`.
 *
 * IPC: sends `{ port }` once listening; on `{ type: 'gc' }` (with `--expose-gc`) collects garbage and
 * answers `{ gcDone: true }` (bench/e2e-alloc.ts reads the allocation between two such marks); on `{ type: 'usage' }` answers `{ usage: { cpuMs, requests } }`
 * (process CPU time, user + system, and requests answered so far); on `{ type: 'stop' }` stops
 * everything, sends `{ stopped: true, rssBytes }` and exits. Exits too if the parent goes away.
 */
import Fastify from 'fastify';
import diagnostics from 'node:diagnostics_channel';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ALERTING_NAME, alerting } from '../actors/alerting.js';
import { COLLECTOR_NAME, collector } from '../actors/collector.js';
import { DASHBOARD_NAME, dashboard } from '../actors/dashboard.js';
import { startMonitorSup } from '../actors/monitor-tree.js';
import { PERFORMANCE_MONITOR_NAME, performanceMonitor } from '../actors/performance-monitor.js';
import { SignalRelay } from '../src/alerts/signal-relay.js';
import { loadConfig } from '../src/config/index.js';
import { startMonitoring } from '../src/index.js';
import { createLogger } from '../src/logger.js';
import { DerivedValues } from '../src/metrics/derived-values.js';
import { Registry } from '../src/metrics/registry.js';
import { createChannels } from '../src/notify/create-channels.js';
import { Outbox } from '../src/notify/outbox.js';
import { type ChildSpec, OtpSystem, workerChild } from '../src/otp/index.js';
import type { DashboardSources } from '../src/server/dashboard-sources.js';
import { instrumentHttp } from '../src/sources/http-instrument.js';
import { fastifyRoute, routeTable } from '../src/sources/http-routes.js';
import { ProcessSource } from '../src/sources/process-source.js';
import { MetricStore } from '../src/store/lmdb-store.js';

/** The parts a `tree:` mode may name. */
export const TREE_PARTS = ['collector', 'process', 'flush', 'perf', 'alerting', 'dashboard'] as const;
type TreePart = (typeof TREE_PARTS)[number];

const mode = process.argv[2] ?? '';
const parts = mode.startsWith('tree:')
  ? mode
      .slice(5)
      .split(',')
      .filter((p) => p !== '')
  : undefined;
const SINGLE_MODES = [
  'plain',
  'instrumented',
  'http-only',
  'http-route',
  'fastify-plain',
  'fastify-route',
  'fastify-http',
  'fastify-hook',
  'fastify-onerror',
  'fastify-after',
  'listeners',
  'channels',
];
if (
  !SINGLE_MODES.includes(mode) &&
  (parts === undefined || parts.some((p) => !(TREE_PARTS as readonly string[]).includes(p)))
) {
  console.error(
    `usage: e2e-server.js ${SINGLE_MODES.join('|')}|tree:<${TREE_PARTS.join(',')}> (got ${JSON.stringify(mode)})`,
  );
  process.exit(2);
}

const body = JSON.stringify({ ok: true, service: 'bench', items: [1, 2, 3] });
let requests = 0;
let server: http.Server;
let ready: Promise<void> = Promise.resolve();
if (mode.startsWith('fastify-')) {
  const app = Fastify({ logger: false });
  if (mode === 'fastify-route')
    instrumentHttp(new Registry({ logger: createLogger({ level: 'silent' }) }), app.server, {
      route: fastifyRoute(app),
    });
  if (mode === 'fastify-http') instrumentHttp(new Registry({ logger: createLogger({ level: 'silent' }) }), app.server);
  if (mode === 'fastify-onerror') app.addHook('onError', (_request, _reply, _error, done) => done());
  if (mode === 'fastify-after') app.after(() => {});
  if (mode === 'fastify-hook') app.addHook('onRequest', (_request, _reply, done) => done());
  app.get('/', (_request, reply) => {
    requests++;
    reply.header('content-type', 'application/json').send(body);
  });
  server = app.server;
  ready = (async () => {
    await app.ready();
  })();
} else {
  server = http.createServer((_req, res) => {
    requests++;
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

const logger = createLogger({ level: 'silent' });
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-bench-e2e-'));
let stopTree: () => Promise<void> = async () => undefined;
if (mode === 'instrumented') {
  const mon = await startMonitoring({ dataDir, processMetrics: true, logger, config: { dashboard: { port: 0 } } });
  mon.instrument.http(server);
  stopTree = () => mon.stop();
} else if (mode === 'http-only') {
  instrumentHttp(new Registry({ logger }), server);
} else if (mode === 'http-route') {
  instrumentHttp(new Registry({ logger }), server, { route: routeTable(['/', '/users/:id']) });
} else if (mode === 'channels') {
  const noop = () => undefined;
  diagnostics.subscribe('http.server.request.start', noop);
  diagnostics.subscribe('http.server.response.finish', noop);
} else if (mode === 'listeners') {
  // What instrument.http adds to Node's own path without any of its work: a second 'request'
  // listener and a 'close' listener per response, both empty.
  const noop = () => undefined;
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => res.on('close', noop));
} else if (parts !== undefined) {
  stopTree = await startPartialTree(new Set(parts as TreePart[]));
}

/**
 * The tree with only `parts` running, built as `startMonitoring` builds it (same configuration,
 * same start arguments), so each part's cost can be measured alone.
 */
async function startPartialTree(on: Set<TreePart>): Promise<() => Promise<void>> {
  const config = loadConfig({ overrides: { dashboard: { port: 0 } }, env: {} });
  const registry = new Registry({
    seriesLimit: config.monitoring.series_limit,
    defaultBuckets: config.monitoring.histogram_buckets,
    logger,
  });
  instrumentHttp(registry, server);
  const store = MetricStore.open({ dataDir, retentionMs: config.monitoring.retention_period });
  const system = new OtpSystem({ logger });
  const derived = new DerivedValues();
  const signals = new SignalRelay();
  const outbox = on.has('alerting')
    ? Outbox.open({ store, channels: createChannels(config.alerting), logger, registry })
    : undefined;
  // Without `flush` the aggregation timer is set beyond any burst (the longest delay Node takes).
  const monitoring = on.has('flush')
    ? config.monitoring
    : { ...config.monitoring, aggregation_interval: 2 ** 31 - 1, retention_period: 2 ** 31 - 1 };
  const unavailable = () => Promise.reject(new Error('not running in this attribution mode'));
  const sources: DashboardSources = {
    report: unavailable,
    slas: unavailable,
    deadLetters: unavailable,
    alerts: unavailable,
    scores: () => null,
    metrics: unavailable,
    processes: () => ({}),
  };
  const children: ChildSpec[] = [
    ...(on.has('collector')
      ? [
          workerChild(
            COLLECTOR_NAME,
            collector,
            {
              registry,
              store,
              config: monitoring,
              sources: () => (on.has('process') ? [new ProcessSource(registry)] : []),
            },
            { name: COLLECTOR_NAME },
          ),
        ]
      : []),
    ...(on.has('perf')
      ? [
          workerChild(
            PERFORMANCE_MONITOR_NAME,
            performanceMonitor,
            { registry, store, config: config.performance_monitor, derived, alertSink: (s) => signals.send(s) },
            { name: PERFORMANCE_MONITOR_NAME },
          ),
        ]
      : []),
    ...(outbox !== undefined
      ? [
          workerChild(
            ALERTING_NAME,
            alerting,
            { registry, store, config: config.alerting, derived, outbox, rules: [], signals },
            { name: ALERTING_NAME },
          ),
        ]
      : []),
    ...(on.has('dashboard')
      ? [
          workerChild(
            DASHBOARD_NAME,
            dashboard,
            { registry, store, config: config.dashboard, derived, sources },
            { name: DASHBOARD_NAME },
          ),
        ]
      : []),
  ];
  const sup = await startMonitorSup(system, children);
  return async () => {
    await sup.stop('shutdown', 'infinity');
    system.close();
    await outbox?.close();
    await store.close();
  };
}

await ready;
server.listen(0, '127.0.0.1', () => {
  process.send!({ port: (server.address() as AddressInfo).port });
});

async function stop(): Promise<void> {
  const rssBytes = process.memoryUsage().rss;
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await stopTree();
  rmSync(dataDir, { recursive: true, force: true });
  if (process.connected) process.send!({ stopped: true, rssBytes }, () => process.exit(0));
  else process.exit(0);
}

process.on('message', (msg: { type?: string }) => {
  if (msg?.type === 'stop') void stop();
  if (msg?.type === 'gc') {
    (globalThis as { gc?: () => void }).gc?.();
    process.send!({ gcDone: true });
  }
  if (msg?.type === 'usage') {
    const u = process.cpuUsage();
    process.send!({ usage: { cpuMs: (u.user + u.system) / 1000, requests } });
  }
});
process.on('disconnect', () => void stop().catch(() => process.exit(1)));
