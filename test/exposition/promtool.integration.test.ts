/**
 * `promtool check metrics` (Debian's promtool) lints the exposition of the demo's full metric set:
 * the monitoring tree with process metrics, the demo service instrumented and driven through every
 * route (2xx, 4xx, 5xx, slow), and the table's own counters.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterView } from '../../src/cluster/cluster-view.js';
import { startDemoService } from '../../src/demo/demo-service.js';
import { ExportQueue } from '../../src/export/export-queue.js';
import { renderOpenMetrics } from '../../src/exposition/openmetrics-text.js';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import { HTTP_METRICS, type Monitor, routeTable, startMonitoring } from '../../src/index.js';
import { memoryLogger, until } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { PROMTOOL_BIN } from '../system-servers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** The demo's metric set, populated: tree + process source + instrumented service after real requests. */
async function demoMonitor(): Promise<Monitor> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-prom-'));
  cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  const mon = await startMonitoring({ dataDir, logger: memoryLogger(), config: { monitoring: { collection_interval: 50 }, dashboard: { port: 0 } } });
  cleanups.push(() => mon.stop());
  const service = await startDemoService();
  cleanups.push(() => service.close());
  mon.instrument.http(service.server, { name: 'demo', route: routeTable(['/', '/api/items', '/api/slow', '/api/flaky']) });
  for (const route of ['/api/items', '/api/items', '/missing', '/']) {
    const res = await fetch(`${service.url}${route}`);
    await res.arrayBuffer();
  }
  // /api/flaky answers 503 a quarter of the time: call it until one 5xx is counted (bounded).
  for (let i = 0; i < 200 && mon.metrics.get(HTTP_METRICS.errors)?.series().length !== 1; i++) {
    const res = await fetch(`${service.url}/api/flaky`);
    await res.arrayBuffer();
  }
  await until(() => expect(mon.metrics.get('system.cpu')?.series().length).toBe(1));
  return mon;
}

const missing = missingSystemDeps(PROMTOOL_BIN);
const PROM_CLIENT_TOTAL_GAUGE_LINT = /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

describe.skipIf(missing !== undefined)(`promtool check metrics${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  it('accepts the demo exposition with no lint problem', async () => {
    const mon = await demoMonitor();
    const text = await renderPrometheusText(mon.metrics);
    // The set must really be the full one, or an empty exposition would pass the lint.
    for (const family of ['http_server_requests_total', 'http_server_errors_total', 'http_server_duration_seconds', 'http_server_connections', 'http_server_received_bytes_total', 'system_cpu_percent', 'system_memory_bytes', 'system_event_loop_delay_seconds']) {
      expect(text).toContain(`# TYPE ${family} `);
    }
    const check = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    // prom-client's three `_total` gauges, kept under its names for the stock Node.js dashboards
    // (docs/prometheus-names.md): the one lint accepted, for exactly these names.
    const lints = check.stderr.split('\n').filter((line) => line !== '' && !PROM_CLIENT_TOTAL_GAUGE_LINT.test(line));
    expect({ status: lints.length === 0 ? 0 : check.status, stdout: check.stdout, lints }).toEqual({ status: 0, stdout: '', lints: [] });
  });

  it('accepts the exporter and cluster counters too', async () => {
    const view = new ClusterView({ mode: 'by_worker', logger: memoryLogger() });
    const queue = new ExportQueue({ endpoint: 'http://127.0.0.1:9/api/v1/write', headers: {}, registry: view.registry, logger: memoryLogger() });
    cleanups.push(() => queue.close(10));
    view.registry.counter('monitor.export.samples', { labels: ['result'] }).inc({ result: 'sent' }, 3);
    view.registry.counter('monitor.export.failures', { labels: ['reason'] }).inc({ reason: 'http_5xx' });
    view.registry.counter('monitor.export.dropped').inc(2);
    view.merge('1', [{ name: 'jobs.done', type: 'counter', help: 'Jobs', unit: '', labelNames: [], series: [{ labels: {}, state: { v: 1 } }] }]);
    view.merge('1', [{ name: 'jobs.done', type: 'gauge', help: 'Jobs', unit: '', labelNames: [], series: [{ labels: {}, state: { v: 1 } }] }]);
    const text = await renderPrometheusText(view.registry);
    for (const family of ['monitor_export_samples_total', 'monitor_export_failures_total', 'monitor_export_dropped_total', 'monitor_cluster_rejected_total', 'monitor_cluster_reports_total', 'jobs_done_total']) {
      expect(text).toContain(`# TYPE ${family} counter`);
    }
    const check = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
    expect({ status: check.status, stdout: check.stdout, stderr: check.stderr }).toEqual({ status: 0, stdout: '', stderr: '' });
  });

  it('rejects a broken exposition, so the check above can fail', () => {
    const check = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], { input: '# TYPE requests counter\nrequests 1\n', encoding: 'utf8', timeout: 20_000 });
    expect(check.status).not.toBe(0);
    expect(check.stdout + check.stderr).toMatch(/_total/);
  });

  it('renders OpenMetrics of the same set ending in # EOF with counters typed without _total', async () => {
    const mon = await demoMonitor();
    const om = await renderOpenMetrics(mon.metrics);
    expect(om.endsWith('# EOF\n')).toBe(true);
    expect(om).toMatch(/^# TYPE http_server_requests counter$/m);
    expect(om).toMatch(/^http_server_requests_total\{server="demo",method="GET",route="unmatched",code="404"\} 1$/m);
    expect(om).toMatch(/^# UNIT http_server_duration_seconds seconds$/m);
  });
});
