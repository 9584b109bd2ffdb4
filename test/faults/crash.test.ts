/**
 * Issue 9, item 1 (crashes): a real error thrown inside each actor's handlers and timed loops of
 * the real tree. The supervisor restarts the actor as a new incarnation, the dashboard's /health
 * shows it running again, and nothing the user had is lost: table values, LMDB history, active
 * alerts, the live feed.
 */
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ALERTING_NAME } from '../../actors/alerting.js';
import { COLLECTOR_NAME } from '../../actors/collector.js';
import { DASHBOARD_NAME, type DashboardProtocol } from '../../actors/dashboard.js';
import { MONITOR_SUP_NAME } from '../../actors/monitor-tree.js';
import { PERFORMANCE_MONITOR_NAME } from '../../actors/performance-monitor.js';
import { AlertEngine } from '../../src/alerts/alert-engine.js';
import { RemoteWriteExporter } from '../../src/export/remote-write-exporter.js';
import type { Monitor } from '../../src/index.js';
import type { Pid } from '../../src/otp/index.js';
import { PerformanceEvaluator } from '../../src/performance/evaluator.js';
import { HttpServer } from '../../src/server/http-server.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { until } from '../helpers.js';
import {
  calledFrom,
  calledFromLine,
  connectFeed,
  health,
  type Injection,
  pidOf,
  restarted,
  storedPoints,
  throwOnce,
} from './crash-fixture.js';
import { hostService, runCleanups, type Tree, startTree } from './tree-fixture.js';

afterEach(runCleanups);

const ALL = [COLLECTOR_NAME, PERFORMANCE_MONITOR_NAME, ALERTING_NAME, DASHBOARD_NAME];

/** What the user had before a crash: a gauge flushed to LMDB and an active alert. */
interface Before {
  alertId: string;
  flushedAt: number;
}

async function prepare(mon: Monitor): Promise<Before> {
  mon.metrics.gauge('faults_kept', { help: 'survives crashes' }).set(42);
  mon.metrics.counter('faults_total', { help: 'survives crashes' }).inc(7);
  const flushedAt = Date.now();
  await mon.collector.call({ type: 'flush' });
  await until(async () => expect((await storedPoints(mon, 'faults_kept')).map((p) => p[1])).toContain(42));
  const alert = await mon.alerting.sendAlert('critical', 'raised before the crash', { case: 'crash' });
  expect(alert.status).toBe('firing');
  return { alertId: alert.id, flushedAt };
}

/** After the restart: the same values in the table, the history in LMDB, the alert still active, every process running. */
async function expectSurvived(mon: Monitor, before: Before): Promise<void> {
  expect(mon.metrics.getMetric('faults_kept')?.value).toBe(42);
  expect(mon.metrics.getMetric('faults_total')?.value).toBe(7);
  const points = await storedPoints(mon, 'faults_kept', before.flushedAt - 1000);
  expect(points.length).toBeGreaterThan(0);
  expect(points.map((p) => p[1])).toContain(42);
  const active = await mon.alerting.getActiveAlerts();
  expect(active.map((a) => a.id)).toContain(before.alertId);
  await until(async () =>
    expect((await health(mon)).processes).toEqual(Object.fromEntries(ALL.map((n) => [n, 'running']))),
  );
}

/** The supervisor's restart report for `name`, whose reason names the handler and the injected error. */
function restartReport(tree: Tree, name: string): string {
  const line = tree.logger.records.find((r) => r.msg === 'child terminated: restarting' && r.fields.child === name);
  expect(line, `no restart report for ${name}`).toBeDefined();
  expect(line!.fields.supervisor).toBe(MONITOR_SUP_NAME);
  return String(line!.fields.reason);
}

/** Injects, waits for the restart, checks survival; returns the crash reason. */
async function crashAndRecover(
  tree: Tree,
  name: string,
  inject: () => Injection,
  trigger?: () => unknown,
): Promise<string> {
  const before = await prepare(tree.mon);
  // A feed client connected through another actor's crash keeps its connection and its frames.
  const feed = name === DASHBOARD_NAME ? undefined : await connectFeed((await tree.mon.dashboardAddress()).url);
  const oldId = pidOf(tree.mon, name);
  const injection = inject();
  await trigger?.();
  const newId = await restarted(tree.mon, name, oldId);
  expect(newId).toBeGreaterThan(oldId);
  expect(injection.thrown).toBe(1);
  if (feed !== undefined) {
    const seen = feed.frames();
    await until(() => expect(feed.frames()).toBeGreaterThan(seen + 2));
    expect(feed.ws.readyState).toBe(WebSocket.OPEN);
  }
  await expectSurvived(tree.mon, before);
  // Exactly one restart: the other actors kept their incarnation.
  expect(
    tree.logger.records.filter((r) => r.msg === 'child terminated: restarting').map((r) => r.fields.child),
  ).toEqual([name]);
  return restartReport(tree, name);
}

