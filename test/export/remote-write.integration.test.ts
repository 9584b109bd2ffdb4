/**
 * A real Prometheus started with `--web.enable-remote-write-receiver` receives what the exporter
 * writes; PromQL reads back the series with their labels and values, histograms included.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteWriteExporter } from '../../src/export/remote-write-exporter.js';
import { Registry } from '../../src/metrics/registry.js';
import { memoryLogger, until } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { PROMETHEUS_BIN, promQuery, type RunningServer, startPrometheus } from '../system-servers.js';

let prometheus: RunningServer | undefined;
let exporter: RemoteWriteExporter | undefined;

afterEach(async () => {
  await exporter?.close(1000);
  await prometheus?.stop();
  prometheus = exporter = undefined;
});

const missing = missingSystemDeps(PROMETHEUS_BIN);

describe.skipIf(missing !== undefined)(`remote write into Prometheus${missing === undefined ? '' : ` (skipped: ${missing})`}`, () => {
  it('stores the written series, readable by PromQL with the right labels and values', async () => {
    prometheus = await startPrometheus({ remoteWriteReceiver: true });
    const registry = new Registry({ logger: memoryLogger() });
    exporter = new RemoteWriteExporter({ endpoint: `${prometheus.url}/api/v1/write`, registry, logger: memoryLogger(), externalLabels: { job: 'emon_rw', instance: 'host-1' } });
    const orders = registry.counter('business.orders', { help: 'Orders', labels: ['shop'] });
    orders.inc({ shop: 'eu "west"' }, 5);
    orders.inc({ shop: 'us' }, 2);
    registry.gauge('queue.depth', { help: 'Depth' }).set(17.25);
    const latency = registry.histogram('response_time', { help: 'Latency', unit: 'ms' });
    for (let i = 0; i < 19; i++) latency.observe(30);
    latency.observe(700);

    const t0 = Date.now() - 2000;
    await exporter.collect(t0);
    orders.inc({ shop: 'us' }, 1);
    await exporter.collect(t0 + 1000);
    await until(() => expect(exporter!.queue.pending).toBe(0), 10_000);
    const sent = registry.counter('monitor.export.samples', { labels: ['result'] });
    expect(sent.get({ result: 'sent' })).toBeGreaterThan(0);
    expect(sent.get({ result: 'rejected' }) ?? 0).toBe(0);

    let result: Awaited<ReturnType<typeof promQuery>> = [];
    await until(async () => {
      result = await promQuery(prometheus!.url, 'business_orders_total');
      expect(result).toHaveLength(2);
    }, 10_000);
    const byShop = Object.fromEntries(result.map((r) => [r.metric.shop, r]));
    expect(byShop['eu "west"']!.metric).toEqual({ __name__: 'business_orders_total', job: 'emon_rw', instance: 'host-1', shop: 'eu "west"' });
    expect(Number(byShop['eu "west"']!.value[1])).toBe(5);
    expect(Number(byShop.us!.value[1])).toBe(3);
    const [depth] = await promQuery(prometheus.url, 'queue_depth{job="emon_rw"}');
    expect(Number(depth!.value[1])).toBe(17.25);
    const [count] = await promQuery(prometheus.url, 'response_time_seconds_count');
    expect(Number(count!.value[1])).toBe(20);
    const [p50] = await promQuery(prometheus.url, 'histogram_quantile(0.5, response_time_seconds_bucket)');
    // 19 of 20 at 30 ms: the median is in the (0.01, 0.05] s bucket.
    expect(Number(p50!.value[1])).toBeGreaterThan(0.01);
    expect(Number(p50!.value[1])).toBeLessThanOrEqual(0.05);
  }, 45_000);
});
