/**
 * The demo's full metric set, populated, for the exposition lints: the monitoring tree with the
 * shipped configs (SLAs included) and short intervals, the process source, the demo service
 * instrumented and driven through every route (2xx, 4xx, 5xx), until the performance monitor has
 * published every one of its gauges.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { startDemoService } from '../../src/demo/demo-service.js';
import { HTTP_METRICS, type Monitor, routeTable, startMonitoring } from '../../src/index.js';
import { memoryLogger, until } from '../helpers.js';

const CONFIG_DIR = fileURLToPath(new URL('../../configs', import.meta.url));

/** The performance monitor's gauges and how many series each must have before a lint means anything. */
export const PERF_GAUGES: Record<string, number> = {
  'perf.latency': 3,
  'perf.throughput': 1,
  'perf.error_rate': 1,
  'perf.score': 5,
  'perf.sla.compliance': 3,
};

/** Registers cleanups in `cleanups` (run them in afterEach). */
export async function demoMonitor(
  cleanups: (() => Promise<void> | void)[],
  options: { namespace?: string } = {},
): Promise<Monitor> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-prom-'));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const mon = await startMonitoring({
    dataDir,
    configDir: CONFIG_DIR,
    logger: memoryLogger(),
    config: {
      monitoring: {
        collection_interval: 50,
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      },
      performance_monitor: { check_interval: 100 },
      dashboard: { port: 0 },
    },
  });
  cleanups.push(() => mon.stop());
  const service = await startDemoService();
  cleanups.push(() => service.close());
  mon.instrument.http(service.server, {
    name: 'demo',
    route: routeTable(['/', '/api/items', '/api/slow', '/api/flaky']),
  });
  const get = async (route: string) => {
    const res = await fetch(`${service.url}${route}`);
    await res.arrayBuffer();
  };
  for (const route of ['/api/items', '/api/items', '/missing', '/']) await get(route);
  // /api/flaky answers 503 a quarter of the time: call it until one 5xx is counted (bounded).
  for (let i = 0; i < 200 && mon.metrics.get(HTTP_METRICS.errors)?.series().length !== 1; i++) await get('/api/flaky');
  // Keep a trickle of requests going (bounded) until the performance monitor has published everything.
  const published = () =>
    Object.entries(PERF_GAUGES).every(([name, n]) => (mon.metrics.get(name)?.series().length ?? 0) >= n);
  for (let i = 0; i < 300 && !published(); i++) await get('/api/items');
  await until(() => {
    for (const [name, n] of Object.entries(PERF_GAUGES))
      expect(mon.metrics.get(name)?.series().length, name).toBeGreaterThanOrEqual(n);
    expect(mon.metrics.get('system.cpu')?.series().length).toBe(1);
  });
  return mon;
}
