/**
 * A stand-in dashboard server for the page's browser test: node:http + ws speaking exactly
 * src/protocol.ts (the page at `/`, its files and uPlot under `/assets/`, the dashboard, history
 * and SLA endpoints, and the `/ws` feed with `connected`, a `frame` per refresh and `pong`s).
 * It sends a strict Content-Security-Policy (no inline script or style), as the real server does,
 * so anything the page does that CSP forbids shows up as a console error.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WebSocket, WebSocketServer } from 'ws';
import type { AlertView, ChartPoints, DashboardResponse, HistoryResponse, Point, Scores, ServerMsg, SlaView } from '../../src/protocol.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PAGE_DIR = path.join(ROOT, 'src/dashboard-page');
const UPLOT_DIR = path.join(ROOT, 'node_modules/uplot/dist');
const UPLOT_FILES = new Set(['uPlot.iife.min.js', 'uPlot.min.css']);
const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

export const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The alert the page must show as text: its message and a label carry markup. */
export const HOSTILE_ALERT: AlertView = {
  id: 'a-xss',
  severity: 'critical',
  status: 'firing',
  title: 'p99 latency above 100 ms <b>bold?</b>',
  message: '<img src=x onerror="window.__xss=1">',
  source: 'performance_monitor',
  labels: { route: '<script>window.__xss=2</script>', method: 'GET' },
  startedAt: Date.now() - 90_000,
  charts: ['latency'],
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
  charts: ['resources'],
};

export const DASHBOARD: DashboardResponse = {
  name: 'main',
  title: 'erlmcp v3 Performance Dashboard',
  refresh_interval: 200,
  data_points: 50,
  historical_range: 86_400_000,
  theme: 'dark',
  alert_highlighting: true,
  real_time_enabled: true,
  charts: [
    {
      id: 'latency',
      title: 'Response Time',
      type: 'line',
      unit: 'ms',
      series: [
        { label: 'p50', metric: 'perf.latency', stat: 'p50' },
        { label: 'p95', metric: 'perf.latency', stat: 'p95' },
        { label: 'p99', metric: 'perf.latency', stat: 'p99' },
      ],
    },
    { id: 'throughput', title: 'Throughput', type: 'line', unit: 'req/s', series: [{ label: 'requests', metric: 'requests.total', stat: 'rate' }] },
    { id: 'errors', title: 'Error Rate', type: 'bar', unit: '%', series: [{ label: 'errors', metric: 'requests.errors', stat: 'rate' }] },
    {
      id: 'resources',
      title: 'Resource Usage',
      type: 'gauge',
      unit: '%',
      max: 100,
      series: [
        { label: 'cpu', metric: 'system.cpu' },
        { label: 'memory', metric: 'system.memory' },
      ],
    },
    {
      id: 'status_mix',
      title: 'Responses by status',
      type: 'pie',
      unit: 'req/s',
      series: [
        { label: '2xx', metric: 'requests.total', labels: { class: '2xx' }, stat: 'rate' },
        { label: '4xx', metric: 'requests.total', labels: { class: '4xx' }, stat: 'rate' },
        { label: '5xx', metric: 'requests.total', labels: { class: '5xx' }, stat: 'rate' },
      ],
    },
  ],
};

const SLAS: SlaView[] = [
  { name: 'api-latency-p95', kind: 'latency', target: 100, unit: 'ms', direction: 'lower_is_better', current: 42.5, compliance: 99.4, status: 'ok' },
  { name: 'availability', kind: 'availability', target: 99.9, unit: '%', direction: 'higher_is_better', current: 99.82, compliance: 99.9, status: 'warning', budget_remaining: 0.18 },
  { name: 'error-rate', kind: 'error_rate', target: 1, unit: '%', direction: 'lower_is_better', current: 2.4, compliance: 71, status: 'violated' },
  { name: 'throughput', kind: 'throughput', target: 1000, unit: 'req/s', direction: 'higher_is_better', current: null, compliance: null, status: 'no_data' },
];

