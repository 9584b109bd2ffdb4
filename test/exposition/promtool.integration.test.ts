/**
 * `promtool check metrics` (Debian's promtool) lints the exposition of the demo's full metric set
 * (see demo-metrics.ts): the monitoring tree with process metrics, the demo service instrumented
 * and driven through every route, the performance monitor's gauges once it has published them,
 * and the table's own counters; with and without a namespace.
 */
import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { ClusterView } from '../../src/cluster/cluster-view.js';
import { ExportQueue } from '../../src/export/export-queue.js';
import { renderOpenMetrics } from '../../src/exposition/openmetrics-text.js';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import { memoryLogger } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { PROMTOOL_BIN } from '../system-servers.js';
import { demoMonitor } from './demo-metrics.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const missing = missingSystemDeps(PROMTOOL_BIN);
const PROM_CLIENT_TOTAL_GAUGE_LINT =
  /^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/;

describe.skipIf(missing !== undefined)(
  `promtool check metrics${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    it.each([[''], ['shop']])(
      'accepts the full demo exposition (namespace %j) once the performance monitor has published',
      async (namespace) => {
        const mon = await demoMonitor(cleanups, { namespace });
        const text = await renderPrometheusText(mon.metrics);
        const ns = namespace === '' ? '' : `${namespace}_`;
        // The set must really be the full one, or an empty exposition would pass the lint.
        for (const family of [
          'http_server_requests_total',
          'http_server_errors_total',
          'http_server_duration_seconds',
          'http_server_connections',
          'http_server_received_bytes_total',
          'system_cpu_percent',
          'system_memory_bytes',
          'system_event_loop_delay_seconds',
          'perf_latency_seconds',
          'perf_throughput_requests_per_second',
          'perf_error_rate_ratio',
          'perf_score',
          'perf_sla_compliance_percent',
        ]) {
          expect(text).toContain(`# TYPE ${ns}${family} `);
        }
        expect(text).toMatch(new RegExp(`^${ns}perf_latency_seconds\\{percentile="p95"\\} [0-9.e-]+$`, 'm'));
        const check = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
        // prom-client's three `_total` gauges, kept under its names for the stock Node.js dashboards
        // (docs/prometheus-names.md): the one lint accepted, for exactly these names.
        const lints = check.stderr
          .split('\n')
          .filter((line) => line !== '' && !PROM_CLIENT_TOTAL_GAUGE_LINT.test(line));
        expect({ status: lints.length === 0 ? 0 : check.status, stdout: check.stdout, lints }).toEqual({
          status: 0,
          stdout: '',
          lints: [],
        });
      },
    );

    it('accepts the exporter and cluster counters too', async () => {
      const view = new ClusterView({ mode: 'by_worker', logger: memoryLogger() });
      const queue = new ExportQueue({
        endpoint: 'http://127.0.0.1:9/api/v1/write',
        headers: {},
        registry: view.registry,
        logger: memoryLogger(),
      });
      cleanups.push(() => queue.close(10));
      view.registry.counter('monitor.export.samples', { labels: ['result'] }).inc({ result: 'sent' }, 3);
      view.registry.counter('monitor.export.failures', { labels: ['reason'] }).inc({ reason: 'http_5xx' });
      view.registry.counter('monitor.export.dropped').inc(2);
      view.merge('1', [
        {
          name: 'jobs.done',
          type: 'counter',
          help: 'Jobs',
          unit: '',
          labelNames: [],
          series: [{ labels: {}, state: { v: 1 } }],
        },
      ]);
      view.merge('1', [
        {
          name: 'jobs.done',
          type: 'gauge',
          help: 'Jobs',
          unit: '',
          labelNames: [],
          series: [{ labels: {}, state: { v: 1 } }],
        },
      ]);
      const text = await renderPrometheusText(view.registry);
      for (const family of [
        'monitor_export_samples_total',
        'monitor_export_failures_total',
        'monitor_export_dropped_total',
        'monitor_cluster_rejected_total',
        'monitor_cluster_reports_total',
        'jobs_done_total',
      ]) {
        expect(text).toContain(`# TYPE ${family} counter`);
      }
      const check = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 20_000 });
      expect({ status: check.status, stdout: check.stdout, stderr: check.stderr }).toEqual({
        status: 0,
        stdout: '',
        stderr: '',
      });
    });

    it('rejects a broken exposition, so the check above can fail', () => {
      const check = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], {
        input: '# TYPE requests counter\nrequests 1\n',
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(check.status).not.toBe(0);
      expect(check.stdout + check.stderr).toMatch(/_total/);
    });

    it('rejects the quantile label on a gauge and an abbreviated unit, the two lints the perf gauges used to fail', () => {
      const old =
        '# HELP perf_latency_seconds p\n# TYPE perf_latency_seconds gauge\nperf_latency_seconds{quantile="0.95"} 0.1\n' +
        '# HELP perf_throughput_req_s t\n# TYPE perf_throughput_req_s gauge\nperf_throughput_req_s 5\n';
      const check = spawnSync(PROMTOOL_BIN, ['check', 'metrics'], { input: old, encoding: 'utf8', timeout: 20_000 });
      expect(check.status).not.toBe(0);
      expect(check.stdout + check.stderr).toMatch(/quantile/);
      expect(check.stdout + check.stderr).toMatch(/abbreviated units/);
    });

    it('renders OpenMetrics of the same set ending in # EOF with counters typed without _total', async () => {
      const mon = await demoMonitor(cleanups);
      const om = await renderOpenMetrics(mon.metrics);
      expect(om.endsWith('# EOF\n')).toBe(true);
      expect(om).toMatch(/^# TYPE http_server_requests counter$/m);
      expect(om).toMatch(/^http_server_requests_total\{server="demo",method="GET",route="unmatched",code="404"\} 1$/m);
      expect(om).toMatch(/^# UNIT http_server_duration_seconds seconds$/m);
    });
  },
);
