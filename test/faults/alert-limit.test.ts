/**
 * Issue 14, item 5 (the alert table): a flood of concurrent `sendAlert` calls on the real tree.
 * Before, 10,000 of them filled the one shared table (4,175-8,788 callers got EMON_CALL_TIMEOUT
 * although their alert was raised, the 10,001st a timeout too) and from then on no rule alert was
 * ever raised. Now every caller's answer says what happened, durably: an answered alert is in the
 * store after stop, a refused one (`EMON_ALERT_LIMIT`) is nowhere, and rules keep their own room.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ALERTING_NAME } from '../../actors/alerting.js';
import { ALERTS_REFUSED_METRIC } from '../../src/alerts/alert-engine.js';
import { AlertStore } from '../../src/alerts/alert-store.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import type { Alert } from '../../src/index.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { until } from '../helpers.js';
import { pidOf } from './crash-fixture.js';
import { runCleanups, startTree } from './tree-fixture.js';

afterEach(runCleanups);

const LIMIT = 10_000;
const OVER = 200;

describe('alert table flood', () => {
  it('answers 10,000 concurrent sendAlert calls with their alerts, refuses the rest with EMON_ALERT_LIMIT, and a rule still fires', async () => {
    const { mon, dataDir, logger } = await startTree({
      config: { alerting: { alert_limits: { manual: LIMIT, rule: 100, signal: 100 } } },
    });
    const alertingPid = pidOf(mon, ALERTING_NAME);

    const started = performance.now();
    const outcomes = await Promise.allSettled(
      Array.from({ length: LIMIT + OVER }, (_, i) => mon.alerting.sendAlert('info', `flood ${i}`, { n: String(i) })),
    );
    const tookMs = Math.round(performance.now() - started);

    const codes = new Map<string, number>();
    for (const o of outcomes) {
      const code =
        o.status === 'fulfilled' ? 'raised' : o.reason instanceof MonitorError ? o.reason.code : String(o.reason);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
    // No timeouts, no other errors: the mailbox is in call order, so the first LIMIT fit.
    expect(Object.fromEntries(codes)).toEqual({ raised: LIMIT, [ErrorCode.AlertLimit]: OVER });
    const raised = outcomes.slice(0, LIMIT).map((o, i) => {
      expect(o.status).toBe('fulfilled');
      const alert = (o as PromiseFulfilledResult<Alert>).value;
      expect(alert).toMatchObject({ message: `flood ${i}`, status: 'firing', source: 'api' });
      return alert;
    });
    for (const o of outcomes.slice(LIMIT)) {
      expect((o as PromiseRejectedResult).reason.message).toMatch(
        /^manual alert limit reached: 10000 manual alerts are active, the limit is 10000; resolve or clear some .*, or raise alert_limits\.manual in alerting\.json$/,
      );
    }
    expect(new Set(raised.map((a) => a.id)).size).toBe(LIMIT);
    expect(mon.metrics.getMetric(ALERTS_REFUSED_METRIC, { source: 'manual' })?.value).toBe(OVER);
    expect(logger.records.filter((r) => r.msg.startsWith('manual alert limit reached'))).toHaveLength(1);

    // Rule alerting has its own budget: the full manual one does not stop it.
    mon.metrics.gauge('faults_queue_depth').set(50);
    await mon.alerting.addRule({
      name: 'queue_deep',
      metric: 'faults_queue_depth',
      condition: 'gt',
      threshold: 10,
      severity: 'critical',
    });
    await until(
      async () =>
        expect((await mon.alerting.getActiveAlerts()).filter((a) => a.source === 'rule:queue_deep')).toHaveLength(1),
      10_000,
    );

    // Clearing a manual alert makes room for a new one at once.
    await mon.alerting.clearAlert(raised[0]!.id);
    const after = await mon.alerting.sendAlert('info', 'after the flood');
    await expect(mon.alerting.sendAlert('info', 'one too many')).rejects.toMatchObject({ code: ErrorCode.AlertLimit });

    const active = await mon.alerting.getActiveAlerts();
    expect(active.filter((a) => a.source === 'api')).toHaveLength(LIMIT);
    // Nothing crashed or restarted on the way.
    expect(pidOf(mon, ALERTING_NAME)).toBe(alertingPid);
    await mon.stop();

    // What the callers were told is what the store holds.
    const store = MetricStore.open({ dataDir, readOnly: true });
    try {
      const stored = new Map(new AlertStore(store).load().alerts.map((a) => [a.id, a]));
      for (const alert of raised.slice(1)) expect(stored.get(alert.id)?.status).toBe('firing');
      expect(stored.get(after.id)?.message).toBe('after the flood');
      const messages = new Set([...stored.values()].map((a) => a.message));
      for (let i = LIMIT; i < LIMIT + OVER; i++) expect(messages.has(`flood ${i}`)).toBe(false);
      expect(messages.has('one too many')).toBe(false);
      expect([...stored.values()].filter((a) => a.source === 'rule:queue_deep')).toHaveLength(1);
    } finally {
      await store.close();
    }
    console.info(`alert flood: ${LIMIT + OVER} concurrent sendAlert calls answered in ${tookMs} ms`);
  }, 120_000);
});
