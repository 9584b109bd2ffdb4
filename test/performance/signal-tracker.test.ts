import { describe, expect, it } from 'vitest';
import type { PerformanceReport } from '../../src/performance/report.js';
import { SignalTracker } from '../../src/performance/signal-tracker.js';
import type { SlaResult } from '../../src/performance/sla.js';
import { thresholdRules } from '../../src/performance/thresholds.js';
import { memoryLogger } from '../helpers.js';
import { measurements, perfConfig } from './fixtures.js';

const rules = thresholdRules(perfConfig({ throughput_threshold: 10_000 }));

function report(at: number, values: Parameters<typeof measurements>[0]): PerformanceReport {
  return {
    at,
    window_ms: 60_000,
    metrics: measurements(values),
    scores: null,
    recommendations: null,
    burn_rates: [],
    firing: {},
  };
}

function sla(status: SlaResult['status'], current: number | null): SlaResult {
  return {
    name: 'rt',
    kind: 'response_time',
    target: 100,
    unit: 'ms',
    direction: 'lower_is_better',
    current,
    compliance: current === null ? null : Math.min(100, (100 / current) * 100),
    status,
    window_ms: 60_000,
    covered_ms: 60_000,
    samples: 10,
    at: 0,
  };
}

describe('SignalTracker', () => {
  it('signals a breach, repeats it while it lasts only with the current value, and resolves it with its severity', () => {
    const t = new SignalTracker(rules, {}, memoryLogger());
    const fired = t.thresholds(report(1, { error_rate: 0.05 }));
    expect(fired).toEqual([
      {
        source: 'performance_monitor',
        key: 'error_rate',
        state: 'firing',
        severity: 'warning',
        message: 'error rate 0.0500 > threshold 0.0100 (window 60 s, 100 samples)',
        value: 0.05,
        threshold: 0.01,
        at: 1,
      },
    ]);
    // Still breached at another value: a repeat that carries it, so the alert's text is current.
    expect(t.thresholds(report(2, { error_rate: 0.04 }))).toEqual([
      {
        source: 'performance_monitor',
        key: 'error_rate',
        state: 'firing',
        severity: 'warning',
        message: 'error rate 0.0400 > threshold 0.0100 (window 60 s, 100 samples)',
        value: 0.04,
        threshold: 0.01,
        at: 2,
      },
    ]);
    // The same text again: nothing.
    expect(t.thresholds(report(3, { error_rate: 0.04 }))).toEqual([]);
    expect(t.firing()).toEqual({ error_rate: 'warning' });
    const resolved = t.thresholds(report(4, { error_rate: 0.001 }));
    expect(resolved).toMatchObject([
      {
        key: 'error_rate',
        state: 'resolved',
        severity: 'warning',
        message: 'error rate 0.00100 <= threshold 0.0100 (window 60 s, 100 samples)',
      },
    ]);
  });

  it('treats throughput below its threshold as the breach, and no data as no breach', () => {
    const t = new SignalTracker(rules, {}, memoryLogger());
    expect(t.thresholds(report(1, { throughput: 9000 })).map((s) => `${s.key}:${s.state}:${s.severity}`)).toEqual([
      'throughput:firing:info',
    ]);
    expect(t.thresholds(report(2, {})).map((s) => `${s.key}:${s.state}`)).toEqual(['throughput:resolved']);
  });

  it('checks no throughput without a configured throughput_threshold: a quiet service is not an unhealthy one', () => {
    const t = new SignalTracker(thresholdRules(perfConfig()), {}, memoryLogger());
    const healthy = { 'latency.p95': 4, throughput: 3, error_rate: 0, cpu: 5, memory: 20, 'event_loop.p99': 11 };
    expect(t.thresholds(report(1, healthy))).toEqual([]);
    expect(t.firing()).toEqual({});
  });

  it('resolves a condition that was firing before a restart once it is found healthy', () => {
    const t = new SignalTracker(rules, { cpu: 'warning', 'sla.rt': 'error' }, memoryLogger());
    expect(t.thresholds(report(1, { cpu: 10 })).map((s) => `${s.key}:${s.state}:${s.severity}`)).toEqual([
      'cpu:resolved:warning',
    ]);
    // Still violated: no transition, only the current text (the restored state had none).
    expect(t.slas([sla('violated', 300)], 1).map((s) => `${s.state}:${s.severity}:${s.message}`)).toEqual([
      'firing:error:SLA rt violated: current 300.0 ms vs target 100.0 ms (lower is better; compliance 33.3 %, 60 s, 10 samples)',
    ]);
    expect(t.slas([sla('violated', 300)], 2)).toEqual([]);
  });

  it("keeps an SLA's state without data, escalates warning to violated, and logs violations once per transition", () => {
    const log = memoryLogger();
    const t = new SignalTracker(rules, {}, log);
    expect(t.slas([sla('warning', 103)], 1).map((s) => `${s.state}:${s.severity}`)).toEqual(['firing:warning']);
    expect(t.slas([sla('violated', 200)], 2).map((s) => `${s.state}:${s.severity}`)).toEqual(['firing:error']);
    expect(t.slas([sla('violated', 210)], 3).map((s) => `${s.state}:${s.severity}:${s.value}`)).toEqual([
      'firing:error:210',
    ]);
    expect(t.slas([sla('no_data', null)], 4)).toEqual([]);
    expect(t.firing()).toEqual({ 'sla.rt': 'error' });
    expect(t.slas([sla('ok', 90)], 5).map((s) => `${s.state}:${s.severity}`)).toEqual(['resolved:error']);
    expect(log.records.map((r) => `${r.level}:${r.msg}`)).toEqual([
      'warn:SLA rt violated: current 200.0 ms vs target 100.0 ms (lower is better; compliance 50.0 %, 60 s, 10 samples)',
      'info:SLA rt no longer violated (ok)',
    ]);
  });

  it('states targets with the precision they were given, not rounded to 100.0 %', () => {
    const t = new SignalTracker(rules, {}, memoryLogger());
    const uptime: SlaResult = {
      name: 'uptime',
      kind: 'availability',
      target: 99.999,
      unit: '%',
      direction: 'higher_is_better',
      current: 99.9731,
      compliance: 99.97,
      status: 'violated',
      window_ms: 60_000,
      covered_ms: 60_000,
      samples: 10,
      at: 0,
    };
    expect(t.slas([uptime], 1)[0]!.message).toBe(
      'SLA uptime violated: current 99.973 % vs target 99.999 % (higher is better; compliance 100.0 %, 60 s, 10 samples)',
    );
  });
});
