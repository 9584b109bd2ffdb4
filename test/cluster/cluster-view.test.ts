import { describe, expect, it } from 'vitest';
import { CLUSTER_REJECTED_METRIC, ClusterView } from '../../src/cluster/cluster-view.js';
import { snapshotChanged } from '../../src/cluster/registry-snapshot.js';
import { renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import { Registry } from '../../src/metrics/registry.js';
import { memoryLogger } from '../helpers.js';

/** A worker's table and a function reporting its changed series into `view` as `source`. */
function worker(view: ClusterView, source: string) {
  const registry = new Registry({ logger: memoryLogger() });
  const sent = new Map<string, number>();
  return {
    jobs: registry.counter('jobs.done', { help: 'Jobs', labels: ['queue'] }),
    busy: registry.gauge('workers.busy', { help: 'Busy' }),
    latency: registry.histogram('response_time', { help: 'Latency', unit: 'ms', buckets: [10, 100] }),
    registry,
    report: () => view.merge(source, snapshotChanged(registry, sent)),
  };
}

const lines = async (view: ClusterView, prefix: string) =>
  (await renderPrometheusText(view.registry)).split('\n').filter((l) => l.startsWith(prefix));

describe('ClusterView', () => {
  it('by_worker: shows each worker series labelled worker="<id>"', async () => {
    const view = new ClusterView({ mode: 'by_worker', logger: memoryLogger() });
    const w1 = worker(view, '1');
    const w2 = worker(view, '2');
    w1.jobs.inc({ queue: 'a' }, 3);
    w2.jobs.inc({ queue: 'a' }, 4);
    w2.latency.observe(50);
    w1.report();
    w2.report();
    w1.jobs.inc({ queue: 'a' }, 1);
    w1.report();
    expect(await lines(view, 'jobs_done_total')).toEqual([
      'jobs_done_total{queue="a",worker="1"} 4',
      'jobs_done_total{queue="a",worker="2"} 4',
    ]);
    expect(await lines(view, 'response_time_seconds_count')).toEqual(['response_time_seconds_count{worker="2"} 1']);
  });

  it('exposes the merged series under the namespace it is given, as each process would', async () => {
    const view = new ClusterView({ mode: 'by_worker', logger: memoryLogger(), namespace: 'shop' });
    const w1 = worker(view, '1');
    w1.jobs.inc({ queue: 'a' }, 2);
    w1.report();
    expect(await lines(view, 'shop_jobs_done_total')).toEqual(['shop_jobs_done_total{queue="a",worker="1"} 2']);
    expect(await lines(view, 'jobs_done_total')).toEqual([]);
  });

  it('sum: one series per label set, summed: counters, gauges, histogram buckets, sum, count and sketch', async () => {
    const view = new ClusterView({ mode: 'sum', logger: memoryLogger() });
    const w1 = worker(view, '1');
    const w2 = worker(view, '2');
    w1.jobs.inc({ queue: 'a' }, 3);
    w2.jobs.inc({ queue: 'a' }, 4);
    w2.jobs.inc({ queue: 'b' }, 1);
    w1.busy.set(2);
    w2.busy.set(5);
    w1.latency.observe(5);
    w2.latency.observe(50);
    w2.latency.observe(500);
    w1.report();
    w2.report();
    expect(await lines(view, 'jobs_done_total')).toEqual([
      'jobs_done_total{queue="a"} 7',
      'jobs_done_total{queue="b"} 1',
    ]);
    expect(await lines(view, 'workers_busy')).toEqual(['workers_busy 7']);
    expect(await lines(view, 'response_time_seconds')).toEqual([
      'response_time_seconds_bucket{le="0.01"} 1',
      'response_time_seconds_bucket{le="0.1"} 2',
      'response_time_seconds_bucket{le="+Inf"} 3',
      'response_time_seconds_sum 0.555',
      'response_time_seconds_count 3',
    ]);
    const merged = view.registry.require('response_time', 'histogram').bind();
    expect(merged.quantile(1)).toBeCloseTo(500, -1);
    expect(merged.min).toBe(5);
  });

  it('sum: a gone worker keeps its counters in the sum (no decrease) and its gauges leave it', async () => {
    const view = new ClusterView({ mode: 'sum', logger: memoryLogger() });
    const w1 = worker(view, '1');
    const w2 = worker(view, '2');
    w1.jobs.inc({ queue: 'a' }, 3);
    w2.jobs.inc({ queue: 'a' }, 4);
    w1.busy.set(2);
    w2.busy.set(5);
    w1.report();
    w2.report();
    view.forget('2');
    expect(await lines(view, 'jobs_done_total')).toEqual(['jobs_done_total{queue="a"} 7']);
    expect(await lines(view, 'workers_busy')).toEqual(['workers_busy 2']);
  });

  it('skips and counts a report that clashes or is malformed, without poisoning later reports', async () => {
    const log = memoryLogger();
    const view = new ClusterView({ mode: 'sum', logger: log });
    const w1 = worker(view, '1');
    w1.jobs.inc({ queue: 'a' }, 3);
    w1.report();
    view.merge('2', [
      {
        name: 'jobs.done',
        type: 'gauge',
        help: '',
        unit: '',
        labelNames: ['queue'],
        series: [{ labels: { queue: 'a' }, state: { v: 1 } }],
      },
    ]);
    view.merge('3', [
      {
        name: 'jobs.done',
        type: 'counter',
        help: 'Jobs',
        unit: '',
        labelNames: ['queue'],
        series: [{ labels: { queue: 'a' }, state: { v: 'x' } }],
      },
    ]);
    w1.jobs.inc({ queue: 'a' }, 1);
    w1.report();
    expect(await lines(view, 'jobs_done_total')).toEqual(['jobs_done_total{queue="a"} 4']);
    const rejected = view.registry.counter(CLUSTER_REJECTED_METRIC, { labels: ['reason'] });
    expect(rejected.get({ reason: 'EMON_METRIC_CONFLICT' })).toBe(1);
    expect(rejected.get({ reason: 'EMON_INVALID_VALUE' })).toBe(1);
    expect(log.records.map((r) => r.msg)).toContain(
      'cluster: metric report for "jobs.done" not merged: metric "jobs.done" is already registered as a counter; cannot register it as a gauge',
    );
  });

  it('reports only series that changed since the last report', () => {
    const registry = new Registry({ logger: memoryLogger() });
    const sent = new Map<string, number>();
    const c = registry.counter('c', { labels: ['k'] });
    c.inc({ k: 'a' });
    c.inc({ k: 'b' });
    expect(snapshotChanged(registry, sent)[0]!.series).toHaveLength(2);
    expect(snapshotChanged(registry, sent)).toEqual([]);
    c.inc({ k: 'b' });
    expect(snapshotChanged(registry, sent)).toEqual([
      {
        name: 'c',
        type: 'counter',
        help: 'c',
        unit: '',
        labelNames: ['k'],
        series: [{ labels: { k: 'b' }, state: { v: 2 } }],
      },
    ]);
  });
});
