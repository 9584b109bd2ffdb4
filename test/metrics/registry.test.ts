import { describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import type { Counter } from '../../src/metrics/counter.js';
import type { Gauge } from '../../src/metrics/gauge.js';
import { Registry } from '../../src/metrics/registry.js';
import { newRegistry } from './table-fixture.js';
import { COLLIDING_PAIRS, declare } from '../exposition/colliding-pairs.js';
import { memoryLogger } from '../helpers.js';
import { PerfGauges } from '../../src/performance/publish.js';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';

function codeOf(fn: () => unknown): [ErrorCode | undefined, string] {
  try {
    fn();
  } catch (err) {
    if (err instanceof MonitorError) return [err.code, err.message];
    throw err;
  }
  return [undefined, ''];
}

describe('Registry', () => {
  it('returns the same metric when registered again with the same type and labels', () => {
    const { registry } = newRegistry();
    const a = registry.counter('business.orders', { help: 'Total orders processed' });
    expect(registry.counter('business.orders')).toBe(a);
    expect(registry.require('business.orders', 'counter')).toBe(a);
    expect(registry.metrics().map((m) => m.name)).toEqual(['monitor.series_dropped', 'business.orders']);
  });

  it('refuses re-registering a name as another type, naming both', () => {
    const { registry } = newRegistry();
    registry.counter('x');
    expect(codeOf(() => registry.gauge('x'))).toEqual([
      ErrorCode.MetricConflict,
      'metric "x" is already registered as a counter; cannot register it as a gauge',
    ]);
    expect(codeOf(() => registry.histogram('x'))[0]).toBe(ErrorCode.MetricConflict);
    expect(registry.get('x')!.type).toBe('counter');
  });

  it('refuses other label names or buckets for an existing metric', () => {
    const { registry } = newRegistry();
    registry.counter('y', { labels: ['a'] });
    expect(codeOf(() => registry.counter('y', { labels: ['b'] }))).toEqual([
      ErrorCode.MetricConflict,
      'metric "y" is registered with labels [a], asked with [b]',
    ]);
    registry.histogram('h', { buckets: [1, 2] });
    expect(codeOf(() => registry.histogram('h', { buckets: [1, 3] }))[1]).toBe(
      'metric "h" is registered with buckets [1, 2], asked with [1, 3]',
    );
  });

  it.each([['1abc'], ['has space'], ['dash-name'], [''], [42], ['x'.repeat(201)]])(
    'refuses the invalid name %j',
    (name) => {
      const { registry } = newRegistry();
      const [code, message] = codeOf(() => registry.counter(name as string));
      expect(code).toBe(ErrorCode.InvalidName);
      expect(message).toMatch(/^invalid metric name .*: allowed are letters, digits, "_", "\." and ":"/);
      expect(registry.metrics()).toHaveLength(1);
    },
  );

  it('refuses invalid label names', () => {
    const { registry } = newRegistry();
    expect(codeOf(() => registry.counter('z', { labels: ['ok', 'ok'] }))).toEqual([
      ErrorCode.InvalidName,
      'metric "z": label name "ok" appears twice',
    ]);
    expect(codeOf(() => registry.counter('z', { labels: ['__x'] }))[1]).toMatch(/invalid label name "__x"/);
    expect(codeOf(() => registry.counter('z', { labels: ['a-b'] }))[0]).toBe(ErrorCode.InvalidName);
    expect(registry.get('z')).toBeUndefined();
  });

  it('names an unknown metric', () => {
    const { registry } = newRegistry();
    expect(codeOf(() => registry.require('nope'))).toEqual([
      ErrorCode.UnknownMetric,
      'unknown metric "nope": register it first',
    ]);
    registry.gauge('g');
    expect(codeOf(() => registry.require('g', 'counter'))).toEqual([
      ErrorCode.MetricConflict,
      'metric "g" is a gauge, not a counter',
    ]);
  });

  it('lets a declaration that differs from a restored metric replace it, with a warning', () => {
    const { registry, logger } = newRegistry();
    (registry.restoreMetric('loop.delay', 'gauge', { labels: ['quantile'] }) as Gauge).set(3, { quantile: 'p50' });
    (registry.restoreMetric('kept', 'counter', {}) as Counter).inc(2);
    const declared = registry.gauge('loop.delay', { labels: ['percentile'] });
    expect(declared.labelNames).toEqual(['percentile']);
    expect(declared.series()).toEqual([]);
    expect(registry.counter('kept').get()).toBe(2);
    expect(logger.records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      'metric "loop.delay" is now declared differently from the stored one: its stored values are dropped',
    ]);
    // Once declared, the usual rule holds again.
    expect(() => registry.gauge('loop.delay', { labels: ['quantile'] })).toThrow(MonitorError);
  });

  it('replaces a restored metric declared now with another unit, so the exposed name follows the declaration', async () => {
    const { registry, logger } = newRegistry();
    // What a store written before the rename holds.
    (registry.restoreMetric('perf.throughput', 'gauge', { unit: 'req/s' }) as Gauge).set(5);
    new PerfGauges(registry);
    expect(registry.get('perf.throughput')?.unit).toBe('requests_per_second');
    const text = await renderPrometheusText(registry);
    expect(text).not.toContain('req_s');
    expect(logger.records.filter((r) => r.level === 'warn').map((r) => r.msg)).toEqual([
      'metric "perf.throughput" is now declared differently from the stored one: its stored values are dropped',
    ]);
  });

  it("keeps an owner's metrics its own: another declaration of them fails naming the owner, the owner's repeats succeed", () => {
    const { registry } = newRegistry();
    const owned = registry.own('instrument.http', ['http.server.requests'], () =>
      registry.counter('http.server.requests', { labels: ['code'] }),
    );
    owned.inc({ code: '200' });
    expect(registry.ownerOf('http.server.requests')).toBe('instrument.http');
    expect(
      registry.own('instrument.http', ['http.server.requests'], () =>
        registry.counter('http.server.requests', { labels: ['code'] }),
      ),
    ).toBe(owned);
    const clash =
      'metric "http.server.requests" is owned by instrument.http; choose another name for your metric (instrument.http\'s names are documented with it)';
    // Same labels or not, by the API or the message API: the application does not get the owner's series.
    expect(codeOf(() => registry.counter('http.server.requests', { labels: ['code'] }))).toEqual([
      ErrorCode.MetricConflict,
      clash,
    ]);
    expect(codeOf(() => registry.register('http.server.requests', 'counter', { labels: ['method', 'route'] }))).toEqual(
      [ErrorCode.MetricConflict, clash],
    );
    expect(codeOf(() => registry.own('other.plugin', [], () => registry.gauge('http.server.requests')))[0]).toBe(
      ErrorCode.MetricConflict,
    );
    // The message API's by-name updates may not write it either; the owner's handle still does.
    const refused =
      'metric "http.server.requests" is owned by instrument.http: only instrument.http updates it; the message API (increment, set, observe, batch, apply) may not';
    expect(codeOf(() => registry.increment('http.server.requests', { code: '200' }, 1000))).toEqual([
      ErrorCode.MetricConflict,
      refused,
    ]);
    // Reading is not declaring; nothing changed.
    expect(registry.getMetric('http.server.requests', { code: '200' })?.value).toBe(1);
    expect(registry.ownerOf('business.orders')).toBeUndefined();
  });

  it('refuses an owner a name the application registered first, and lets it take one only restored from the store', () => {
    const { registry } = newRegistry();
    registry.counter('requests', { labels: ['method', 'route'] }).inc({ method: 'GET', route: '/' });
    const declared: string[] = [];
    const declare = () => {
      for (const name of ['fresh', 'requests'])
        declared.push(registry.counter(name, { labels: ['method', 'route'] }).name);
    };
    expect(codeOf(() => registry.own('instrument.http', ['fresh', 'requests'], declare))).toEqual([
      ErrorCode.MetricConflict,
      'instrument.http needs metric name "requests", which is registered already by the application: rename that metric (instrument.http owns "requests")',
    ]);
    // Checked before declaring anything: the refused owner registered nothing.
    expect(declared).toEqual([]);
    expect(registry.get('fresh')).toBeUndefined();
    expect(registry.ownerOf('requests')).toBeUndefined();
    expect(registry.getMetric('requests', { method: 'GET', route: '/' })?.value).toBe(1);
    (registry.restoreMetric('restored', 'counter', { labels: ['code'] }) as Counter).inc(4, { code: '200' });
    const taken = registry.own('instrument.http', ['restored'], () =>
      registry.counter('restored', { labels: ['code'] }),
    );
    expect(taken.get({ code: '200' })).toBe(4); // same shape: the stored counts continue
    expect(registry.ownerOf('restored')).toBe('instrument.http');
  });

  it('refuses two metrics that Prometheus would see under one name', () => {
    const { registry } = newRegistry();
    registry.counter('requests.total');
    expect(codeOf(() => registry.counter('requests'))).toEqual([
      ErrorCode.MetricConflict,
      'metric "requests" would be exposed to Prometheus as "requests_total", which metric "requests.total" already uses: rename one of them',
    ]);
    registry.gauge('cache.size', { unit: 'bytes' });
    expect(codeOf(() => registry.gauge('cache_size_bytes'))[0]).toBe(ErrorCode.MetricConflict);
    registry.histogram('rt', { unit: 'ms' });
    expect(codeOf(() => registry.gauge('rt_seconds_count'))[1]).toMatch(
      /exposed to Prometheus as "rt_seconds_count", which metric "rt"/,
    );
    expect(registry.get('requests')).toBeUndefined();
  });

  it.each(COLLIDING_PAIRS)(
    'refuses %o beside %o in either order, naming both: their OpenMetrics names collide',
    (a, b) => {
      for (const [first, second] of [
        [a, b],
        [b, a],
      ] as const) {
        for (const namespace of [undefined, 'shop']) {
          const registry = new Registry({ logger: memoryLogger(), ...(namespace === undefined ? {} : { namespace }) });
          declare(registry, first);
          const [code, message] = codeOf(() => declare(registry, second));
          expect(code).toBe(ErrorCode.MetricConflict);
          expect(message).toContain(`metric "${second.name}"`);
          expect(message).toContain(`metric "${first.name}"`);
          expect(message).toMatch(/rename one of them/);
          expect(registry.get(second.name)).toBeUndefined();
        }
      }
    },
  );

  it('says which OpenMetrics rule a family-name collision breaks', () => {
    const { registry } = newRegistry();
    registry.counter('hits_total');
    expect(codeOf(() => registry.gauge('hits'))).toEqual([
      ErrorCode.MetricConflict,
      'metric "hits" (gauge) would be exposed with "hits" as its sample, which is the OpenMetrics family name of metric "hits_total" (counter); OpenMetrics parsers reject such a pair ("Clashing name"): rename one of them',
    ]);
  });

  it('accepts names that only look alike: gauge x_info beside gauge x, gauge lat_p99 beside histogram lat', () => {
    const { registry } = newRegistry();
    registry.gauge('x').set(1);
    registry.gauge('x_info').set(1);
    registry.histogram('lat').observe(1);
    registry.gauge('lat_p99').set(1);
    registry.counter('a_total_count').inc();
    expect(registry.metrics().map((m) => m.name)).toEqual([
      'monitor.series_dropped',
      'x',
      'x_info',
      'lat',
      'lat_p99',
      'a_total_count',
    ]);
  });

  it.each([['shop_'], ['1shop'], ['shop-1'], ['_'], [42]])('refuses namespace %j with what is allowed', (namespace) => {
    expect(codeOf(() => new Registry({ logger: memoryLogger(), namespace: namespace as string }))).toEqual([
      ErrorCode.InvalidOption,
      `invalid namespace ${typeof namespace === 'string' ? `"${namespace}"` : namespace}: it prefixes every exposed metric name (joined with "_"), so it is letters, digits, "_" and ":", not starting with a digit nor ending with "_", e.g. "shop"`,
    ]);
  });

  it('counts overflow of the dropped-series counter itself without recursing', () => {
    const { registry } = newRegistry(1);
    const a = registry.counter('a', { labels: ['k'] });
    const b = registry.counter('b', { labels: ['k'] });
    a.inc({ k: '1' });
    a.inc({ k: '2' });
    b.inc({ k: '1' });
    b.inc({ k: '2' });
    expect(b.get({ k: '__overflow__' })).toBe(1);
  });

  it('reports a non-number value on the message API as the value, not as labels', () => {
    const { registry } = newRegistry();
    registry.histogram('h', { labels: ['route'] });
    registry.gauge('g');
    expect(codeOf(() => registry.observe('h', { route: '/' }, '42' as never))).toEqual([
      ErrorCode.InvalidValue,
      'metric "h": an observed value must be a finite number, got "42"',
    ]);
    expect(codeOf(() => registry.set('g', undefined, '7' as never))[1]).toBe(
      'metric "g": a gauge value must be a finite number, got "7"',
    );
  });

  it('refuses label values that would make the series key too long', () => {
    const { registry } = newRegistry();
    const c = registry.counter('routes', { labels: ['route'] });
    expect(codeOf(() => c.inc({ route: '/x'.repeat(600) }))[1]).toMatch(
      /^metric "routes": label values too long: the series key would be \d+ bytes \(at most 1000\)$/,
    );
    expect(c.series()).toEqual([]);
  });

  it('refuses a bad series limit', () => {
    expect(() => new Registry({ seriesLimit: 0 })).toThrow('seriesLimit must be a positive integer, got 0');
  });
});
