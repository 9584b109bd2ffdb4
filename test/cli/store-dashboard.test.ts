import { describe, expect, it } from 'vitest';
import { MAX_LINES, storeDashboard } from '../../src/cli/store-dashboard.js';
import type { SeriesDef } from '../../src/store/types.js';

let next = 1;
function def(name: string, type: SeriesDef['type'], labels: Record<string, string> = {}, unit = ''): SeriesDef {
  return { id: next++, key: `${name}${JSON.stringify(labels)}`, name, type, help: '', unit, labels };
}

describe('storeDashboard', () => {
  it('charts each stored metric once: counters as rate, gauges as value, histograms as percentiles; derived series not on their own', () => {
    const dashboard = storeDashboard([
      def('requests.total', 'counter', { method: 'GET' }, 'req'),
      def('requests.total', 'counter', { method: 'POST' }, 'req'),
      def('http.latency', 'histogram', {}, 'ms'),
      def('http.latency#p95', 'gauge', {}, 'ms'),
      def('cpu.usage', 'gauge', { host: 'a' }, '%'),
    ])!;
    expect(dashboard.name).toBe('store');
    expect(dashboard.charts).toEqual([
      {
        id: 'm1',
        title: 'cpu.usage',
        type: 'line',
        unit: '%',
        series: [{ label: 'host=a', metric: 'cpu.usage', stat: 'value', labels: { host: 'a' } }],
      },
      {
        id: 'm2',
        title: 'http.latency',
        type: 'line',
        unit: 'ms',
        series: ['p50', 'p95', 'p99'].map((stat) => ({ label: stat, metric: 'http.latency', stat, labels: {} })),
      },
      {
        id: 'm3',
        title: 'requests.total',
        type: 'line',
        unit: 'req/s',
        series: [
          { label: 'method=GET', metric: 'requests.total', stat: 'rate', labels: { method: 'GET' } },
          { label: 'method=POST', metric: 'requests.total', stat: 'rate', labels: { method: 'POST' } },
        ],
      },
    ]);
  });

  it('combines a metric with more series than a chart has lines into one line', () => {
    const many = Array.from({ length: MAX_LINES + 1 }, (_, i) => def('queue.depth', 'gauge', { q: String(i) }));
    expect(storeDashboard(many)!.charts[0]!.series).toEqual([
      { label: 'queue.depth', metric: 'queue.depth', stat: 'value' },
    ]);
  });

  it('is left out for a store without series', () => {
    expect(storeDashboard([])).toBeUndefined();
  });
});
