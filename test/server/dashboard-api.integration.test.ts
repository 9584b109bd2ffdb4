import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { MonitorClock } from '../../src/clock.js';
import { flushTable } from '../../src/store/table-store.js';
import type {
  AlertView,
  DashboardResponse,
  HealthResponse,
  HistoryResponse,
  RealtimeResponse,
  SlaView,
  StoreHealth,
} from '../../src/server/protocol.js';
import { MAIN_DASHBOARD } from '../../src/server/dashboards.js';
import { MCP_DASHBOARD } from '../../src/server/mcp-dashboard.js';
import { PAGE_HTML, runCleanups, startDashboard } from './dashboard-fixture.js';

afterEach(runCleanups);

const T0 = 1_700_000_000_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A raw HTTP request (fetch would normalize away what some tests send). */
function http(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string; path?: string } = {},
): Promise<Answer> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: options.path ?? `${u.pathname}${u.search}`,
        method: options.method ?? 'GET',
        headers: options.headers,
        agent: false,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

async function getJson<T>(url: string, headers?: Record<string, string>): Promise<{ status: number; body: T }> {
  const a = await http(url, { headers });
  return { status: a.status, body: JSON.parse(a.body) as T };
}

/** The main dashboard's gauges, as the performance monitor would write them. */
function perfGauges(registry: import('../../src/metrics/registry.js').Registry) {
  const latency = registry.gauge('perf.latency', { unit: 'ms', labels: ['percentile'] });
  const throughput = registry.gauge('perf.throughput');
  const errorRate = registry.gauge('perf.error_rate');
  const cpu = registry.gauge('system.cpu');
  const memory = registry.gauge('system.memory.percent');
  return { latency, throughput, errorRate, cpu, memory };
}

