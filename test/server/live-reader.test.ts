import { describe, expect, it, vi } from 'vitest';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import type { AlertView } from '../../src/server/protocol.js';
import { scoresFromRegistry } from '../../src/server/dashboard-sources.js';
import { FrameBuilder, MAX_FRAME_ALERTS } from '../../src/server/frame-builder.js';
import { LiveReader } from '../../src/server/live-reader.js';
import { newRegistry } from '../metrics/table-fixture.js';

describe('LiveReader', () => {
  it('reads one labelled series, the only series, or all series summed', () => {
    const { registry } = newRegistry();
    const reader = new LiveReader(registry);
    const g = registry.gauge('conns', { labels: ['server'] });
    g.set({ server: 'a' }, 3);
    g.set({ server: 'b' }, 4);
    registry.gauge('cpu').set(55);
    expect(reader.value({ label: 'a', metric: 'conns', labels: { server: 'a' } }, 0)).toBe(3);
    expect(reader.value({ label: 'all', metric: 'conns' }, 0)).toBe(7);
    expect(reader.value({ label: 'cpu', metric: 'cpu' }, 0)).toBe(55);
    expect(reader.value({ label: 'x', metric: 'conns', labels: { server: 'zzz' } }, 0)).toBeNull();
    expect(reader.value({ label: 'x', metric: 'conns', labels: { nope: 'a' } }, 0)).toBeNull();
    expect(reader.value({ label: 'x', metric: 'cpu', stat: 'p95' }, 0)).toBeNull();
    expect(reader.value({ label: 'x', metric: 'missing' }, 0)).toBeNull();
  });

  it('merges histogram windows across series, so percentiles are of all observations', () => {
    const { registry } = newRegistry();
    const reader = new LiveReader(registry);
    const h = registry.histogram('response_time', { labels: ['server'] });
    for (let i = 1; i <= 90; i++) h.observe({ server: 'fast' }, 10);
    for (let i = 1; i <= 10; i++) h.observe({ server: 'slow' }, 1000);
    const p = (stat: 'p50' | 'p95' | 'p99', labels?: Record<string, string>) =>
      reader.value({ label: stat, metric: 'response_time', stat, ...(labels ? { labels } : {}) }, 0);
    expect(p('p50')).toBeCloseTo(10, -0.3);
    expect(p('p95')).toBeCloseTo(1000, -1);
    expect(p('p95', { server: 'fast' })).toBeCloseTo(10, -0.3);
    expect(reader.value({ label: 'n', metric: 'response_time', stat: 'count' }, 0)).toBe(100);
    expect(reader.value({ label: 'm', metric: 'response_time', stat: 'mean' }, 0)).toBeCloseTo(
      (90 * 10 + 10 * 1000) / 100,
      6,
    );
  });

  it('turns a counter into a rate per second between reads at least a second apart, and skips a reset', () => {
    const { registry } = newRegistry();
    const reader = new LiveReader(registry);
    const c = registry.counter('requests.total');
    const def = { label: 'rps', metric: 'requests.total', stat: 'rate' as const };
    c.inc(100);
    expect(reader.value(def, 10_000)).toBeNull();
    c.inc(50);
    expect(reader.value(def, 10_500)).toBeNull(); // too close: keeps the last rate (none yet)
    expect(reader.value(def, 12_000)).toBe(25);
    c.reset();
    c.inc(1);
    expect(reader.value(def, 13_000)).toBeNull();
    c.inc(10);
    expect(reader.value(def, 15_000)).toBe(5);
  });

  it('combines the series a label_prefix (with or without labels) names, reading slots: no handle per series', () => {
    const { registry } = newRegistry();
    const reader = new LiveReader(registry);
    const c = registry.counter('hits', { labels: ['code', 'route'] });
    const h = registry.histogram('lat', { labels: ['code', 'route'] });
    for (let i = 0; i < 300; i++) {
      const labels = { code: String(200 + (i % 3) * 100), route: `/r${i % 2}` };
      c.inc(labels, 1 + (i % 3));
      h.observe(labels, i % 3 === 0 ? 10 : 1000);
    }
    const handles = [vi.spyOn(c, 'seriesAt'), vi.spyOn(c, 'series'), vi.spyOn(h, 'seriesAt'), vi.spyOn(h, 'series')];
    // 100 each of code 200 (+1), 300 (+2), 400 (+3).
    expect(reader.value({ label: 'all', metric: 'hits' }, 0)).toBe(600);
    expect(reader.value({ label: '2xx', metric: 'hits', label_prefix: { code: '2' } }, 0)).toBe(100);
    expect(
      reader.value({ label: '3-4xx', metric: 'hits', label_prefix: { code: '' }, labels: { code: '300' } }, 0),
    ).toBe(200);
    expect(reader.value({ label: 'one', metric: 'hits', labels: { code: '400', route: '/r1' } }, 0)).toBe(150);
    expect(reader.value({ label: 'none', metric: 'hits', label_prefix: { code: '5' } }, 0)).toBeNull();
    expect(reader.value({ label: 'n', metric: 'lat', stat: 'count', label_prefix: { code: '2' } }, 0)).toBe(100);
    expect(reader.value({ label: 'm', metric: 'lat', stat: 'mean', label_prefix: { route: '/r' } }, 0)).toBeCloseTo(
      (100 * 10 + 200 * 1000) / 300,
      6,
    );
    expect(reader.value({ label: 'p', metric: 'lat', stat: 'p50', label_prefix: { code: '2' } }, 0)).toBeCloseTo(
      10,
      -0.3,
    );
    expect(reader.value({ label: 'p', metric: 'lat', stat: 'p95' }, 0)).toBeCloseTo(1000, -1);
    expect(reader.value({ label: 'p', metric: 'lat', stat: 'p95', label_prefix: { code: '5' } }, 0)).toBeNull();
    for (const spy of handles) expect(spy).not.toHaveBeenCalled();
  });

  it('reads DerivedValues for a name that is not in the table', () => {
    const { registry } = newRegistry();
    const derived = new DerivedValues();
    derived.set('latency.p95', { value: 123, at: 1 });
    const reader = new LiveReader(registry, derived);
    expect(reader.value({ label: 'p95', metric: 'latency.p95' }, 0)).toBe(123);
  });

  it("lists a metric's series by key, with histograms under their derived keys, up to a limit", () => {
    const { registry } = newRegistry();
    const reader = new LiveReader(registry);
    const g = registry.gauge('q', { labels: ['name'] });
    for (let i = 0; i < 5; i++) g.set({ name: `n${i}` }, i);
    expect(Object.keys(reader.metricValues('q', 3))).toEqual(['q{name="n0"}', 'q{name="n1"}', 'q{name="n2"}']);
    registry.histogram('h').observe(5);
    expect(reader.metricValues('h', 10)).toEqual({
      'h#p50': expect.closeTo(5, 0),
      'h#p95': expect.closeTo(5, 0),
      'h#p99': expect.closeTo(5, 0),
      'h#count': 1,
    });
  });
});

