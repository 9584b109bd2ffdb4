import { describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { DEFAULT_BUCKETS } from '../../src/metrics/histogram.js';
import { expectMonitorError, mulberry32 } from '../helpers.js';
import { newRegistry, tableState } from './table-fixture.js';

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
}

describe('Histogram', () => {
  it('uses the source design buckets by default and counts values into them (le, inclusive)', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('response_time', { unit: 'ms' });
    expect(h.buckets).toEqual([10, 50, 100, 500, 1000, 5000, 10000]);
    expect(DEFAULT_BUCKETS).toEqual(h.buckets);
    for (const v of [1, 10, 11, 50, 99, 500, 20000]) h.observe(v);
    const stats = h.get()!;
    expect(stats.buckets).toEqual([
      { le: 10, count: 2 },
      { le: 50, count: 4 },
      { le: 100, count: 5 },
      { le: 500, count: 6 },
      { le: 1000, count: 6 },
      { le: 5000, count: 6 },
      { le: 10000, count: 6 },
      { le: '+Inf', count: 7 },
    ]);
    expect([stats.count, stats.sum, stats.min, stats.max]).toEqual([7, 20671, 1, 20000]);
    expect(stats.mean).toBeCloseTo(20671 / 7);
  });

  it('takes labels in either argument order and through bound handles', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('latency', { labels: ['route'], buckets: [1, 2] });
    h.observe(42, { route: '/api' });
    h.observe({ route: '/api' }, 43);
    h.bind({ route: '/api' }).observe(44);
    expect(h.get({ route: '/api' })!.count).toBe(3);
  });

  it('reports "no data" as null percentiles instead of inventing zeros', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('idle');
    h.bind();
    const stats = h.get()!;
    expect(stats.percentiles).toEqual({ p50: null, p95: null, p99: null, p999: null });
    expect([stats.min, stats.max, stats.mean]).toEqual([null, null, null]);
    expect(stats.windows['1m'].p99).toBeNull();
  });

  const distributions: [string, (r: () => number) => number][] = [
    ['uniform', (r) => 1 + r() * 999],
    ['log-normal', (r) => Math.exp(3 + Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r()))],
    ['bimodal', (r) => (r() < 0.7 ? 5 + r() * 2 : 800 + r() * 400)],
  ];

  it.each(distributions)(
    'gives p50, p95 and p99 within one percent of the exact quantiles on %s data',
    (_name, draw) => {
      const { registry } = newRegistry();
      const h = registry.histogram('dist');
      const r = mulberry32(42);
      const values: number[] = [];
      for (let i = 0; i < 50_000; i++) {
        const v = draw(r);
        values.push(v);
        h.observe(v);
      }
      values.sort((a, b) => a - b);
      const stats = h.get()!;
      for (const [q, key] of [
        [0.5, 'p50'],
        [0.95, 'p95'],
        [0.99, 'p99'],
      ] as const) {
        const exact = exactQuantile(values, q);
        expect(Math.abs(stats.percentiles[key]! - exact) / exact).toBeLessThanOrEqual(0.01);
        expect(Math.abs(stats.windows['1m'][key]! - exact) / exact).toBeLessThanOrEqual(0.01);
      }
    },
  );

  it('forgets old data in the sliding windows but not all-time', () => {
    const { registry, clock } = newRegistry();
    const h = registry.histogram('rt');
    for (let i = 0; i < 1000; i++) h.observe(10);
    clock.tick(2 * 60_000); // two minutes later
    for (let i = 0; i < 100; i++) h.observe(500);
    let stats = h.get()!;
    expect(stats.windows['1m'].count).toBe(100);
    expect(stats.windows['1m'].p50).toBeCloseTo(500, -1);
    expect(stats.windows['5m'].count).toBe(1100);
    expect(stats.percentiles.p50).toBeCloseTo(10, 0);
    clock.tick(10 * 60_000);
    stats = h.get()!;
    expect(stats.windows['5m'].count).toBe(0);
    expect(stats.windows['5m'].p99).toBeNull();
    expect(stats.count).toBe(1100);
  });

  it('merges series across labels for cross-label percentiles', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('rt', { labels: ['route'] });
    for (let i = 1; i <= 100; i++) h.observe(i, { route: i % 2 ? 'a' : 'b' });
    const merged = h.merged(60_000);
    expect(merged.count).toBe(100);
    expect(merged.quantile(0.5)!).toBeCloseTo(50, -1);
  });

  it.each([[Number.NaN], [Infinity], [-Infinity], ['42'], [undefined]])(
    'refuses the value %s and changes nothing',
    (value) => {
      const { registry } = newRegistry();
      const h = registry.histogram('rt', { labels: ['route'] });
      h.observe(5, { route: '/' });
      const before = tableState(registry);
      for (const attempt of [
        () => h.observe(value as number, { route: '/' }),
        () => h.observe(value as number, { route: '/new' }),
        () => h.bind({ route: '/' }).observe(value as number),
      ]) {
        expectMonitorError(
          attempt,
          ErrorCode.InvalidValue,
          /^metric "rt": an observed value must be a finite number, got /,
        );
      }
      expect(tableState(registry)).toBe(before);
    },
  );

  it('refuses bad buckets and reserved label names', () => {
    const { registry } = newRegistry();
    expect(() => registry.histogram('a', { buckets: [5, 5] })).toThrow(
      /metric "a": buckets must be a non-empty array of strictly increasing finite numbers/,
    );
    expect(() => registry.histogram('b', { buckets: [] })).toThrow(MonitorError);
    expect(() => registry.histogram('c', { labels: ['le'] })).toThrow(/metric "c": label name "le" is reserved/);
    expect(registry.get('a')).toBeUndefined();
  });

  it('survives a snapshot/restore round trip', () => {
    const { registry } = newRegistry();
    const h = registry.histogram('rt');
    for (let i = 1; i <= 1000; i++) h.observe(i);
    const state = JSON.parse(JSON.stringify(h.bind().snapshot()));
    const other = newRegistry().registry.histogram('rt');
    other.bind().restore(state);
    const [a, b] = [h.get()!, other.get()!];
    expect(b.buckets).toEqual(a.buckets);
    expect(b.percentiles).toEqual(a.percentiles);
    expect([b.count, b.sum, b.min, b.max]).toEqual([a.count, a.sum, a.min, a.max]);
    expect(other.bind().changedSinceFlush()).toBe(false);
    other.observe(1);
    expect(other.bind().changedSinceFlush()).toBe(true);
  });
});
