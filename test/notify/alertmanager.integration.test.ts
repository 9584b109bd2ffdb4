/**
 * Two real Alertmanagers (Debian's 0.25, as two peers an HA client must both tell): each receives
 * the firing alert, visible in `GET /api/v2/alerts` as active, and sees it resolve.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AlertmanagerChannel } from '../../src/notify/alertmanager-channel.js';
import { until } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { ALERTMANAGER_BIN, type RunningServer, startAlertmanager } from '../system-servers.js';
import { notification } from './alert-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface GettableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  endsAt: string;
  status: { state: string };
}

async function alertsOf(am: RunningServer): Promise<GettableAlert[]> {
  const res = await fetch(`${am.url}/api/v2/alerts`);
  expect(res.status).toBe(200);
  return ((await res.json()) as GettableAlert[]).filter((a) => a.labels.alertname === 'HighLatency');
}

const missing = missingSystemDeps(ALERTMANAGER_BIN);

describe.skipIf(missing !== undefined)(
  `Alertmanager channel against real Alertmanagers${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    it('each Alertmanager shows the firing alert as active, then sees it resolve', async () => {
      const ams = await Promise.all([startAlertmanager(), startAlertmanager()]);
      for (const am of ams) cleanups.push(() => am.stop());
      const channel = new AlertmanagerChannel({ urls: ams.map((am) => am.url) });
      cleanups.push(() => channel.close());

      await channel.send(notification('firing'));
      for (const am of ams) {
        await until(async () => {
          const alerts = await alertsOf(am);
          expect(alerts).toHaveLength(1);
          expect(alerts[0]!.status.state).toBe('active');
          expect(alerts[0]!.labels).toEqual({ alertname: 'HighLatency', service: 'api', severity: 'critical' });
          expect(alerts[0]!.annotations.summary).toBe('High latency');
        }, 10_000);
      }

      await channel.send(notification('resolved'));
      for (const am of ams) {
        await until(async () => {
          // Alertmanager 0.25 leaves resolved alerts (endsAt in the past) out of this list. The firing
          // one had endsAt minutes ahead, so only the resolution can have removed it this soon.
          expect(await alertsOf(am)).toEqual([]);
        }, 10_000);
      }
    }, 50_000);
  },
);