describe('dashboard HTTP API', () => {
  it('lists the dashboards and answers generate_dashboard with the config it was started with', async () => {
    const f = await startDashboard({ config: { data_points: 50, theme: 'light' } });
    const list = await getJson<unknown[]>(`${f.url}/api/dashboards`);
    expect(list.status).toBe(200);
    expect(list.body).toEqual([MAIN_DASHBOARD, MCP_DASHBOARD]);
    const main = await getJson<DashboardResponse>(`${f.url}/api/dashboards/main`);
    expect(main.body.charts.map((c) => [c.id, c.title, c.type])).toEqual([
      ['response_time', 'Response Time', 'line'],
      ['throughput', 'Throughput', 'line'],
      ['error_rate', 'Error Rate', 'line'],
      ['status_codes', 'Requests by status', 'line'],
      ['resource_usage', 'Resource Usage', 'gauge'],
      ['memory', 'Memory', 'line'],
      ['event_loop', 'Event-loop lag', 'line'],
    ]);
    expect(main.body).toMatchObject({
      data_points: 50,
      theme: 'light',
      refresh_interval: 600_000,
      historical_range: 86_400_000,
      real_time_enabled: true,
      alert_highlighting: true,
    });
    const missing = await getJson<{ error: string }>(`${f.url}/api/dashboards/nope`);
    expect(missing).toEqual({ status: 404, body: { error: 'unknown dashboard "nope" (available: main, mcp)' } });
  });

  it('serves configured dashboards after main, with chart_type for charts without a type', async () => {
    const f = await startDashboard({
      config: {
        chart_type: 'bar',
        dashboards: [
          {
            name: 'ops',
            title: 'Ops',
            charts: [{ id: 'rt', title: 'RT', series: [{ label: 'p95', metric: 'response_time', stat: 'p95' }] }],
          },
        ],
      },
    });
    const list = await getJson<DashboardResponse[]>(`${f.url}/api/dashboards`);
    expect(list.body.map((d) => d.name)).toEqual(['main', 'mcp', 'ops']);
    expect(list.body[2]!.charts[0]).toEqual({
      id: 'rt',
      title: 'RT',
      type: 'bar',
      unit: '',
      series: [{ label: 'p95', metric: 'response_time', stat: 'p95' }],
    });
  });

  it('answers real-time data with the values in the table and the injected alerts and scores', async () => {
    const alert: AlertView = {
      id: 'a1',
      severity: 'critical',
      status: 'firing',
      title: 'p95 high',
      message: '<b>x</b>',
      source: 'perf',
      labels: {},
      startedAt: T0,
    };
    const scores = { latency: 80, throughput: 90, error_rate: 100, resources: 70, overall: 85 };
    const f = await startDashboard({ sources: { alerts: async () => [alert], scores: () => scores } });
    const g = perfGauges(f.registry);
    g.latency.set({ percentile: 'p50' }, 12);
    g.latency.set({ percentile: 'p95' }, 48.5);
    g.latency.set({ percentile: 'p99' }, 97);
    g.throughput.set(1234);
    g.cpu.set(37.5);
    f.registry.gauge('system.memory').set(123_456_789);
    f.registry.gauge('system.event_loop.delay', { labels: ['percentile'] }).set({ percentile: 'p99' }, 7.5);
    // instrument.http's counter: the status chart sums each class over servers, methods and codes.
    const requests = f.registry.counter('http.server.requests', { labels: ['server', 'method', 'code'] });
    requests.inc({ server: 'api', method: 'GET', code: '200' }, 10);
    const rt = await getJson<RealtimeResponse>(`${f.url}/api/realtime?dashboard=main`);
    expect(rt.status).toBe(200);
    const at = f.clock.now;
    const noRate = { '2xx': [at, null], '3xx': [at, null], '4xx': [at, null], '5xx': [at, null] };
    expect(rt.body).toEqual({
      at,
      dashboard: 'main',
      charts: {
        response_time: { p50: [at, 12], p95: [at, 48.5], p99: [at, 97] },
        throughput: { 'req/s': [at, 1234] },
        error_rate: { errors: [at, null] },
        // A rate needs two readings; a class with no series has no data.
        status_codes: noRate,
        resource_usage: { CPU: [at, 37.5], 'Memory of limit': [at, null] },
        memory: { RSS: [at, 123_456_789], 'heap used': [at, null] },
        event_loop: { p99: [at, 7.5] },
      },
      alerts: [alert],
      scores,
    });
    // Two seconds later: 40 more 2xx over two codes and servers, 6 more 5xx, 2 aborted (no class).
    requests.inc({ server: 'api', method: 'GET', code: '200' }, 30);
    requests.inc({ server: 'admin', method: 'POST', code: '204' }, 10);
    requests.inc({ server: 'api', method: 'GET', code: '503' }, 6);
    requests.inc({ server: 'api', method: 'GET', code: 'aborted' }, 2);
    f.clock.now += 2000;
    const later = await getJson<RealtimeResponse>(`${f.url}/api/realtime?dashboard=main`);
    const t = f.clock.now;
    expect(later.body.charts.status_codes).toEqual({
      '2xx': [t, 20],
      '3xx': [t, null],
      '4xx': [t, null],
      '5xx': [t, null],
    });
    f.clock.now += 2000;
    requests.inc({ server: 'api', method: 'GET', code: '503' }, 8);
    const third = await getJson<RealtimeResponse>(`${f.url}/api/realtime?dashboard=main`);
    expect(third.body.charts.status_codes).toEqual({
      '2xx': [f.clock.now, 0],
      '3xx': [f.clock.now, null],
      '4xx': [f.clock.now, null],
      '5xx': [f.clock.now, 4],
    });
    const bad = await getJson<{ error: string }>(`${f.url}/api/realtime?dashbaord=main`);
    expect(bad).toEqual({ status: 400, body: { error: 'unknown parameter "dashbaord" (allowed: dashboard)' } });
  });

  it('keeps live rates following the counter after the wall clock steps back an hour (rates run on steady time, points on stamps)', async () => {
    let wall = T0;
    let mono = 1000;
    const clock = new MonitorClock({ wallMs: () => wall, monoMs: () => mono });
    const f = await startDashboard({ args: { now: () => clock.stampMs(), steadyNow: () => clock.steadyMs() } });
    const requests = f.registry.counter('http.server.requests', { labels: ['server', 'method', 'code'] });
    const read = async () => (await getJson<RealtimeResponse>(`${f.url}/api/realtime?dashboard=main`)).body;
    requests.inc({ server: 'api', method: 'GET', code: '200' }, 10);
    await read();
    wall -= 3_600_000;
    let lastAt = T0;
    for (let s = 1; s <= 3; s++) {
      requests.inc({ server: 'api', method: 'GET', code: '200' }, 20 * s);
      wall += 2000;
      mono += 2000;
      const body = await read();
      // Froze at its last value (then null) for the hour before: stamps hold while the wall clock is behind.
      expect(body.charts.status_codes!['2xx']![1]).toBe(10 * s);
      expect(body.at).toBeGreaterThanOrEqual(lastAt); // shown times never go back
      lastAt = body.at;
    }
  });
  it('reads history from LMDB within the range, at most `points` points, averaged per bucket', async () => {
    const f = await startDashboard({ config: { data_points: 20 } });
    const g = perfGauges(f.registry);
    // 100 points, one per second, value = second index.
    for (let i = 0; i < 100; i++) {
      g.latency.set({ percentile: 'p95' }, i);
      await flushTable(f.registry, f.store, T0 + i * 1000);
    }
    const labels = encodeURIComponent(JSON.stringify({ percentile: 'p95' }));
    // All of it in 10 buckets of 10 s: each bucket averages 10 consecutive values.
    const all = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=perf.latency&labels=${labels}&from=${T0}&to=${T0 + 99_999}&points=10`,
    );
    expect(all.status).toBe(200);
    expect(all.body.series).toHaveLength(1);
    const s = all.body.series[0]!;
    expect(s).toMatchObject({
      label: 'perf.latency',
      metric: 'perf.latency',
      labels: { percentile: 'p95' },
      stat: 'value',
    });
    expect(s.points).toHaveLength(10);
    expect(s.points.map(([, v]) => v)).toEqual([4.5, 14.5, 24.5, 34.5, 44.5, 54.5, 64.5, 74.5, 84.5, 94.5]);
    // A sub-range: only points inside it, raw when they fit.
    const part = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=perf.latency&labels=${labels}&from=${T0 + 50_000}&to=${T0 + 59_000}&points=20`,
    );
    expect(part.body.series[0]!.points).toEqual(Array.from({ length: 10 }, (_, i) => [T0 + (50 + i) * 1000, 50 + i]));
    // The default point budget is data_points.
    const dflt = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=perf.latency&labels=${labels}&from=${T0}&to=${T0 + 99_999}`,
    );
    expect(dflt.body.series[0]!.points.length).toBeLessThanOrEqual(20);
    expect(dflt.body.series[0]!.points.length).toBeGreaterThan(15);
  });

  it('reads a dashboard history per chart series, and histogram percentiles from their derived series', async () => {
    const f = await startDashboard({
      config: {
        dashboards: [
          {
            name: 'rt',
            title: 'RT',
            charts: [
              {
                id: 'h',
                title: 'H',
                series: [
                  { label: 'p99', metric: 'response_time', stat: 'p99' },
                  { label: 'n', metric: 'response_time', stat: 'count' },
                ],
              },
            ],
          },
        ],
      },
    });
    const g = perfGauges(f.registry);
    const requests = f.registry.counter('http.server.requests', { labels: ['server', 'method', 'code'] });
    g.throughput.set(10);
    requests.inc({ server: 'api', method: 'GET', code: '200' }, 100);
    requests.inc({ server: 'api', method: 'GET', code: '500' }, 1);
    await flushTable(f.registry, f.store, T0);
    g.throughput.set(30);
    requests.inc({ server: 'api', method: 'GET', code: '200' }, 50);
    requests.inc({ server: 'api', method: 'POST', code: '201' }, 25);
    requests.inc({ server: 'api', method: 'GET', code: '500' }, 5);
    await flushTable(f.registry, f.store, T0 + 5000);
    const main = await getJson<HistoryResponse>(`${f.url}/api/history?dashboard=main&from=${T0}&to=${T0 + 10_000}`);
    expect(main.status).toBe(200);
    const byChart = Object.fromEntries(main.body.series.map((s) => [`${s.chart}/${s.label}`, s.points]));
    expect(Object.keys(byChart)).toEqual([
      'response_time/p50',
      'response_time/p95',
      'response_time/p99',
      'throughput/req/s',
      'error_rate/errors',
      'status_codes/2xx',
      'status_codes/3xx',
      'status_codes/4xx',
      'status_codes/5xx',
      'resource_usage/CPU',
      'resource_usage/Memory of limit',
      'memory/RSS',
      'memory/heap used',
      'event_loop/p99',
    ]);
    expect(byChart['throughput/req/s']).toEqual([
      [T0, 10],
      [T0 + 5000, 30],
    ]);
    // Status classes from the stored counters: per-series rates, summed per class (the 201
    // series is new at T0 + 5000, so it has no rate yet).
    expect(byChart['status_codes/2xx']).toEqual([[T0 + 5000, 10]]);
    expect(byChart['status_codes/5xx']).toEqual([[T0 + 5000, 1]]);
    expect(byChart['status_codes/4xx']).toEqual([]);
    expect(byChart['error_rate/errors']).toEqual([]);

    const h = f.registry.histogram('response_time', { labels: ['server'] });
    for (let i = 1; i <= 100; i++) h.observe({ server: 'a' }, i);
    await flushTable(f.registry, f.store, T0 + 1000);
    const rt = await getJson<HistoryResponse>(`${f.url}/api/history?dashboard=rt&from=${T0}&to=${T0 + 10_000}`);
    const [p99, n] = rt.body.series;
    expect(n!.points).toEqual([[T0 + 1000, 100]]);
    expect(p99!.points).toHaveLength(1);
    expect(p99!.points[0]![1]).toBeCloseTo(99, -0.5); // sketch: within 1 %
    const p99direct = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=response_time&stat=p99&labels=${encodeURIComponent('{"server":"a"}')}&from=${T0}&to=${T0 + 10_000}`,
    );
    expect(p99direct.body.series[0]!.points).toEqual(p99!.points);
  });

  it('starts a range with the value a series held at its start, since unchanged series are not rewritten', async () => {
    const f = await startDashboard();
    const g = perfGauges(f.registry);
    g.errorRate.set(0.02);
    await flushTable(f.registry, f.store, T0);
    await flushTable(f.registry, f.store, T0 + 60_000); // unchanged: no new point
    g.errorRate.set(0.05);
    await flushTable(f.registry, f.store, T0 + 90_000);
    const later = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=perf.error_rate&from=${T0 + 30_000}&to=${T0 + 120_000}`,
    );
    expect(later.body.series[0]!.points).toEqual([
      [T0 + 30_000, 0.02],
      [T0 + 90_000, 0.05],
    ]);
    const before = await getJson<HistoryResponse>(
      `${f.url}/api/history?metric=perf.error_rate&from=${T0 - 60_000}&to=${T0 - 1}`,
    );
    expect(before.body.series[0]!.points).toEqual([]);
  });

  it('answers bad history parameters with 400 and the reason', async () => {
    const f = await startDashboard({ config: { data_points: 100, historical_range: 3_600_000 } });
    perfGauges(f.registry);
    const cases: [string, number, string][] = [
      [`metric=perf.throughput&points=101`, 400, 'points must be an integer from 1 to 100 (data_points), got 101'],
      [`metric=perf.throughput&points=0`, 400, 'points must be an integer from 1 to 100 (data_points), got 0'],
      [`metric=perf.throughput&from=${T0}&to=${T0}`, 400, `from (${T0}) must be before to (${T0})`],
      [`metric=perf.throughput&from=abc`, 400, 'from must be an integer (ms since the epoch for from/to), got "abc"'],
      [
        `metric=perf.throughput&from=0&to=${30 * 86_400_000}`,
        400,
        `from..to spans ${30 * 86_400_000} ms, longer than the longest allowed range, ${7 * 86_400_000} ms`,
      ],
      [`metric=perf.throughput&stat=p42`, 400, 'stat "p42" is not one of value, rate, p50, p95, p99, mean, count'],
      [
        `metric=perf.throughput&stat=p95`,
        400,
        'stat p95 applies to histograms; metric "perf.throughput" is a gauge (use value or rate)',
      ],
      [
        `metric=perf.latency&labels=quantile`,
        400,
        'labels must be a JSON object of label name to string value, e.g. {"percentile":"p95"}',
      ],
      [`metric=bad%20name`, 400, 'metric "bad name" is not a metric name'],
      [`dashboard=main&metric=perf.throughput`, 400, 'give exactly one of metric or dashboard'],
      [``, 400, 'give exactly one of metric or dashboard'],
      [`dashboard=nope`, 404, 'unknown dashboard "nope" (available: main, mcp)'],
      [`metric=never.written`, 404, 'no history for metric "never.written"'],
      [
        `metric=perf.throughput&colour=red`,
        400,
        'unknown parameter "colour" (allowed: metric, labels, stat, dashboard, from, to, points)',
      ],
    ];
    for (const [query, status, error] of cases) {
      const a = await getJson<{ error: string }>(`${f.url}/api/history?${query}`);
      expect({ query, ...a }).toEqual({ query, status, body: { error } });
    }
  });

  it('exports history as CSV and JSON downloads, escaping untrusted text', async () => {
    const f = await startDashboard({ config: { export_format: 'csv' } });
    const g = f.registry.gauge('queue.depth', { labels: ['queue'] });
    g.set({ queue: 'a,"b"\nc' }, 5);
    g.set({ queue: '=cmd()' }, 7);
    await flushTable(f.registry, f.store, T0);
    const csv = await http(
      `${f.url}/api/export?metric=queue.depth&labels=${encodeURIComponent(JSON.stringify({ queue: 'a,"b"\nc' }))}&from=${T0 - 1000}&to=${T0 + 1000}`,
    );
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.headers['content-disposition']).toBe(
      `attachment; filename="erlmcp-queue.depth-${T0 - 1000}-${T0 + 1000}.csv"`,
    );
    expect(csv.body).toBe(
      'chart,series,metric,labels,stat,timestamp_ms,time,value\r\n' +
        `,queue.depth,queue.depth,"{""queue"":""a,\\""b\\""\\nc""}",value,${T0},${new Date(T0).toISOString()},5\r\n`,
    );
    const formula = await http(
      `${f.url}/api/export?metric=queue.depth&labels=${encodeURIComponent('{"queue":"=cmd()"}')}&from=${T0 - 1000}&to=${T0 + 1000}&format=csv`,
    );
    expect(formula.body.split('\r\n')[1]).toBe(
      `,queue.depth,queue.depth,"{""queue"":""=cmd()""}",value,${T0},${new Date(T0).toISOString()},7`,
    );

    const json = await http(`${f.url}/api/export?dashboard=main&from=${T0 - 1000}&to=${T0 + 1000}&format=json`);
    expect(json.headers['content-disposition']).toBe(
      `attachment; filename="erlmcp-main-${T0 - 1000}-${T0 + 1000}.json"`,
    );
    const parsed = JSON.parse(json.body) as HistoryResponse & { dashboard: string };
    expect(parsed.dashboard).toBe('main');
    expect(parsed.series).toHaveLength(MAIN_DASHBOARD.charts.reduce((n, c) => n + c.series.length, 0));
    const bad = await getJson<{ error: string }>(`${f.url}/api/export?dashboard=main&format=xml`);
    expect(bad).toEqual({ status: 400, body: { error: 'format must be json or csv, got "xml"' } });
  });

  it('answers alerts, SLAs, the report, /metrics and /health from the injected sources', async () => {
    const sla: SlaView = {
      name: 'latency',
      kind: 'response_time',
      target: 100,
      unit: 'ms',
      direction: 'lower_is_better',
      current: 80,
      compliance: 100,
      status: 'ok',
    };
    const seenAccept: (string | undefined)[] = [];
    const f = await startDashboard({
      sources: {
        slas: async () => [sla],
        report: async () => ({ scores: { overall: 91 } }),
        metrics: async (accept) => {
          seenAccept.push(accept);
          return { contentType: 'application/openmetrics-text; version=1.0.0; charset=utf-8', body: '# EOF\n' };
        },
        processes: () => ({ erlmcp_metrics_collector: 'running', erlmcp_alerting: 'down' }),
      },
    });
    expect(await getJson(`${f.url}/api/slas`)).toEqual({ status: 200, body: [sla] });
    expect(await getJson(`${f.url}/api/alerts`)).toEqual({ status: 200, body: [] });
    expect(await getJson(`${f.url}/api/report`)).toEqual({ status: 200, body: { scores: { overall: 91 } } });
    const metrics = await http(`${f.url}/metrics`, { headers: { accept: 'application/openmetrics-text' } });
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(metrics.body).toBe('# EOF\n');
    expect(seenAccept).toEqual(['application/openmetrics-text']);
    const health = await getJson<HealthResponse>(`${f.url}/health`);
    expect(health.body).toEqual({
      status: 'degraded',
      uptime_s: 0,
      processes: { erlmcp_metrics_collector: 'running', erlmcp_alerting: 'down' },
    });
  });

  it("says degraded in /health while the store's writes fail, naming the error, and ok once they commit again", async () => {
    let store: StoreHealth = {
      status: 'failing',
      error: 'No space left on device',
      reason: 'ENOSPC',
      since: 5,
      attempts: 2,
    };
    const f = await startDashboard({
      sources: { processes: () => ({ erlmcp_metrics_collector: 'running' }), storeHealth: () => store },
    });
    const failing = await getJson<HealthResponse>(`${f.url}/health`);
    expect(failing.body).toEqual({
      status: 'degraded',
      uptime_s: 0,
      processes: { erlmcp_metrics_collector: 'running' },
      store,
    });
    store = { status: 'ok' };
    const ok = await getJson<HealthResponse>(`${f.url}/health`);
    expect(ok.body).toEqual({
      status: 'ok',
      uptime_s: 0,
      processes: { erlmcp_metrics_collector: 'running' },
      store: { status: 'ok' },
    });
  });

  it('serves /metrics in the Prometheus text format from the table by default', async () => {
    const f = await startDashboard();
    f.registry.counter('requests.total').inc(3);
    const metrics = await http(`${f.url}/metrics`);
    expect(metrics.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.body).toMatch(/^requests_total 3$/m);
  });

  it('answers 503 with the reason when a source fails, is slow, or has nothing yet, and keeps serving', async () => {
    const f = await startDashboard({
      sources: {
        slas: async () => {
          throw new Error('sla store closed');
        },
        alerts: () => new Promise(() => undefined),
      },
      args: { sourceTimeoutMs: 50 },
    });
    expect(await getJson(`${f.url}/api/slas`)).toEqual({
      status: 503,
      body: { error: 'slas unavailable: sla store closed' },
    });
    expect(await getJson(`${f.url}/api/alerts`)).toEqual({
      status: 503,
      body: { error: 'alerts unavailable: no answer within 50 ms' },
    });
    expect(await getJson(`${f.url}/api/report`)).toEqual({
      status: 503,
      body: { error: 'no performance report yet: the performance monitor has not run a check' },
    });
    expect((await getJson(`${f.url}/api/dashboards`)).status).toBe(200);
    expect(f.pid.alive).toBe(true);
  });

  it('answers 500 when the store fails under a request, logs it without the token, and keeps serving', async () => {
    const f = await startDashboard({ config: { auth_token: 'log-me-not' } });
    perfGauges(f.registry).throughput.set(1);
    await flushTable(f.registry, f.store, T0);
    await f.store.close();
    const a = await getJson<{ error: string }>(
      `${f.url}/api/history?metric=perf.throughput&from=${T0 - 1}&to=${T0 + 1}&token=log-me-not`,
    );
    expect(a).toEqual({ status: 500, body: { error: 'internal error (logged on the server)' } });
    const logged = f.logger.records.find((r) => r.msg === 'dashboard request failed');
    expect(logged?.fields.path).toBe('/api/history');
    expect(JSON.stringify(f.logger.records)).not.toContain('log-me-not');
    expect((await http(`${f.url}/api/dashboards?token=log-me-not`)).status).toBe(200);
  });

  it('serves the page with a CSP that allows no inline script, its assets and uPlot, and nothing outside them', async () => {
    const f = await startDashboard();
    const page = await http(`${f.url}/`);
    expect(page.status).toBe(200);
    expect(page.body).toBe(PAGE_HTML);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    const app = await http(`${f.url}/assets/app.js`);
    expect(app).toMatchObject({ status: 200, body: 'console.log("app");\n' });
    expect(app.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const uplot = await http(`${f.url}/assets/uPlot.iife.min.js`);
    expect(uplot.status).toBe(200);
    expect(uplot.body).toContain('uPlot');
    expect((await http(`${f.url}/assets/uPlot.min.css`)).headers['content-type']).toBe('text/css; charset=utf-8');
    for (const path of [
      '/assets/../package.json',
      '/assets/%2e%2e%2fpackage.json',
      '/assets/.hidden',
      '/package.json',
      '/assets/',
    ]) {
      expect({ path, status: (await http(f.url, { path })).status }).toEqual({ path, status: 404 });
    }
  });

  it('refuses other methods (405), long URLs (414), bodies (413), foreign hosts and origins (403)', async () => {
    const f = await startDashboard();
    const post = await http(`${f.url}/api/alerts`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    expect((await http(`${f.url}/api/alerts?x=${'a'.repeat(5000)}`)).status).toBe(414);
    const body = await http(`${f.url}/api/alerts`, {
      headers: { 'content-type': 'text/plain', 'content-length': '2000' },
      body: 'x'.repeat(2000),
    });
    expect(body.status).toBe(413);
    const rebinding = await getJson<{ error: string }>(`${f.url}/api/alerts`, { host: 'evil.example:8080' });
    expect(rebinding.status).toBe(403);
    expect(rebinding.body.error).toBe(
      'host "evil.example:8080" is not this server (use 127.0.0.1 or localhost, or add "http://evil.example:8080" to dashboard.allowed_origins)',
    );
    const origin = await getJson<{ error: string }>(`${f.url}/api/alerts`, { origin: 'http://evil.example' });
    expect(origin).toEqual({
      status: 403,
      body: { error: 'origin "http://evil.example" is not allowed (add it to dashboard.allowed_origins)' },
    });
    const host = new URL(f.url).host;
    expect((await http(`${f.url}/api/alerts`, { headers: { origin: `http://${host}` } })).status).toBe(200);
    const head = await http(`${f.url}/api/dashboards`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('takes a foreign host once it is added to allowed_origins, as the 403 says', async () => {
    const f = await startDashboard({ config: { allowed_origins: ['http://evil.example:8080'] } });
    expect((await getJson(`${f.url}/api/alerts`, { host: 'evil.example:8080' })).status).toBe(200);
    expect((await getJson(`${f.url}/api/alerts`, { host: 'other.example:8080' })).status).toBe(403);
  });

  it('requires the token for the API and /metrics, by header or query, but not for the page or /health', async () => {
    const f = await startDashboard({
      config: { auth_token: 's3cret-token', allowed_origins: ['http://localhost:3000'] },
    });
    const none = await http(`${f.url}/api/alerts`);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(JSON.parse(none.body)).toEqual({
      error: 'a valid token is required: send "Authorization: Bearer <token>" or ?token=<token>',
    });
    expect((await http(`${f.url}/api/alerts`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await http(`${f.url}/api/alerts`, { headers: { authorization: 'Bearer s3cret-tokenX' } })).status).toBe(
      401,
    );
    expect((await http(`${f.url}/metrics`)).status).toBe(401);
    expect((await http(`${f.url}/api/alerts`, { headers: { authorization: 'Bearer s3cret-token' } })).status).toBe(200);
    expect((await http(`${f.url}/api/alerts?token=s3cret-token`)).status).toBe(200);
    expect(
      (await http(`${f.url}/api/alerts?token=s3cret-token`, { headers: { origin: 'http://localhost:3000' } })).status,
    ).toBe(200);
    expect((await http(`${f.url}/`)).status).toBe(200);
    expect((await http(`${f.url}/health`)).status).toBe(200);
  });
});
