import { describe, expect, it } from 'vitest';
import type { SlaConfig } from '../../src/config/schema.js';
import type { WindowCounts } from '../../src/performance/counter-history.js';
import { compliance, evaluateSla, type SlaInputs, slaStatus } from '../../src/performance/sla.js';
import { Sketch } from '../../src/metrics/sketch.js';

const responseTime: SlaConfig = {
  name: 'response_time',
  kind: 'response_time',
  target: 100,
  unit: 'ms',
  direction: 'lower_is_better',
  window: 3_600_000,
};
const uptime: SlaConfig = {
  name: 'uptime',
  kind: 'availability',
  target: 99.9,
  unit: 'percentage',
  direction: 'higher_is_better',
  window: 3_600_000,
};
const throughput: SlaConfig = {
  name: 'throughput',
  kind: 'throughput',
  target: 10_000,
  unit: 'req/sec',
  direction: 'higher_is_better',
  window: 3_600_000,
};
const errorRate: SlaConfig = {
  name: 'errors',
  kind: 'error_rate',
  target: 0.01,
  unit: 'ratio',
  direction: 'lower_is_better',
  window: 3_600_000,
};

function inputs(counts: WindowCounts | undefined, latencies: number[] = []): SlaInputs {
  const sketch = new Sketch();
  for (const v of latencies) sketch.add(v);
  return {
    counts: () => counts,
    latency: () => (latencies.length === 0 ? undefined : { sketch, coveredMs: 3_600_000 }),
  };
}

const hour = (requests: number, errors: number): WindowCounts => ({
  windowMs: 3_600_000,
  coveredMs: 3_600_000,
  requests,
  errors,
});

describe('SLA compliance', () => {
  it('calls 200 ms against a 100 ms lower-is-better target violated (the source formula said 200 % compliant)', () => {
    expect(compliance(200, 100, 'lower_is_better')).toBe(50);
    expect(slaStatus(50)).toBe('violated');
    const result = evaluateSla(responseTime, inputs(hour(1000, 0), Array(1000).fill(200)), 1);
    expect(Math.abs(result.current! - 200) / 200).toBeLessThan(0.01);
    expect(result.compliance).toBeCloseTo(50, 0);
    expect(result.status).toBe('violated');
  });

  it('is ok when a lower-is-better value meets its target, warning within 5 %, violated beyond', () => {
    expect(slaStatus(compliance(95, 100, 'lower_is_better'))).toBe('ok');
    expect(slaStatus(compliance(104, 100, 'lower_is_better'))).toBe('warning'); // 96.2 %
    expect(slaStatus(compliance(106, 100, 'lower_is_better'))).toBe('violated'); // 94.3 %
    expect(compliance(0, 100, 'lower_is_better')).toBe(100);
  });

  it("applies the source ratio to higher-is-better SLAs: the source's 8500 of 10000 req/s is violated", () => {
    expect(compliance(8500, 10_000, 'higher_is_better')).toBe(85);
    expect(slaStatus(85)).toBe('violated');
    expect(slaStatus(compliance(9600, 10_000, 'higher_is_better'))).toBe('warning');
    expect(compliance(12_000, 10_000, 'higher_is_better')).toBe(100);
  });

  it('measures availability, throughput and error rate from the request counts over the window', () => {
    const counts = hour(36_000, 72); // 10 req/s, 0.2 % errors
    const a = evaluateSla(uptime, inputs(counts), 5);
    expect(a.current).toBeCloseTo(99.8, 10);
    expect(a.status).toBe('warning'); // 99.8 / 99.9 = 99.9 % compliant
    expect(a.samples).toBe(36_000);
    expect(a.covered_ms).toBe(3_600_000);
    expect(a.at).toBe(5);
    const t = evaluateSla(throughput, inputs(counts), 5);
    expect(t.current).toBeCloseTo(10, 10);
    expect(t.compliance).toBeCloseTo(0.1, 10);
    expect(t.status).toBe('violated');
    const e = evaluateSla(errorRate, inputs(counts), 5);
    expect(e.current).toBeCloseTo(0.002, 10);
    expect(e.status).toBe('ok');
  });

  it('says no_data without requests instead of 100 % availability or 0 ms', () => {
    for (const sla of [uptime, errorRate, responseTime]) {
      const r = evaluateSla(sla, inputs(hour(0, 0)), 1);
      expect(r.status).toBe('no_data');
      expect(r.current).toBeNull();
      expect(r.compliance).toBeNull();
    }
    expect(evaluateSla(throughput, inputs(undefined), 1).status).toBe('no_data');
  });
});
