import { describe, expect, it } from 'vitest';
import type { PerformanceReport } from '../../src/performance/report.js';
import { SignalTracker } from '../../src/performance/signal-tracker.js';
import type { SlaResult } from '../../src/performance/sla.js';
import { thresholdRules } from '../../src/performance/thresholds.js';
import { memoryLogger } from '../helpers.js';
import { measurements, perfConfig } from './fixtures.js';

const rules = thresholdRules(perfConfig({ throughput_threshold: 10_000 }));

function report(at: number, values: Parameters<typeof measurements>[0]): PerformanceReport {
  return { at, window_ms: 60_000, metrics: measurements(values), scores: null, recommendations: null, burn_rates: [], firing: {} };
}

function sla(status: SlaResult['status'], current: number | null): SlaResult {
  return {
    name: 'rt', kind: 'response_time', target: 100, unit: 'ms', direction: 'lower_is_better', current,
    compliance: current === null ? null : Math.min(100, (100 / current) * 100), status, window_ms: 60_000, covered_ms: 60_000, samples: 10, at: 0,
  };
}

describe('SignalTracker', () => {
  it('signals a breach once, stays quiet while it lasts, and resolves it with its severity', () => {
    const t = new SignalTracker(rules, {}, memoryLogger());
    const fired = t.thresholds(report(1, { error_rate: 0.05 }));
    expect(fired).toEqual([
      {
        source: 'performance_monitor', key: 'error_rate', state: 'firing', severity: 'warning',
        message: 'error rate 0.0500 > threshold 0.0100 (window 60 s, 100 samples)', value: 0.05, threshold: 0.01, at: 1,
      },
    ]);
    expect(t.thresholds(report(2, { error_rate: 0.04 }))).toEqual([]);
    expect(t.firing()).toEqual({ error_rate: 'warning' });
    const resolved = t.thresholds(report(3, { error_rate: 0.001 }));
    expect(resolved).toMatchObject([{ key: 'error_rate', state: 'resolved', severity: 'warning', message: 'error rate 0.00100 <= threshold 0.0100 (window 60 s, 100 samples)' }]);
  });

  it('treats throughput below its threshold as the breach, and no data as no breach', () => {
    const t = new SignalTracker(rules, {}, memoryLogger());
    expect(t.thresholds(report(1, { throughput: 9000 })).map((s) => `${s.key}:${s.state}:${s.severity}`)).toEqual(['throughput:firing:info']);
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
    expect(t.thresholds(report(1, { cpu: 10 })).map((s) => `${s.key}:${s.state}:${s.severity}`)).toEqual(['cpu:resolved:warning']);
    expect(t.slas([sla('violated', 300)], 1)).toEqual([]); // still violated: no repeat
  });

  it('keeps an SLA\'s state without data, escalates warning to violated, and logs violations once per transition', () => {
    const log = memoryLogger();
    const t = new SignalTracker(rules, {}, log);
    expect(t.slas([sla('warning', 103)], 1).map((s) => `${s.state}:${s.severity}`)).toEqual(['firing:warning']);
    expect(t.slas([sla('violated', 200)], 2).map((s) => `${s.state}:${s.severity}`)).toEqual(['firing:error']);
    expect(t.slas([sla('violated', 210)], 3)).toEqual([]);
    expect(t.slas([sla('no_data', null)], 4)).toEqual([]);
    expect(t.firing()).toEqual({ 'sla.rt': 'error' });
    expect(t.slas([sla('ok', 90)], 5).map((s) => `${s.state}:${s.severity}`)).toEqual(['resolved:error']);
    expect(log.records.map((r) => `${r.level}:${r.msg}`)).toEqual([
      'warn:SLA rt violated: current 200.0 ms vs target 100.0 ms (lower is better; compliance 50.0 %, 60 s, 10 samples)',
      'info:SLA rt no longer violated (ok)',
    ]);
  });
});
