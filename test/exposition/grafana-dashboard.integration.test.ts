/**
 * The shipped Grafana dashboard (docs/grafana/erlmcp-monitor.json). Grafana is not installable
 * here, so: its JSON is checked for the fields Grafana 9-11 reads on import, and every panel
 * query runs, with the dashboard's variables substituted as Grafana would, against a real
 * Prometheus that scraped the demo's metric set (monitoring tree with process metrics, the demo
 * service instrumented and under load, an SLA configured): each must return data.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { startDemoService, startLoad } from '../../src/demo/demo-service.js';
import { routeTable, startMonitoring } from '../../src/index.js';
import { memoryLogger, until } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { PROMETHEUS_BIN, promQuery, startPrometheus } from '../system-servers.js';

const DASHBOARD = fileURLToPath(new URL('../../docs/grafana/erlmcp-monitor.json', import.meta.url));

interface Target {
  refId: string;
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  __inputs?: { name: string; type: string; pluginId: string }[];
  __requires?: { type: string; id: string; version: string }[];
  panels: Panel[];
  templating: {
    list: {
      name: string;
      type: string;
      query: unknown;
      datasource?: { uid?: string };
      current?: { value?: unknown };
    }[];
  };
}

const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = allPanels.filter((p) => p.type !== 'row');

/** A panel query as Grafana sends it with `$job`/`$instance` on "All" (`.+`) and a 30 s rate interval. */
function substitute(expr: string): string {
  return expr.replaceAll('$__rate_interval', '30s').replaceAll('$job', '.+').replaceAll('$instance', '.+');
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('the shipped Grafana dashboard JSON', () => {
  it('has the fields Grafana 9-11 import reads: schemaVersion, uid, title, inputs, requires', () => {
    // Grafana 9.0 writes schemaVersion 36, 11.x writes 39-41; all of them migrate 36..41 forward.
    expect(Number.isInteger(dashboard.schemaVersion)).toBe(true);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.schemaVersion).toBeLessThanOrEqual(41);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBe('erlmcp-monitor');
    expect(dashboard.__inputs).toEqual([
      expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' }),
    ]);
    expect(dashboard.__requires).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ type: 'datasource', id: 'prometheus' }),
        expect.objectContaining({ type: 'grafana', id: 'grafana' }),
      ]),
    );
    const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]));
    expect(vars.datasource).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
      current: { value: '${DS_PROMETHEUS}' },
    });
    expect(vars.job).toMatchObject({ type: 'query', datasource: { uid: '${datasource}' } });
    expect(vars.instance).toMatchObject({ type: 'query', datasource: { uid: '${datasource}' } });
  });

  it('has panels with id, gridPos, type and targets with an expr on the templated datasource', () => {
    expect(queryPanels.length).toBeGreaterThanOrEqual(10);
    const ids = allPanels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of allPanels) {
      expect(p.gridPos, p.title).toEqual({
        h: expect.any(Number),
        w: expect.any(Number),
        x: expect.any(Number),
        y: expect.any(Number),
      });
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      expect(typeof p.type).toBe('string');
    }
    for (const p of queryPanels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(p.targets!.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) {
        expect(t.expr, `${p.title} ${t.refId}`).toMatch(/\S/);
        // Every selector filters on the dashboard's job and instance variables.
        expect(t.expr, `${p.title} ${t.refId}`).toContain('job=~"$job",instance=~"$instance"');
      }
    }
    // What the built-in dashboard shows, by the families queried.
    const exprs = queryPanels.flatMap((p) => p.targets!.map((t) => t.expr)).join('\n');
    for (const family of [
      'perf_latency_seconds',
      'http_server_duration_seconds_bucket',
      'perf_throughput_requests_per_second',
      'perf_error_rate_ratio',
      'perf_sla_compliance_percent',
      'perf_error_budget_remaining_ratio',
      'http_server_requests_total',
      'process_resident_memory_bytes',
      'nodejs_heap_size_used_bytes',
      'nodejs_eventloop_lag_seconds',
      'process_cpu_seconds_total',
      'nodejs_gc_duration_seconds_sum',
    ]) {
      expect(exprs).toContain(family);
    }
  });
});

const missing = missingSystemDeps(PROMETHEUS_BIN);

describe.skipIf(missing !== undefined)(
  `the Grafana dashboard against a real Prometheus${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    it('returns data for every panel query and variable after Prometheus scraped the demo', async () => {
      const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-grafana-'));
      cleanups.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
      const mon = await startMonitoring({
        dataDir,
        env: {},
        logger: memoryLogger(),
        config: {
          monitoring: { collection_interval: 200 },
          performance_monitor: {
            check_interval: 500,
            window: 10_000,
            slas: [
              {
                name: 'availability',
                kind: 'availability',
                target: 99.9,
                unit: 'percentage',
                direction: 'higher_is_better',
                window: 60_000,
              },
            ],
          },
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
      // 40 req/s for at most 60 s: every route, 5xx from /api/flaky, 4xx from /missing.
      const load = startLoad(service.url, { rate: 40, durationMs: 60_000 });
      cleanups.push(() => load.stop());
      const metricsUrl = new URL((await mon.dashboardAddress()).url);
      const prometheus = await startPrometheus({ targets: [metricsUrl.host] });
      cleanups.push(() => prometheus.stop());

      // Until the perf.throughput unit rename (issue 17: `requests_per_second`) is on this branch the
      // demo exposes the old `perf_throughput_req_s`: only then is the old name queried instead.
      const legacy = (expr: string) =>
        mon.metrics.get('perf.throughput')?.unit === 'req/s'
          ? expr.replaceAll('perf_throughput_requests_per_second', 'perf_throughput_req_s')
          : expr;
      const queries = () =>
        queryPanels.flatMap((p) =>
          p.targets!.map((t) => ({ what: `${p.title} / ${t.refId}`, expr: legacy(substitute(t.expr)) })),
        );
      const variables = dashboard.templating.list
        .filter((v) => v.type === 'query')
        .map((v) => {
          // label_values(<selector>, <label>) is answered from the series of <selector>.
          const m = /^label_values\((.+), (\w+)\)$/.exec((v.query as { query: string }).query)!;
          return { what: `variable ${v.name}`, expr: `count by (${m[2]}) (${substitute(m[1]!)})` };
        });
      let empty: string[] = [];
      await until(async () => {
        const answers = await Promise.all(
          [...queries(), ...variables].map(async (q) => ({ q, result: await promQuery(prometheus.url, q.expr) })),
        );
        empty = answers.filter((a) => a.result.length === 0).map((a) => `${a.q.what}: ${a.q.expr}`);
        expect(empty).toEqual([]);
      }, 75_000);
      // The values are the demo's, not just present: errors among the requests, an SLA figure.
      const [errorRate] = await promQuery(
        prometheus.url,
        substitute('perf_error_rate_ratio{job=~"$job",instance=~"$instance"}'),
      );
      expect(Number(errorRate!.value[1])).toBeGreaterThan(0);
      const [sla] = await promQuery(prometheus.url, 'perf_sla_compliance_percent');
      expect(sla!.metric.sla).toBe('availability');
      expect(Number(sla!.value[1])).toBeLessThan(100);
    }, 90_000);
  },
);