const SCORES: Scores = { latency: 92, throughput: 78, error_rate: 41, resources: null, overall: 70 };

/** A chart series' value at step `n` (deterministic waves, so screenshots look like traffic). */
function valueAt(chart: string, label: string, n: number): number {
  const w = (period: number, amp: number) => amp * Math.sin((n / period) * Math.PI * 2);
  switch (`${chart}/${label}`) {
    case 'latency/p50': return 22 + w(40, 4) + w(7, 1.5);
    case 'latency/p95': return 61 + w(40, 12) + w(9, 5);
    case 'latency/p99': return 96 + w(40, 20) + w(5, 9);
    case 'throughput/requests': return 1250 + w(60, 300) + w(8, 60);
    case 'errors/errors': return Math.max(0, 1.2 + w(25, 0.9) + w(6, 0.4));
    case 'resources/cpu': return 48 + w(30, 10);
    case 'resources/memory': return 86 + w(50, 3);
    case 'status_mix/2xx': return 1180 + w(60, 250);
    case 'status_mix/4xx': return 52 + w(20, 12);
    case 'status_mix/5xx': return 14 + w(15, 6);
    default: return n;
  }
}

export interface FixtureServer {
  readonly url: string;
  /** Alerts sent in the following frames. */
  setAlerts(alerts: AlertView[]): void;
  /** Cuts every WebSocket without a close handshake (a crashed server or a dead network). */
  dropClients(): void;
  /** While on, WebSocket upgrades are answered 503 (a server that is down), their times kept in `refusedAt`. */
  refuseClients(on: boolean): void;
  readonly refusedAt: number[];
  /** Open WebSocket clients. */
  clientCount(): number;
  /** Client messages received, in order. */
  readonly received: unknown[];
  /** The chart points of the frames sent (the newest 500), oldest first. */
  readonly sent: Array<{ at: number; charts: Record<string, ChartPoints> }>;
  /** Requests answered, as `METHOD path`. */
  readonly requests: string[];
  close(): Promise<void>;
}

/**
 * Starts the fixture on 127.0.0.1 (free port).
 * @param opts.token when set, `/api/*` needs `Authorization: Bearer <token>` and `/ws` `?token=<token>`
 */
