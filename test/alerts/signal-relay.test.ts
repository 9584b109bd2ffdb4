import { describe, expect, it } from 'vitest';
import { MAX_RELAYED_CONDITIONS, SignalRelay } from '../../src/alerts/signal-relay.js';
import type { AlertSignal } from '../../src/alerts/signal.js';

const signal = (key: string, state: AlertSignal['state'], labels?: Record<string, string>): AlertSignal => ({
  source: 'performance_monitor',
  key,
  state,
  severity: 'error',
  message: `${key} ${state}`,
  at: 0,
  ...(labels === undefined ? {} : { labels }),
});

describe('SignalRelay', () => {
  it('replays the newest state of each condition on attach, oldest change first', () => {
    const relay = new SignalRelay();
    relay.send(signal('cpu', 'firing'));
    relay.send(signal('sla.uptime', 'firing', { slo: 'a' }));
    relay.send(signal('sla.uptime', 'firing', { slo: 'b' }));
    relay.send(signal('cpu', 'resolved'));
    const got: string[] = [];
    relay.attach((s) => got.push(`${s.message} ${JSON.stringify(s.labels ?? {})}`));
    expect(got).toEqual(['sla.uptime firing {"slo":"a"}', 'sla.uptime firing {"slo":"b"}', 'cpu resolved {}']);
  });

  it('delivers live to the attached receiver only, until it detaches', () => {
    const relay = new SignalRelay();
    const first: string[] = [];
    const second: string[] = [];
    const detachFirst = relay.attach((s) => first.push(s.message));
    relay.send(signal('cpu', 'firing'));
    relay.attach((s) => second.push(s.message)); // a new incarnation takes over
    detachFirst(); // the old one's late detach must not detach the new one
    relay.send(signal('cpu', 'resolved'));
    expect(first).toEqual(['cpu firing']);
    expect(second).toEqual(['cpu firing', 'cpu resolved']);
  });

  it('stays bounded, forgetting resolved conditions first', () => {
    const relay = new SignalRelay();
    relay.send(signal('resolved-one', 'resolved'));
    for (let i = 0; i < MAX_RELAYED_CONDITIONS; i++) relay.send(signal(`k${i}`, 'firing'));
    expect(relay.size).toBe(MAX_RELAYED_CONDITIONS);
    const keys: string[] = [];
    relay.attach((s) => keys.push(s.key));
    expect(keys).not.toContain('resolved-one');
    expect(keys[0]).toBe('k0');
  });
});
