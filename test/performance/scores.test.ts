import { describe, expect, it } from 'vitest';
import { computeScores } from '../../src/performance/scores.js';
import { measurements, perfConfig } from './fixtures.js';

const config = perfConfig({ throughput_threshold: 10_000 }); // latency 100 ms, throughput 10000 req/s, error rate 0.01, cpu 80, memory 90

describe('computeScores', () => {
  it('applies the source formulas to a hand-computed case', () => {
    const scores = computeScores(
      measurements({ 'latency.p95': 40, throughput: 8500, error_rate: 0.005, cpu: 75, memory: 85 }),
      config,
    );
    // latency 100 - 40/100*100 = 60; throughput 8500/10000*100 = 85; error 100 - 0.005/0.01*100 = 50;
    // resources ((100-75) + (100-85)) / 2 = 20; overall (60 + 85 + 50 + 20) / 4 = 53.75
    expect(scores.latency).toBeCloseTo(60, 10);
    expect(scores.throughput).toBeCloseTo(85, 10);
    expect(scores.error_rate).toBeCloseTo(50, 10);
    expect(scores.resources).toBeCloseTo(20, 10);
    expect(scores.overall).toBeCloseTo(53.75, 10);
  });

  it('clamps to 0..100 where the source formulas leave the range', () => {
    const scores = computeScores(
      measurements({ 'latency.p95': 250, throughput: 25_000, error_rate: 0.5, cpu: 100, memory: 100 }),
      config,
    );
    expect(scores).toEqual({ latency: 0, throughput: 100, error_rate: 0, resources: 0, overall: 25 });
  });

  it('gives null instead of inventing a perfect latency score for a service with no traffic', () => {
    const scores = computeScores(measurements({ cpu: 20, memory: 40 }), config);
    expect(scores.latency).toBeNull();
    expect(scores.throughput).toBeNull();
    expect(scores.error_rate).toBeNull();
    expect(scores.resources).toBe(70);
    expect(scores.overall).toBe(70);
    expect(computeScores(measurements({}), config).overall).toBeNull();
  });

  it('leaves the throughput score out without a throughput_threshold, and the overall is the mean of the others', () => {
    const scores = computeScores(
      measurements({ 'latency.p95': 40, throughput: 8500, error_rate: 0.005, cpu: 75, memory: 85 }),
      perfConfig(),
    );
    expect(scores.throughput).toBeNull();
    expect(scores.overall).toBeCloseTo((60 + 50 + 20) / 3, 10);
  });

  it('scores any error as 0 against an error-rate threshold of 0', () => {
    const zero = perfConfig({ throughput_threshold: 10_000, error_rate_threshold: 0 });
    expect(computeScores(measurements({ error_rate: 0 }), zero).error_rate).toBe(100);
    expect(computeScores(measurements({ error_rate: 0.0001 }), zero).error_rate).toBe(0);
  });
});