export async function startFixtureServer(opts: { token?: string } = {}): Promise<FixtureServer> {
  let alerts: AlertView[] = [HOSTILE_ALERT, PENDING_ALERT];
  let step = 1000;
  const received: unknown[] = [];
  const requests: string[] = [];
  let refusing = false;
  const refusedAt: number[] = [];
  const sent: Array<{ at: number; charts: Record<string, ChartPoints> }> = [];
  const refresh = DASHBOARD.refresh_interval;

  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-security-policy': CSP }).end(JSON.stringify(body));
  };
  const file = async (res: ServerResponse, fullPath: string) => {
    const body = await readFile(fullPath);
    res.writeHead(200, {
      'content-type': TYPES[path.extname(fullPath)] ?? 'application/octet-stream',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-cache',
    }).end(body);
  };

  const history = (url: URL): HistoryResponse | null => {
    const from = Number(url.searchParams.get('from'));
    const to = Number(url.searchParams.get('to'));
    if (url.searchParams.get('dashboard') !== 'main' || !Number.isFinite(from) || !Number.isFinite(to) || from >= to) return null;
    const n = DASHBOARD.data_points;
    const stepMs = (to - from) / (n - 1);
    const series: HistoryResponse['series'] = [];
    for (const chart of DASHBOARD.charts) {
      for (const s of chart.series) {
        const points: Point[] = [];
        for (let i = 0; i < n; i++) {
          const t = Math.round(from + i * stepMs);
          // A hole in the middle of each range: the page must leave a gap, not draw across.
          points.push([t, i === Math.floor(n / 2) ? null : valueAt(chart.id, s.label, Math.floor(t / (stepMs || 1)))]);
        }
        series.push({ chart: chart.id, label: s.label, metric: s.metric, labels: s.labels ?? {}, stat: s.stat ?? 'value', points });
      }
    }
    return { from, to, series };
  };

  const authorised = (req: IncomingMessage, url: URL, viaQuery: boolean) => {
    if (!opts.token) return true;
    if (viaQuery) return url.searchParams.get('token') === opts.token;
    return req.headers.authorization === `Bearer ${opts.token}`;
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push(`${req.method} ${url.pathname}`);
    void (async () => {
      if (url.pathname === '/') return file(res, path.join(PAGE_DIR, 'index.html'));
      if (url.pathname.startsWith('/assets/')) {
        const name = url.pathname.slice('/assets/'.length);
        if (UPLOT_FILES.has(name)) return file(res, path.join(UPLOT_DIR, name));
        if (/^[\w-]+\.(js|css|svg)$/.test(name)) return file(res, path.join(PAGE_DIR, name)).catch(() => send(res, 404, { error: `no asset "${name}"` }));
        return send(res, 404, { error: `no asset "${name}"` });
      }
      if (url.pathname.startsWith('/api/') && !authorised(req, url, false)) return send(res, 401, { error: 'missing or wrong bearer token' });
      if (url.pathname === '/api/dashboards/main') return send(res, 200, DASHBOARD);
      if (url.pathname === '/api/history') {
        const h = history(url);
        return h ? send(res, 200, h) : send(res, 400, { error: 'history needs dashboard=main and numeric from < to' });
      }
      if (url.pathname === '/api/slas') return send(res, 200, SLAS);
      if (url.pathname === '/api/alerts') return send(res, 200, alerts);
      return send(res, 404, { error: `no route ${url.pathname}` });
    })().catch((err: unknown) => send(res, 500, { error: String(err) }));
  });

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (refusing) {
      refusedAt.push(Date.now());
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    if (url.pathname !== '/ws' || !authorised(req, url, true)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const hello: ServerMsg = {
        type: 'connected',
        client_id: `c${wss.clients.size}`,
        server_time: Date.now(),
        refresh_interval: refresh,
        dashboards: ['main'],
        subscribed: { dashboards: ['main'], metrics: [] },
      };
      ws.send(JSON.stringify(hello));
      ws.on('message', (data) => {
        const msg = JSON.parse(String(data)) as { type: string; id?: string | number };
        received.push(msg);
        if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong', id: msg.id, server_time: Date.now() } satisfies ServerMsg));
        else ws.send(JSON.stringify({ type: 'error', reason: `unexpected message type "${msg.type}"` } satisfies ServerMsg));
      });
    });
  });

  const ticker = setInterval(() => {
    step += 1;
    const at = Date.now();
    const charts: Record<string, ChartPoints> = {};
    for (const chart of DASHBOARD.charts) {
      charts[chart.id] = Object.fromEntries(chart.series.map((s) => [s.label, [at, valueAt(chart.id, s.label, step)] as Point]));
    }
    const frame: ServerMsg = { type: 'frame', at, dashboards: { main: charts }, metrics: {}, alerts, scores: SCORES };
    sent.push({ at, charts });
    if (sent.length > 500) sent.shift();
    const data = JSON.stringify(frame);
    for (const ws of wss.clients) if (ws.readyState === WebSocket.OPEN) ws.send(data);
  }, refresh);

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    requests,
    sent,
    setAlerts: (next) => {
      alerts = next;
    },
    refusedAt,
    refuseClients: (on) => {
      refusing = on;
    },
    dropClients: () => {
      for (const ws of wss.clients) ws.terminate();
    },
    clientCount: () => [...wss.clients].filter((ws) => ws.readyState === WebSocket.OPEN).length,
    close: async () => {
      clearInterval(ticker);
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