describe('a throw inside the collector', () => {
  it('in the aggregation (flush) loop: restarted, table, history and alerts intact', async () => {
    const tree = await startTree();
    const reason = await crashAndRecover(tree, COLLECTOR_NAME, () =>
      throwOnce(MetricStore.prototype, 'flush', 'store flush', calledFrom('store/table-store')),
    );
    expect(reason).toMatch(
      /^EMON_CALLBACK_FAILED erlmcp_metrics_collector: handleInfo\(aggregate\) threw: injected: store flush/,
    );
    // The new incarnation flushes again: a fresh value reaches LMDB.
    tree.mon.metrics.gauge('faults_kept').set(43);
    await until(async () => expect((await storedPoints(tree.mon, 'faults_kept')).map((p) => p[1])).toContain(43));
  });

  it('in the collection loop: restarted', async () => {
    const tree = await startTree();
    // The one-second loop calls clock.tick too: aim at the collect branch's call.
    const inCollect = calledFromLine('actors/collector.ts', /case 'collect':/, /clock\.tick\(/);
    const reason = await crashAndRecover(tree, COLLECTOR_NAME, () =>
      throwOnce(tree.mon.metrics.clock, 'tick', 'clock tick', inCollect),
    );
    expect(reason).toMatch(/handleInfo\(collect\) threw: injected: clock tick/);
  });

  it('in the one-second clock loop (collection off): restarted', async () => {
    const tree = await startTree({ config: { monitoring: { metrics_enabled: false } } });
    const reason = await crashAndRecover(tree, COLLECTOR_NAME, () =>
      throwOnce(tree.mon.metrics.clock, 'tick', 'clock tick', calledFrom('actors/collector')),
    );
    expect(reason).toMatch(/handleInfo\(tick\) threw: injected: clock tick/);
  });

  it('in the prune loop (its message delivered now, not after its 60 s interval): restarted', async () => {
    const tree = await startTree();
    const reason = await crashAndRecover(
      tree,
      COLLECTOR_NAME,
      () => throwOnce(MetricStore.prototype, 'prune', 'store prune'),
      () =>
        (
          tree.mon.system.whereis(COLLECTOR_NAME) as Pid<{
            call: never;
            replies: never;
            cast: never;
            info: { type: 'prune' };
          }>
        ).send({ type: 'prune' }),
    );
    expect(reason).toMatch(/handleInfo\(prune\) threw: injected: store prune/);
  });

  it('in a call handler (flush): the caller gets the error, the collector is restarted', async () => {
    const tree = await startTree();
    const before = await prepare(tree.mon);
    const oldId = pidOf(tree.mon, COLLECTOR_NAME);
    // The aggregation loop flushes too: aim at the call's branch.
    throwOnce(
      MetricStore.prototype,
      'flush',
      'store flush',
      calledFromLine('actors/collector.ts', /case 'flush':/, /flushTable\(/),
    );
    await expect(tree.mon.collector.call({ type: 'flush' })).rejects.toMatchObject({ code: 'EMON_SERVER_EXITED' });
    await restarted(tree.mon, COLLECTOR_NAME, oldId);
    await expectSurvived(tree.mon, before);
    expect(restartReport(tree, COLLECTOR_NAME)).toMatch(/handleCall\(flush\) threw: injected: store flush/);
  });
});

describe('a throw inside the performance monitor', () => {
  it('in the check loop: restarted, everything intact', async () => {
    const tree = await startTree();
    const reason = await crashAndRecover(tree, PERFORMANCE_MONITOR_NAME, () =>
      throwOnce(PerformanceEvaluator.prototype, 'evaluate', 'evaluate'),
    );
    expect(reason).toMatch(/handleInfo\(check\) threw: injected: evaluate/);
  });

  it('in a call handler (report): the caller gets the error, the monitor is restarted', async () => {
    const tree = await startTree({ config: { performance_monitor: { monitor_enabled: false } } });
    const before = await prepare(tree.mon);
    const oldId = pidOf(tree.mon, PERFORMANCE_MONITOR_NAME);
    throwOnce(
      PerformanceEvaluator.prototype,
      'evaluate',
      'evaluate',
      calledFromLine('actors/performance-monitor.ts', /case 'report':/, /evaluate\(/),
    );
    await expect(tree.mon.performance.call({ type: 'report' })).rejects.toMatchObject({ code: 'EMON_SERVER_EXITED' });
    await restarted(tree.mon, PERFORMANCE_MONITOR_NAME, oldId);
    await expectSurvived(tree.mon, before);
    expect(restartReport(tree, PERFORMANCE_MONITOR_NAME)).toMatch(/handleCall\(report\) threw: injected: evaluate/);
    expect((await tree.mon.performance.call({ type: 'report' })).scores).toBeDefined();
  });
});

describe('a throw inside alerting', () => {
  it('in the rule-check loop: restarted, the active alert still active', async () => {
    const tree = await startTree();
    const reason = await crashAndRecover(tree, ALERTING_NAME, () =>
      throwOnce(AlertEngine.prototype, 'evaluate', 'evaluate'),
    );
    expect(reason).toMatch(/handleInfo\(evaluate\) threw: injected: evaluate/);
  });

  it('in the notification/cleanup loop (rule checks off): restarted', async () => {
    const tree = await startTree({ config: { alerting: { alert_enabled: false } } });
    const reason = await crashAndRecover(tree, ALERTING_NAME, () => throwOnce(AlertEngine.prototype, 'tick', 'tick'));
    expect(reason).toMatch(/handleInfo\(tick\) threw: injected: tick/);
  });

  it('in a call handler (get_active_alerts): the caller gets the error, alerting is restarted', async () => {
    const tree = await startTree();
    const before = await prepare(tree.mon);
    const oldId = pidOf(tree.mon, ALERTING_NAME);
    // The dashboard's frames read alert views, which read the active alerts too: aim at the call's branch.
    throwOnce(
      AlertEngine.prototype,
      'activeAlerts',
      'active alerts',
      calledFromLine('actors/alerting.ts', /case 'get_active_alerts':/, /activeAlerts\(/),
    );
    await expect(tree.mon.alerting.getActiveAlerts()).rejects.toMatchObject({ code: 'EMON_SERVER_EXITED' });
    await restarted(tree.mon, ALERTING_NAME, oldId);
    await expectSurvived(tree.mon, before);
    expect(restartReport(tree, ALERTING_NAME)).toMatch(
      /handleCall\(get_active_alerts\) threw: injected: active alerts/,
    );
  });
});

describe('a throw inside the dashboard', () => {
  it('in the frame loop: restarted; a feed client reconnects to the new address and gets frames again', async () => {
    const tree = await startTree();
    const before = await prepare(tree.mon);
    const first = await tree.mon.dashboardAddress();
    const feed = await connectFeed(first.url);
    await until(() => expect(feed.frames()).toBeGreaterThan(0));
    const oldId = pidOf(tree.mon, DASHBOARD_NAME);
    const injection = throwOnce(HttpServer.prototype, 'tick', 'frame tick');
    await restarted(tree.mon, DASHBOARD_NAME, oldId);
    expect(injection.thrown).toBe(1);
    // The old server closed its feed (terminate runs after a crash): the client learns it at once.
    expect(await feed.closed).toBe(1001);
    const second = await tree.mon.dashboardAddress();
    const again = await connectFeed(second.url);
    await until(() => expect(again.frames()).toBeGreaterThan(2));
    await expectSurvived(tree.mon, before);
    expect(restartReport(tree, DASHBOARD_NAME)).toMatch(/handleInfo\(tick\) threw: injected: frame tick/);
  });

  it('in the heartbeat loop (its message delivered now, not after 30 s): restarted', async () => {
    const tree = await startTree();
    const reason = await crashAndRecover(
      tree,
      DASHBOARD_NAME,
      () => throwOnce(HttpServer.prototype, 'heartbeat', 'heartbeat'),
      () => (tree.mon.system.whereis(DASHBOARD_NAME) as Pid<DashboardProtocol>).send({ type: 'heartbeat' }),
    );
    expect(reason).toMatch(/handleInfo\(heartbeat\) threw: injected: heartbeat/);
  });

  it('in a call handler (stats): the caller gets the error, the dashboard is restarted', async () => {
    const tree = await startTree();
    const before = await prepare(tree.mon);
    const oldId = pidOf(tree.mon, DASHBOARD_NAME);
    throwOnce(HttpServer.prototype, 'stats', 'stats');
    const pid = tree.mon.system.whereis(DASHBOARD_NAME) as Pid<DashboardProtocol>;
    await expect(pid.call({ type: 'stats' })).rejects.toMatchObject({ code: 'EMON_SERVER_EXITED' });
    await restarted(tree.mon, DASHBOARD_NAME, oldId);
    await expectSurvived(tree.mon, before);
    expect(restartReport(tree, DASHBOARD_NAME)).toMatch(/handleCall\(stats\) threw: injected: stats/);
  });
});

/** A port that was free a moment ago (bound to 0, then released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('a dashboard on a configured fixed port', () => {
  for (const how of ['a throw in its frame loop', 'kill()'] as const) {
    it(`comes back on the same port after ${how}, and the feed reconnects there`, async () => {
      const port = await freePort();
      const tree = await startTree({ config: { dashboard: { port } } });
      const before = await prepare(tree.mon);
      expect((await tree.mon.dashboardAddress()).port).toBe(port);
      const feed = await connectFeed(`http://127.0.0.1:${port}`);
      await until(() => expect(feed.frames()).toBeGreaterThan(0));
      const oldId = pidOf(tree.mon, DASHBOARD_NAME);
      if (how === 'kill()') tree.mon.system.whereis(DASHBOARD_NAME)!.kill();
      else throwOnce(HttpServer.prototype, 'tick', 'frame tick');
      await restarted(tree.mon, DASHBOARD_NAME, oldId);
      // terminate closes feed clients with 1001 (going away); a kill terminates them (1006).
      expect(await feed.closed).toBe(how === 'kill()' ? 1006 : 1001);
      expect(await tree.mon.dashboardAddress()).toEqual({ host: '127.0.0.1', port, url: `http://127.0.0.1:${port}` });
      const again = await connectFeed(`http://127.0.0.1:${port}`);
      await until(() => expect(again.frames()).toBeGreaterThan(2));
      await expectSurvived(tree.mon, before);
      expect(tree.logger.records.filter((r) => r.msg.startsWith('child failed to restart'))).toEqual([]);
    });
  }
});

describe('kill() of each actor (no terminate, no last flush)', () => {
  for (const name of ALL) {
    it(`${name}: restarted with everything intact`, async () => {
      const tree = await startTree();
      const before = await prepare(tree.mon);
      const oldId = pidOf(tree.mon, name);
      tree.mon.system.whereis(name)!.kill();
      await restarted(tree.mon, name, oldId);
      await expectSurvived(tree.mon, before);
      expect(restartReport(tree, name)).toBe('killed');
    });
  }
});

describe('a throw inside the export loop', () => {
  it('is contained: logged, the collector keeps its incarnation and the next rounds export', async () => {
    const receiver = await hostService();
    const tree = await startTree({
      config: {
        monitoring: { export_enabled: true, export_interval: 50, export_endpoint: `${receiver.url}/api/v1/write` },
      },
    });
    const before = await prepare(tree.mon);
    const id = pidOf(tree.mon, COLLECTOR_NAME);
    await until(async () => expect((await tree.mon.collector.call({ type: 'stats' })).exports).toBeGreaterThan(0));
    const injection = throwOnce(RemoteWriteExporter.prototype, 'collect', 'export collect');
    await until(() => expect(injection.thrown).toBe(1));
    const after = (await tree.mon.collector.call({ type: 'stats' })).exports;
    await until(async () =>
      expect((await tree.mon.collector.call({ type: 'stats' })).exports).toBeGreaterThan(after + 1),
    );
    expect(pidOf(tree.mon, COLLECTOR_NAME)).toBe(id);
    const logged = tree.logger.records.filter((r) => r.msg === 'remote write export failed this round');
    expect(logged).toHaveLength(1);
    expect(String((logged[0]!.fields.err as Error).message)).toBe('injected: export collect');
    expect(tree.logger.records.filter((r) => r.msg === 'child terminated: restarting')).toEqual([]);
    await expectSurvived(tree.mon, before);
  });
});
