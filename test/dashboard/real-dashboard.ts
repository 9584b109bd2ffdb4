/**
 * The real dashboard process (actors/dashboard.ts) for the page's browser test: a registry with
 * the metrics the built-in "main" dashboard reads (the performance monitor's gauges, the process
 * source's, instrument.http's request counter, as those write them), moved
 * by a driver every 100 ms and flushed to a real LMDB store so history exists; a day of history
 * seeded before the start; alerts, SLAs and scores from injected sources the test controls.
 * A second dashboard, "ops", has the chart types "main" lacks (bar and pie).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dashboard, type DashboardPid } from '../../actors/dashboard.js';
import { type DashboardConfig, dashboardSchema } from '../../src/config/schema.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import type { Counter } from '../../src/metrics/counter.js';
import type { Gauge } from '../../src/metrics/gauge.js';
import { flushTable } from '../../src/store/table-store.js';
import { OtpSystem, startServer } from '../../src/otp/index.js';
import type { AlertView, Scores, SlaView } from '../../src/server/protocol.js';
import { standaloneSources } from '../../src/server/dashboard-sources.js';
import type { ServerStats } from '../../src/server/http-server.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

export const TOKEN = 'page-test-token';
export const REFRESH_MS = 200;
export const DATA_POINTS = 50;

/** The alert the page must show as text: its title, message and a label carry markup. */
export const HOSTILE_ALERT: AlertView = {
  id: 'a-xss',
  severity: 'critical',
  status: 'firing',
  title: 'p99 latency above 100 ms <b>bold?</b>',
  message: '<img src=x onerror="window.__xss=1">',
  source: 'performance_monitor',
  labels: { route: '<script>window.__xss=2</script>', method: 'GET' },
  startedAt: Date.now() - 90_000,
  charts: ['response_time'],
};

export const PENDING_ALERT: AlertView = {
  id: 'a-mem',
  severity: 'warning',
  status: 'pending',
  title: 'Memory usage high',
  message: 'memory at 86 % for 30 s',
  source: 'alerting',
  labels: {},
  startedAt: Date.now() - 30_000,
  charts: ['resource_usage'],
};

export const SLAS: SlaView[] = [
  {
    name: 'api-latency-p95',
    kind: 'latency',
    target: 100,
    unit: 'ms',
    direction: 'lower_is_better',
    current: 42.5,
    compliance: 99.4,
    status: 'ok',
  },
  {
    name: 'availability',
    kind: 'availability',
    target: 99.9,
    unit: '%',
    direction: 'higher_is_better',
    current: 99.82,
    compliance: 99.9,
    status: 'warning',
    budget_remaining: 0.18,
  },
  {
    name: 'error-rate',
    kind: 'error_rate',
    target: 1,
    unit: '%',
    direction: 'lower_is_better',
    current: 2.4,
    compliance: 71,
    status: 'violated',
  },
  {
    name: 'throughput',
    kind: 'throughput',
    target: 1000,
    unit: 'req/s',
    direction: 'higher_is_better',
    current: null,
    compliance: null,
    status: 'no_data',
  },
];

export const SCORES: Scores = { latency: 92, throughput: 78, error_rate: 41, resources: null, overall: 70 };

const OPS = {
  name: 'ops',
  title: 'Ops: traffic mix',
  charts: [
    {
      id: 'throughput_bars',
      title: 'Throughput per tick',
      type: 'bar',
      unit: 'req/s',
      series: [{ label: 'req/s', metric: 'perf.throughput' }],
    },
    {
      id: 'status_mix',
      title: 'Responses by status',
      type: 'pie',
      unit: 'req/s',
      series: ['2xx', '4xx', '5xx'].map((c) => ({ label: c, metric: 'http.responses', labels: { class: c } })),
    },
  ],
};

/** Deterministic waves, so the charts look like traffic. */
function wave(n: number, period: number, amp: number): number {
  return amp * Math.sin((n / period) * Math.PI * 2);
}

interface Gauges {
  latency: Gauge;
  throughput: Gauge;
  errorRate: Gauge;
  cpu: Gauge;
  memory: Gauge;
  responses: Gauge;
  rss: Gauge;
  heap: Gauge;
  loopDelay: Gauge;
  requests: Counter;
}

/** Requests per driver step by status code: the status chart's 2xx rate is exactly 50 × its 5xx rate. */
export const REQUESTS_PER_STEP: Record<string, number> = { '200': 80, '204': 20, '404': 5, '503': 2 };

function setValues(g: Gauges, n: number): void {
  g.latency.set({ percentile: 'p50' }, 22 + wave(n, 40, 4) + wave(n, 7, 1.5));
  g.latency.set({ percentile: 'p95' }, 61 + wave(n, 40, 12) + wave(n, 9, 5));
  g.latency.set({ percentile: 'p99' }, 96 + wave(n, 40, 20) + wave(n, 5, 9));
  g.throughput.set(1250 + wave(n, 60, 300) + wave(n, 8, 60));
  g.errorRate.set(Math.max(0, 0.012 + wave(n, 25, 0.009) + wave(n, 6, 0.004)));
  g.cpu.set(48 + wave(n, 30, 10));
  g.memory.set(86 + wave(n, 50, 3));
  g.responses.set({ class: '2xx' }, 1180 + wave(n, 60, 250));
  g.responses.set({ class: '4xx' }, 52 + wave(n, 20, 12));
  g.responses.set({ class: '5xx' }, 14 + wave(n, 15, 6));
  g.rss.set(Math.round(180 * 2 ** 20 + wave(n, 50, 8 * 2 ** 20)));
  g.heap.set(Math.round(64 * 2 ** 20 + wave(n, 20, 6 * 2 ** 20)));
  g.loopDelay.set({ percentile: 'p99' }, Math.max(0, 4 + wave(n, 30, 3) + wave(n, 7, 1)));
  for (const [code, count] of Object.entries(REQUESTS_PER_STEP))
    g.requests.inc({ server: 'api', method: 'GET', code }, count);
}

