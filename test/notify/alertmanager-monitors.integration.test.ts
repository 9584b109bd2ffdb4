/**
 * Two monitoring trees (as two hosts would run them) and one real Alertmanager (Debian's 0.25)
 * with the standard inhibit rule, the way Prometheus users run it: each tree's alerts are its own
 * (`instance`), named by their rule (`alertname`), re-sent with the current value, linked to the
 * tree's real dashboard address; a critical alert inhibits the warning of the same name and
 * instance only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type Monitor, startMonitoring } from '../../src/index.js';
import { memoryLogger, until } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { ALERTMANAGER_BIN, type RunningServer, startAlertmanager } from '../system-servers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  generatorURL: string;
  status: { state: string; inhibitedBy: string[]; silencedBy: string[] };
}

async function alertsOf(am: RunningServer, alertname: string): Promise<GettableAlert[]> {
  const res = await fetch(`${am.url}/api/v2/alerts`);
  expect(res.status).toBe(200);
  return ((await res.json()) as GettableAlert[])
    .filter((a) => a.labels.alertname === alertname)
    .sort((a, b) => a.labels.instance!.localeCompare(b.labels.instance!));
}

const INHIBIT =
  'inhibit_rules:\n  - source_matchers: [severity="critical"]\n    target_matchers: [severity="warning"]\n    equal: [alertname, instance]\n';

async function monitor(am: RunningServer, alertmanager: Record<string, unknown> = {}): Promise<Monitor> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-am-'));
  const mon = await startMonitoring({
    dataDir,
    env: {},
    logger: memoryLogger(),
    processMetrics: false,
    config: {
      dashboard: { host: '127.0.0.1', port: 0 },
      alerting: {
        check_interval: 100,
        channels: { alertmanager: { enabled: true, urls: [am.url], resend_interval: 300, ...alertmanager } },
      },
    },
    alertRules: [
      {
        name: 'queue_depth_high',
        metric: 'app.queue_depth',
        condition: 'gt',
        threshold: 10,
        severity: 'warning',
        annotations: { description: 'queue depth is {{ $value }}' },
      },
    ],
  });
  cleanups.push(async () => {
    await mon.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return mon;
}

const missing = missingSystemDeps(ALERTMANAGER_BIN);

describe.skipIf(missing !== undefined)(
  `two monitors and a real Alertmanager${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    it("two instances raising one rule are two alerts, re-sent with the current value, linked to the real dashboard; a critical inhibits only its own instance's warning", async () => {
      const am = await startAlertmanager(INHIBIT);
      cleanups.push(() => am.stop());
      const a = await monitor(am);
      const b = await monitor(am, { instance: 'node-b:9000', external_labels: { cluster: 'eu-1' } });
      const addressA = await a.dashboardAddress();
      const instanceA = `${os.hostname()}:${addressA.port}`;
      const depthA = a.metrics.gauge('app.queue_depth');
      const depthB = b.metrics.gauge('app.queue_depth');
      depthA.set(42);
      depthB.set(17);

      // Two alerts, one per instance, named by the rule; B carries its external label.
      await until(async () => {
        const alerts = await alertsOf(am, 'queue_depth_high');
        expect(alerts.map((x) => x.labels.instance).sort()).toEqual([instanceA, 'node-b:9000'].sort());
        const [ofA, ofB] = [
          alerts.find((x) => x.labels.instance === instanceA)!,
          alerts.find((x) => x.labels.instance === 'node-b:9000')!,
        ];
        expect(ofA.labels).toEqual({ alertname: 'queue_depth_high', instance: instanceA, severity: 'warning' });
        expect(ofB.labels).toEqual({
          alertname: 'queue_depth_high',
          instance: 'node-b:9000',
          severity: 'warning',
          cluster: 'eu-1',
        });
        expect(ofA.annotations.description).toBe('queue depth is 42');
        expect(ofB.annotations.description).toBe('queue depth is 17');
      }, 20_000);

      // generatorURL: A's bound dashboard address (port 0 in config), pointing at the alert, and it answers.
      const [ruleAlertA] = (await a.alerting.getActiveAlerts()).filter(
        (x) => x.labels.alertname === 'queue_depth_high',
      );
      const ofA = (await alertsOf(am, 'queue_depth_high')).find((x) => x.labels.instance === instanceA)!;
      expect(addressA.port).not.toBe(0);
      expect(ofA.generatorURL).toBe(`${addressA.url}/#alert=${ruleAlertA!.id}`);
      const page = await fetch(ofA.generatorURL);
      expect(page.status).toBe(200);
      await page.arrayBuffer();

      // A re-send (no new notification: warnings re-notify every 4 h) carries the value of now.
      depthA.set(57);
      await until(async () => {
        const now = (await alertsOf(am, 'queue_depth_high')).find((x) => x.labels.instance === instanceA);
        expect(now?.annotations.description).toBe('queue depth is 57');
      }, 20_000);

      // The standard inhibit rule: A's critical DiskFull inhibits A's warning DiskFull, not B's.
      await a.alerting.sendAlert('warning', 'disk 85% full', { alertname: 'DiskFull' });
      await b.alerting.sendAlert('warning', 'disk 86% full', { alertname: 'DiskFull' });
      await a.alerting.sendAlert('critical', 'disk 97% full', { alertname: 'DiskFull' });
      await until(async () => {
        const disk = await alertsOf(am, 'DiskFull');
        const find = (instance: string, severity: string) =>
          disk.find((x) => x.labels.instance === instance && x.labels.severity === severity);
        expect(disk).toHaveLength(3);
        expect(find(instanceA, 'warning')!.status.inhibitedBy).not.toEqual([]);
        expect(find(instanceA, 'warning')!.status.state).toBe('suppressed');
        expect(find(instanceA, 'critical')!.status).toMatchObject({ state: 'active', inhibitedBy: [] });
        expect(find('node-b:9000', 'warning')!.status).toMatchObject({ state: 'active', inhibitedBy: [] });
      }, 20_000);

      // One instance clearing resolves its own alert only.
      depthA.set(0);
      await until(async () => {
        const alerts = await alertsOf(am, 'queue_depth_high');
        expect(alerts.map((x) => x.labels.instance)).toEqual(['node-b:9000']);
      }, 20_000);
    }, 120_000);
  },
);
