/**
 * The live feed: one tick to N WebSocket clients on the main dashboard (one frame built, the same
 * bytes sent to all), measured as the broadcast loop's time on the server and the delivery delay
 * to each client (tick start → message event), p50/p99 over clients, median of `rounds` ticks.
 * Clients run in this process on loopback, as in the SPEC's ws figures (1,000 clients: loop 23 ms,
 * delivery p99 24 ms). Also: one `/api/realtime` and one `/api/history` round trip.
 *
 * Run alone: `npm run build && node dist/bench/dashboard.bench.js`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { WebSocket } from 'ws';
import { dashboardSchema, type DashboardConfig } from '../src/config/schema.js';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { flushTable } from '../src/store/table-store.js';
import { standaloneSources } from '../src/server/dashboard-sources.js';
import { HttpServer } from '../src/server/http-server.js';
import { MetricStore } from '../src/store/lmdb-store.js';
import type { SuiteResult } from './harness.js';

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export async function broadcastTo(
  clients: number,
  rounds = 5,
): Promise<{ loopMs: number; p50Ms: number; p99Ms: number; frameBytes: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-bench-dash-'));
  const store = MetricStore.open({ dataDir: dir });
  const log = createLogger({ level: 'silent' });
  const registry = new Registry({ logger: log });
  const latency = registry.gauge('perf.latency', { labels: ['quantile'] });
  for (const q of ['0.5', '0.95', '0.99']) latency.set({ quantile: q }, 10);
  registry.gauge('perf.throughput').set(100);
  registry.gauge('system.cpu').set(20);
  const config = dashboardSchema.parse({ port: 0 }) as DashboardConfig;
  const server = new HttpServer({
    registry,
    store,
    config,
    sources: standaloneSources(registry),
    log,
    wsLimits: { maxClients: clients + 10 },
  });
  const { url } = await server.listen('127.0.0.1', 0);
  const sockets: WebSocket[] = [];
  let tickStart = 0;
  let delays: number[] = [];
  let frameBytes = 0;
  try {
    for (let i = 0; i < clients; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, clients - i) }, () => {
          const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { perMessageDeflate: false });
          sockets.push(ws);
          ws.on('message', (data) => {
            const text = data.toString();
            if (text.startsWith('{"type":"frame"')) {
              delays.push(performance.now() - tickStart);
              frameBytes = text.length;
            }
          });
          return new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
        }),
      );
    }
    const runs: { loopMs: number; p50Ms: number; p99Ms: number }[] = [];
    for (let r = 0; r < rounds; r++) {
      delays = [];
      tickStart = performance.now();
      await server.tick();
      const loopMs = performance.now() - tickStart;
      while (delays.length < clients) await new Promise((resolve) => setTimeout(resolve, 1));
      delays.sort((a, b) => a - b);
      runs.push({ loopMs, p50Ms: quantile(delays, 0.5), p99Ms: quantile(delays, 0.99) });
    }
    runs.sort((a, b) => a.p99Ms - b.p99Ms);
    return { ...runs[Math.floor(rounds / 2)]!, frameBytes };
  } finally {
    for (const ws of sockets) ws.terminate();
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ms per API round trip (median of `n`), with 24 h of 5 s history behind the main dashboard. */
export async function apiRoundTrips(n = 20): Promise<{ realtimeMs: number; historyMs: number; points: number }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-bench-dash-'));
  const store = MetricStore.open({ dataDir: dir });
  const log = createLogger({ level: 'silent' });
  const registry = new Registry({ logger: log });
  const throughput = registry.gauge('perf.throughput');
  const now = Date.now();
  const start = now - 86_400_000;
  for (let t = start; t <= now; t += 5000 * 240) {
    // One flush per 240 points would take long; write 20 min steps through the table, the rest straight to the store.
    throughput.set((t / 1000) % 100);
    await flushTable(registry, store, t);
  }
  const id = store.seriesId('perf.throughput')!;
  const points = [];
  for (let t = start; t <= now; t += 5000) points.push({ id, ts: t, value: (t / 1000) % 100 });
  await store.flush({ points });
  const config = dashboardSchema.parse({ port: 0 }) as DashboardConfig;
  const server = new HttpServer({ registry, store, config, sources: standaloneSources(registry), log });
  const { url } = await server.listen('127.0.0.1', 0);
  const time = async (path: string) => {
    const ms: number[] = [];
    let body: unknown;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      body = await (await fetch(`${url}${path}`)).json();
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    return { ms: ms[Math.floor(n / 2)]!, body };
  };
  try {
    const realtime = await time('/api/realtime');
    const history = await time(`/api/history?dashboard=main&from=${start}&to=${now}`);
    const pts = (history.body as { series: { label: string; points: unknown[] }[] }).series.find(
      (s) => s.label === 'req/s',
    )!.points.length;
    return { realtimeMs: realtime.ms, historyMs: history.ms, points: pts };
  } finally {
    await server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function dashboardSuite(): Promise<SuiteResult> {
  const notes: string[] = [];
  for (const clients of [100, 1000]) {
    const r = await broadcastTo(clients);
    notes.push(
      `feed tick to ${clients} clients (${r.frameBytes} B frame): loop ${r.loopMs.toFixed(1)} ms, delivery p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms`,
    );
  }
  const api = await apiRoundTrips();
  notes.push(
    `GET /api/realtime: ${api.realtimeMs.toFixed(2)} ms; GET /api/history (main, 24 h at 5 s → ${api.points} points per series): ${api.historyMs.toFixed(2)} ms (medians)`,
  );
  return { suite: 'dashboard', rows: [], notes };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const result = await dashboardSuite();
  for (const note of result.notes) console.log(note);
}
