import { describe, expect, it } from 'vitest';
import { renderExposition } from '../../src/exposition/negotiate.js';
import { exposedName, RUNTIME_FAMILIES } from '../../src/metrics/prometheus-names.js';
import { Registry } from '../../src/metrics/registry.js';
import { memoryLogger } from '../helpers.js';

describe('exposedName', () => {
  it.each([
    ['requests', 'counter', '', '', 'requests_total', 1],
    ['requests.total', 'counter', '', 'shop', 'shop_requests_total', 1],
    ['http.server.duration', 'histogram', 'ms', 'shop', 'shop_http_server_duration_seconds', 1e-3],
    ['perf.throughput', 'gauge', 'requests_per_second', '', 'perf_throughput_requests_per_second', 1],
    ['perf.latency', 'gauge', 'ms', 'a:b', 'a:b_perf_latency_seconds', 1e-3],
    // prom-client's runtime names stay as they are under a namespace.
    ['process.cpu.seconds', 'counter', '', 'shop', 'process_cpu_seconds_total', 1],
    ['nodejs.heap_size_used', 'gauge', 'bytes', 'shop', 'nodejs_heap_size_used_bytes', 1],
    ['nodejs.gc.duration', 'histogram', 's', 'shop', 'nodejs_gc_duration_seconds', 1],
    // ... but only those: a look-alike of the application's is prefixed.
    ['process.jobs', 'counter', '', 'shop', 'shop_process_jobs_total', 1],
  ] as const)('%s (%s, unit %j, namespace %j) → %s', (name, type, unit, namespace, exposed, scale) => {
    expect(exposedName(name, type, unit, namespace)).toEqual({ name: exposed, scale });
  });

  it('lists the runtime families of the shared naming decision', () => {
    for (const family of [
      'process_cpu_seconds_total',
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_p99_seconds',
      'nodejs_heap_space_size_available_bytes',
      'nodejs_version_info',
    ]) {
      expect(RUNTIME_FAMILIES.has(family)).toBe(true);
    }
  });
});

describe('a namespaced registry', () => {
  it('prefixes every family of the scrape and of OpenMetrics, runtime families excepted', async () => {
    const registry = new Registry({ logger: memoryLogger(), namespace: 'shop' });
    registry.counter('orders', { labels: ['kind'] }).inc({ kind: 'book' }, 2);
    registry.histogram('checkout', { unit: 'ms', buckets: [100] }).observe(50);
    registry.gauge('process.resident_memory', { unit: 'bytes' }).set(1024);
    const text = (await renderExposition(registry, undefined)).body;
    expect(text).toBe(
      '# HELP shop_orders_total orders\n# TYPE shop_orders_total counter\nshop_orders_total{kind="book"} 2\n' +
        '# HELP shop_checkout_seconds checkout\n# TYPE shop_checkout_seconds histogram\n' +
        'shop_checkout_seconds_bucket{le="0.1"} 1\nshop_checkout_seconds_bucket{le="+Inf"} 1\nshop_checkout_seconds_sum 0.05\nshop_checkout_seconds_count 1\n' +
        '# HELP process_resident_memory_bytes process.resident_memory\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1024\n',
    );
    const om = (await renderExposition(registry, 'application/openmetrics-text')).body;
    expect(om).toMatch(/^# TYPE shop_orders counter\n# HELP shop_orders orders\nshop_orders_total\{kind="book"\} 2$/m);
    expect(om).toMatch(/^# TYPE shop_checkout_seconds histogram\n# UNIT shop_checkout_seconds seconds$/m);
    expect(om).toMatch(/^process_resident_memory_bytes 1024$/m);
    expect(om.endsWith('# EOF\n')).toBe(true);
  });

  it('refuses a metric whose prefixed name is a runtime family it would shadow', () => {
    const registry = new Registry({ logger: memoryLogger(), namespace: 'nodejs' });
    registry.gauge('heap_size_used', { unit: 'bytes' });
    // exposed as nodejs_heap_size_used_bytes, the name of the runtime family below
    expect(() => registry.gauge('nodejs.heap_size_used', { unit: 'bytes' })).toThrow(
      /"nodejs_heap_size_used_bytes", which metric "heap_size_used" already uses/,
    );
  });
});
