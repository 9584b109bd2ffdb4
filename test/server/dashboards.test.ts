import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dashboardSchema } from '../../src/config/schema.js';
import { dashboardsFrom, MAIN_DASHBOARD } from '../../src/server/dashboards.js';
import { MCP_DASHBOARD } from '../../src/server/mcp-dashboard.js';
import { packageRoot, StaticFiles } from '../../src/server/static-files.js';

describe('dashboardsFrom', () => {
  it("gives the source design's main dashboard and the mcp one by default", () => {
    const defs = dashboardsFrom(dashboardSchema.parse({}));
    expect(defs).toEqual([MAIN_DASHBOARD, MCP_DASHBOARD]);
    const main = defs[0]!;
    expect(main.charts.map((c) => `${c.title}:${c.type}`)).toEqual([
      'Response Time:line',
      'Throughput:line',
      'Error Rate:line',
      'Requests by status:line',
      'Resource Usage:gauge',
      'Memory:line',
      'Event-loop lag:line',
    ]);
    expect(main.charts[0]!.series.map((s) => s.labels?.percentile)).toEqual(['p50', 'p95', 'p99']);
    expect(main.charts[3]!.series.map((s) => [s.label, s.metric, s.label_prefix, s.stat])).toEqual(
      ['2', '3', '4', '5'].map((c) => [`${c}xx`, 'http.server.requests', { code: c }, 'rate']),
    );
    expect(main.charts[4]).toMatchObject({ unit: '%', max: 100 });
    expect(main.charts[4]!.series.map((s) => s.metric)).toEqual(['system.cpu', 'system.memory.percent']);
    expect(main.charts[5]).toMatchObject({
      unit: 'bytes',
      series: [{ metric: 'system.memory' }, { metric: 'system.memory.heap_used' }],
    });
    expect(main.charts[6]!.series).toEqual([
      { label: 'p99', metric: 'system.event_loop.delay', labels: { percentile: 'p99' }, stat: 'value' },
    ]);
    // A copy: changing it does not change the built-in one.
    main.charts.pop();
    expect(MAIN_DASHBOARD.charts).toHaveLength(7);
  });

  it('lets a configured "main" replace the built-in one and keeps the others in file order', () => {
    const chart = { id: 'c', title: 'C', series: [{ label: 'x', metric: 'x' }] };
    const defs = dashboardsFrom(
      dashboardSchema.parse({
        chart_type: 'pie',
        dashboards: [
          { name: 'b', title: 'B', charts: [chart] },
          { name: 'main', title: 'Mine', charts: [{ ...chart, type: 'gauge', max: 10 }] },
        ],
      }),
    );
    expect(defs.map((d) => d.title)).toEqual(['Mine', 'MCP server', 'B']);
    expect(defs[0]!.charts[0]).toEqual({
      id: 'c',
      title: 'C',
      type: 'gauge',
      unit: '',
      max: 10,
      series: [{ label: 'x', metric: 'x', stat: 'value' }],
    });
    expect(defs[2]!.charts[0]!.type).toBe('pie');
    const mine = dashboardsFrom(
      dashboardSchema.parse({ dashboards: [{ name: 'mcp', title: 'My MCP', charts: [chart] }] }),
    );
    expect(mine.map((d) => d.title)).toEqual(['erlmcp monitor', 'My MCP']);
  });

  it('passes the mcp dashboard through the config schema as a configured one would be', () => {
    // The built-in dashboard obeys the rules a dashboard.json one does (ids, series, stats).
    const parsed = dashboardSchema.parse({ dashboards: [structuredClone(MCP_DASHBOARD)] });
    expect(dashboardsFrom(parsed)[1]).toEqual(MCP_DASHBOARD);
  });
});

describe('StaticFiles', () => {
  it('finds the package root from src and serves the page directory under it', () => {
    const root = packageRoot();
    expect(path.basename(path.join(root, 'package.json'))).toBe('package.json');
    expect(new StaticFiles().pageDir).toBe(path.join(root, 'src', 'dashboard-page'));
    expect(packageRoot(path.join(root, 'dist', 'src', 'server', 'static-files.js'))).toBe(root);
  });
});
