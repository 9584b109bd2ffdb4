/**
 * `alerting.delivery` reaches the tree's outbox: with 3 attempts and a 40 ms first wait (capped at
 * 80 ms), a webhook that always answers 500 is tried exactly 3 times at growing, capped intervals,
 * then the notification is a dead letter, shown by the dashboard too. No spying on the outbox: only the config is set.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers.js';
import { startFaultReceiver, webhookId } from './notification-faults-fixture.js';
import { runCleanups, startTree } from './tree-fixture.js';

afterEach(runCleanups);

describe('alerting.delivery retry policy (config)', () => {
  it('retries a failing webhook max_attempts times with waits from retry_initial up to retry_max, then dead-letters it', async () => {
    const hook = await startFaultReceiver(webhookId, { status: 500 });
    const { mon } = await startTree({
      config: {
        alerting: {
          channels: { webhook: { enabled: true, url: `${hook.url}/hook`, timeout: 1000 } },
          routing: { info: [], warning: ['webhook'], error: ['webhook'], critical: ['webhook'] },
          escalation_policy: {},
          delivery: { max_attempts: 3, retry_initial: 40, retry_max: 80 },
        },
      },
    });
    const alert = await mon.alerting.sendAlert('critical', 'disk full', { disk: 'd1' });
    await until(async () => expect(await mon.alerting.deadLetters()).toHaveLength(1), 10_000);

    const [dead] = await mon.alerting.deadLetters();
    expect(dead).toMatchObject({ channel: 'webhook', attempts: 3, alertId: alert.id });
    expect(dead?.lastError).toMatch(/500/);
    // The dashboard shows the same dead letters.
    const { url: dashboard } = await mon.dashboardAddress();
    const shown = await (await fetch(`${dashboard}/api/dead-letters`)).json();
    expect(shown).toEqual(await mon.alerting.deadLetters());
    expect(hook.hits.map((h) => h.reply)).toEqual(['500', '500', '500']);
    // Waits: 40 ms then 80 ms (doubled, capped), each minus up to 20 % jitter; timers are never early.
    const gaps = hook.hits.slice(1).map((h, i) => h.at - hook.hits[i]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(40 * 0.8 - 2);
    expect(gaps[1]).toBeGreaterThanOrEqual(80 * 0.8 - 2);
  });

  it('refuses a first wait longer than the longest, naming both keys', async () => {
    await expect(
      startTree({ config: { alerting: { delivery: { retry_initial: 5000, retry_max: 1000 } } } }),
    ).rejects.toThrow(
      /alerting.*delivery\.retry_initial: retry_initial \(5000 ms\) must not exceed retry_max \(1000 ms\)/s,
    );
  });
});
