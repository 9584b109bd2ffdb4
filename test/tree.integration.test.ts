/**
 * The whole tree wired together, as `startMonitoring` builds it: traffic measured by
 * instrument.http reaches the performance monitor, its breach signal reaches alerting through
 * the relay, and the dashboard serves all of it. Short configured intervals and polling waits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ALERTING_NAME } from '../actors/alerting.js';
import { type Monitor, startMonitoring } from '../src/index.js';
import type { AlertView, HealthResponse, SlaView } from '../src/server/protocol.js';
import { memoryLogger, until } from './helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function service(): Promise<{ server: http.Server; url: string }> {
  const server = http.createServer((req, res) => {
    res.writeHead(req.url === '/fail' ? 503 : 200).end('ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function startTree(): Promise<Monitor> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-tree-test-'));
  const mon = await startMonitoring({
    dataDir,
    env: {},
    logger: memoryLogger(),
    processMetrics: false,
    config: {
      monitoring: { collection_interval: 50, aggregation_interval: 50 },
      performance_monitor: {
        check_interval: 50,
        error_rate_threshold: 0.1,
        slas: [
          {
            name: 'uptime',
            kind: 'availability',
            target: 99.9,
            unit: 'percentage',
            direction: 'higher_is_better',
            window: 3_600_000,
          },
          {
            name: 'latency',
            kind: 'response_time',
            target: 250,
            unit: 'ms',
            direction: 'lower_is_better',
            window: 3_600_000,
          },
        ],
      },
      alerting: { check_interval: 50 },
      dashboard: { port: 0, refresh_interval: 50 },
    },
  });
  cleanups.push(async () => {
    await mon.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return mon;
}

describe('the monitoring tree, wired', () => {
  it('turns measured failing traffic into a performance breach, an alert, and dashboard answers', async () => {
    const mon = await startTree();
    const { server, url } = await service();
    mon.instrument.http(server, { name: 'shop' });
    // A check before the traffic: the window's first sample precedes every request, so the rate is exact.
    await mon.performance.call({ type: 'check' });
    for (let i = 0; i < 20; i++) await fetch(`${url}/${i % 2 === 0 ? 'fail' : 'ok'}`).then((r) => r.text());

    // The performance monitor measures it: half the requests failed.
    await until(() => expect(mon.derived.get('error_rate')?.value).toBe(0.5), 10_000);

    // Its breach signal reaches alerting through the relay.
    await until(async () => {
      const alerts = await mon.alerting.getActiveAlerts();
      expect(alerts.map((a) => [a.source, a.title])).toContainEqual([
        'performance_monitor',
        'WARNING Alert: error_rate',
      ]);
    }, 10_000);

    // The dashboard serves the same alert, the SLAs and the health of every process.
    const { url: dashboard } = await mon.dashboardAddress();
    const alerts = (await (await fetch(`${dashboard}/api/alerts`)).json()) as AlertView[];
    expect(alerts.some((a) => a.source === 'performance_monitor' && a.message.includes('error rate'))).toBe(true);
    const slas = (await (await fetch(`${dashboard}/api/slas`)).json()) as SlaView[];
    expect(slas.map((s) => s.name)).toEqual(['uptime', 'latency']);
    const health = (await (await fetch(`${dashboard}/health`)).json()) as HealthResponse;
    expect(health.processes).toMatchObject({
      erlmcp_metrics_collector: 'running',
      erlmcp_performance_monitor: 'running',
      [ALERTING_NAME]: 'running',
      erlmcp_dashboard: 'running',
    });
    const metrics = await (await fetch(`${dashboard}/metrics`)).text();
    expect(metrics).toMatch(/^http_server_errors_total\{server="shop",method="GET",route="",code="503"\} 10$/m);
    expect(metrics).toMatch(/^perf_error_rate(_ratio)? 0\.5$/m);
  });
});
