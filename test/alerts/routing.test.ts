import { describe, expect, it } from 'vitest';
import { Router } from '../../src/alerts/routing.js';
import { alertingConfig } from './alerting-fixture.js';

describe('Router', () => {
  it('routes with the source table when every channel is enabled', () => {
    const r = new Router(alertingConfig());
    expect([
      r.firstChannels('critical'),
      r.firstChannels('error'),
      r.firstChannels('warning'),
      r.firstChannels('info'),
    ]).toEqual([['email', 'sms', 'slack'], ['email', 'slack'], ['slack'], []]);
  });

  it('drops channels that are not enabled, from routing and escalation alike', () => {
    const r = new Router(alertingConfig({ channels: { email: { enabled: true } } }));
    expect(r.firstChannels('critical')).toEqual(['email']);
    expect(r.escalation('critical')).toEqual({ channels: ['email'], intervalMs: 60_000 });
  });

  it('widens re-notifies with the policy channels, interval in seconds; no policy, no escalation', () => {
    const r = new Router(
      alertingConfig({
        routing: { error: ['slack'] },
        escalation_policy: { error: { channels: ['sms', 'email'], interval: 90 } },
      }),
    );
    expect(r.escalation('error')).toEqual({ channels: ['slack', 'sms', 'email'], intervalMs: 90_000 });
    expect(r.escalation('critical')).toBeUndefined();
  });

  it('sends every severity to an enabled Alertmanager, whatever the routing table lists', () => {
    const r = new Router(
      alertingConfig({
        channels: { email: { enabled: true }, alertmanager: { enabled: true, urls: ['http://127.0.0.1:9093'] } },
      }),
    );
    expect(['critical', 'error', 'warning', 'info'].map((s) => r.firstChannels(s as 'info'))).toEqual([
      ['email', 'alertmanager'],
      ['email', 'alertmanager'],
      ['alertmanager'],
      ['alertmanager'],
    ]);
  });

  it('re-notifies no faster than hourly by default (critical 1 h, error and warning 4 h)', () => {
    const r = new Router(alertingConfig({ escalation_policy: undefined }));
    expect(['critical', 'error', 'warning'].map((s) => r.escalation(s as 'info')?.intervalMs)).toEqual([
      3_600_000, 14_400_000, 14_400_000,
    ]);
  });

  it('suppresses inside the window only, and never when suppression is off', () => {
    const on = new Router(alertingConfig({ suppression_window: 1000 }));
    expect([on.suppressed(undefined, 5000), on.suppressed(4001, 5000), on.suppressed(4000, 5000)]).toEqual([
      false,
      true,
      false,
    ]);
    const off = new Router(alertingConfig({ suppression_enabled: false }));
    expect(off.suppressed(4999, 5000)).toBe(false);
  });
});