export interface RealDashboard {
  /** Where the page is, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  readonly port: number;
  /** Alerts the alerts source answers from now on. */
  setAlerts(alerts: AlertView[]): void;
  /** Sets every driven value once (for a server started with `drive: false`). */
  setValuesOnce(): void;
  /** The server's counters (clients, frames, bad client messages, ...). */
  stats(): Promise<ServerStats>;
  /** Stops the dashboard process (its clients get 1001 and the port closes); the driver goes on. */
  stopProcess(): Promise<void>;
  /** Starts the dashboard process again, on the same port. */
  startProcess(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Seeds a day of history (every 10 min, every 30 s for the last hour, every refresh interval for
 * the last `data_points` intervals), starts the driver and
 * the dashboard process on 127.0.0.1 with `auth_token` {@link TOKEN}.
 * @param options.config `dashboard.json` keys over the test's (refresh 200 ms, 50 points, token, "ops")
 * @param options.seedHistory default true
 * @param options.drive move the values every 100 ms (default true); false: no value is ever set
 *   unless `setValuesOnce` is called, and nothing is flushed
 * @param options.scores what the scores source answers (default {@link SCORES})
 */
export async function startRealDashboard(
  options: { config?: Record<string, unknown>; seedHistory?: boolean; drive?: boolean; scores?: Scores | null } = {},
): Promise<RealDashboard> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-page-test-'));
  const store = MetricStore.open({ dataDir: path.join(dir, 'store') });
  const { registry } = newRegistry();
  const g: Gauges = {
    latency: registry.gauge('perf.latency', { unit: 'ms', labels: ['percentile'] }),
    throughput: registry.gauge('perf.throughput'),
    errorRate: registry.gauge('perf.error_rate'),
    cpu: registry.gauge('system.cpu'),
    memory: registry.gauge('system.memory.percent'),
    responses: registry.gauge('http.responses', { labels: ['class'] }),
    rss: registry.gauge('system.memory', { unit: 'bytes' }),
    heap: registry.gauge('system.memory.heap_used', { unit: 'bytes' }),
    loopDelay: registry.gauge('system.event_loop.delay', { unit: 'ms', labels: ['percentile'] }),
    requests: registry.counter('http.server.requests', { labels: ['server', 'method', 'code'] }),
  };
  const start = Date.now();
  const seedTimes: number[] = [];
  for (let t = start - 86_400_000; t < start - 3_600_000; t += 600_000) seedTimes.push(t);
  for (let t = start - 3_600_000; t < start - DATA_POINTS * REFRESH_MS; t += 30_000) seedTimes.push(t);
  // The live window before the start at the refresh rate, so a page that opens at once still
  // finds a full window of history (the driver's flushes cover the time after the start).
  for (let t = start - DATA_POINTS * REFRESH_MS; t < start; t += REFRESH_MS) seedTimes.push(t);
  for (const t of options.seedHistory === false ? [] : seedTimes) {
    setValues(g, Math.floor(t / 30_000));
    await flushTable(registry, store, t);
  }

  // The driver: new values every 100 ms (a step per 100 ms), flushed every other step.
  let n = Math.floor(start / 30_000);
  let flushing: Promise<unknown> = Promise.resolve();
  const driver = setInterval(() => {
    if (options.drive === false) return;
    n += 1;
    setValues(g, n);
    if (n % 2 === 0) flushing = flushing.then(() => flushTable(registry, store, Date.now())).catch(() => {});
  }, 100);

  let alerts: AlertView[] = [HOSTILE_ALERT, PENDING_ALERT];
  const scores = options.scores === undefined ? SCORES : options.scores;
  const sources = {
    ...standaloneSources(registry),
    alerts: async () => alerts,
    slas: async () => SLAS,
    scores: () => scores,
  };
  const logger = memoryLogger();
  const system = new OtpSystem({ logger });
  let port = 0;
  let pid: DashboardPid | null = null;
  const startProcess = async () => {
    const config = dashboardSchema.parse({
      port,
      refresh_interval: REFRESH_MS,
      data_points: DATA_POINTS,
      auth_token: TOKEN,
      dashboards: [OPS],
      ...options.config,
    }) as DashboardConfig;
    pid = await startServer(system, dashboard, {
      registry,
      store,
      config,
      derived: new DerivedValues(),
      sources,
      heartbeatMs: 5000,
    });
    const address = await pid.call({ type: 'address' });
    port = Number(new URL(address.url).port);
  };
  await startProcess();
  return {
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get port() {
      return port;
    },
    stats: async () => {
      if (!pid) throw new Error('the dashboard process is stopped');
      return pid.call({ type: 'stats' });
    },
    setAlerts: (next) => {
      alerts = next;
    },
    setValuesOnce: () => setValues(g, ++n),
    stopProcess: async () => {
      if (pid?.alive) await pid.stop();
      pid = null;
    },
    startProcess,
    close: async () => {
      clearInterval(driver);
      if (pid?.alive) await pid.stop();
      system.close();
      await flushing;
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
