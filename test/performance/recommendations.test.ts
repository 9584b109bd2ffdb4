import { describe, expect, it } from 'vitest';
import { recommend } from '../../src/performance/recommendations.js';
import { measurements, perfConfig } from './fixtures.js';

const config = perfConfig({ throughput_threshold: 10_000 });

describe('recommend', () => {
  it("returns the source rules' actions for every figure past its limit, with the reason", () => {
    const recs = recommend(
      measurements({ 'latency.p95': 150, throughput: 7000, error_rate: 0.006, cpu: 65, memory: 95 }),
      config,
    );
    expect(recs.map((r) => r.action)).toEqual([
      'optimize_database_queries',
      'increase_cache_hit_rate',
      'increase_connection_pool_size',
      'optimize_hot_paths',
      'improve_error_handling',
      'add_circuit_breakers',
      'optimize_cpu_intensive_operations',
      'scale_horizontally',
    ]);
    expect(recs[0]!.reason).toBe('latency p95 150.0 ms > 100.0 ms (the latency threshold)');
    expect(recs[2]!.reason).toBe('throughput 7000.0 req/s < 8000.0 req/s (80 % of the throughput threshold)');
    expect(recs[4]!.reason).toBe('error rate 0.00600 > 0.00500 (50 % of the error-rate threshold)');
    expect(recs[6]!.reason).toBe('CPU 65.0 % > 64.0 % (80 % of the CPU threshold)');
  });

  it("recommends nothing at the limits themselves or for the source's healthy sample", () => {
    // Exactly at each limit: latency = 100, throughput = 8000, error rate = 0.005, CPU = 64.
    expect(
      recommend(measurements({ 'latency.p95': 100, throughput: 8000, error_rate: 0.005, cpu: 64, memory: 99 }), config),
    ).toEqual([]);
  });

  it('recommends nothing for a figure without data', () => {
    expect(recommend(measurements({}), config)).toEqual([]);
  });

  it('recommends nothing about throughput when no throughput_threshold is configured', () => {
    const recs = recommend(measurements({ throughput: 1, cpu: 65 }), perfConfig());
    expect(recs.map((r) => r.action)).toEqual(['optimize_cpu_intensive_operations', 'scale_horizontally']);
  });
});