describe('FrameBuilder', () => {
  it('serializes one frame per subscription per tick and reads charts once per tick', () => {
    const { registry } = newRegistry();
    let reads = 0;
    class CountingReader extends LiveReader {
      override value(...args: Parameters<LiveReader['value']>): number | null {
        reads++;
        return super.value(...args);
      }
    }
    const counted = new CountingReader(registry);
    const builder = new FrameBuilder(
      [
        {
          name: 'd',
          title: 'D',
          charts: [{ id: 'c', title: 'C', type: 'line', unit: '', series: [{ label: 's', metric: 'cpu' }] }],
        },
      ],
      counted,
    );
    registry.gauge('cpu').set(1);
    builder.beginTick(1000, [], null);
    const a = builder.frame({ dashboards: ['d'], metrics: [] });
    const b = builder.frame({ dashboards: ['d'], metrics: [] });
    const c = builder.frame({ dashboards: ['d'], metrics: ['cpu'] });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(builder.built).toBe(2);
    expect(reads).toBe(1);
    expect(JSON.parse(c.toString())).toEqual({
      type: 'frame',
      at: 1000,
      dashboards: { d: { c: { s: [1000, 1] } } },
      metrics: { cpu: { cpu: [1000, 1] } },
      alerts: [],
      scores: null,
    });
    registry.gauge('cpu').set(2);
    builder.beginTick(2000, [], null);
    expect(JSON.parse(builder.frame({ dashboards: ['d'], metrics: [] }).toString()).dashboards.d.c.s).toEqual([
      2000, 2,
    ]);
  });

  it('puts the most severe, newest alerts first and caps how many a frame carries', () => {
    const { registry } = newRegistry();
    const builder = new FrameBuilder([], new LiveReader(registry));
    const alert = (id: string, severity: AlertView['severity'], startedAt: number): AlertView => ({
      id,
      severity,
      status: 'firing',
      title: id,
      message: '',
      source: 's',
      labels: {},
      startedAt,
    });
    const many = Array.from({ length: MAX_FRAME_ALERTS + 50 }, (_, i) => alert(`i${i}`, 'info', i));
    builder.beginTick(
      0,
      [...many, alert('w', 'warning', 1), alert('c-old', 'critical', 1), alert('c-new', 'critical', 2)],
      null,
    );
    const frame = JSON.parse(builder.frame({ dashboards: [], metrics: [] }).toString()) as { alerts: AlertView[] };
    expect(frame.alerts).toHaveLength(MAX_FRAME_ALERTS);
    expect(frame.alerts.slice(0, 4).map((a) => a.id)).toEqual(['c-new', 'c-old', 'w', `i${MAX_FRAME_ALERTS + 49}`]);
  });
});

describe('scoresFromRegistry', () => {
  it('reads the perf.score{kind} gauge, null before it exists and for kinds not written', () => {
    const { registry } = newRegistry();
    expect(scoresFromRegistry(registry)).toBeNull();
    const score = registry.gauge('perf.score', { labels: ['kind'] });
    score.set({ kind: 'latency' }, 80);
    score.set({ kind: 'overall' }, 72.5);
    expect(scoresFromRegistry(registry)).toEqual({
      latency: 80,
      throughput: null,
      error_rate: null,
      resources: null,
      overall: 72.5,
    });
  });
});
