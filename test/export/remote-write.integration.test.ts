/**
 * A real Prometheus started with `--web.enable-remote-write-receiver` receives what the exporter
 * writes; PromQL reads back the series with their labels and values, histograms included, and an
 * unchanging counter behaves as its scraped copy would (rate() 0, not empty; stale once stopped).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RemoteWriteExporter } from '../../src/export/remote-write-exporter.js';
import { Registry } from '../../src/metrics/registry.js';
import { memoryLogger, until } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { PROMETHEUS_BIN, promQuery, type RunningServer, startPrometheus } from '../system-servers.js';

/** An instant query evaluated at `atMs` (Prometheus time), not now. */
async function promQueryAt(
  prometheusUrl: string,
  query: string,
  atMs: number,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const res = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(query)}&time=${atMs / 1000}`);
  const body = (await res.json()) as {
    status: string;
    data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
    error?: string;
  };
  if (body.status !== 'success') throw new Error(`query ${query} failed: ${body.error}`);
  return body.data!.result;
}

let prometheus: RunningServer | undefined;
let exporter: RemoteWriteExporter | undefined;

afterEach(async () => {
  await exporter?.close(1000);
  await prometheus?.stop();
  prometheus = exporter = undefined;
});

const missing = missingSystemDeps(PROMETHEUS_BIN);

describe.skipIf(missing !== undefined)(
  `remote write into Prometheus${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    it('stores the written series, readable by PromQL with the right labels and values', async () => {
      prometheus = await startPrometheus({ remoteWriteReceiver: true });
      const registry = new Registry({ logger: memoryLogger() });
      exporter = new RemoteWriteExporter({
        endpoint: `${prometheus.url}/api/v1/write`,
        registry,
        logger: memoryLogger(),
        externalLabels: { job: 'emon_rw', instance: 'host-1' },
      });
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
      expect(byShop['eu "west"']!.metric).toEqual({
        __name__: 'business_orders_total',
        job: 'emon_rw',
        instance: 'host-1',
        shop: 'eu "west"',
      });
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

    it('an unchanging counter sent for 2 minutes has a rate() of 0, not an empty result, and goes stale when the exporter stops', async () => {
      prometheus = await startPrometheus({ remoteWriteReceiver: true });
      const registry = new Registry({ logger: memoryLogger() });
      exporter = new RemoteWriteExporter({
        endpoint: `${prometheus.url}/api/v1/write`,
        registry,
        logger: memoryLogger(),
        externalLabels: { job: 'emon_idle', instance: 'host-1' },
      });
      registry.counter('idle.jobs', { help: 'Jobs that stopped coming' }).inc(5);
      // Two minutes of Prometheus time, one export every 10 s, stamped as the collector stamps them;
      // sent as fast as the receiver takes them (the samples' timestamps, not the wall clock, are what PromQL reads).
      const intervalMs = 10_000;
      const start = Date.now() - 130_000;
      let end = start;
      for (let t = start; t <= start + 120_000; t += intervalMs) {
        await exporter.collect(t);
        end = t;
      }
      await until(() => expect(exporter!.queue.pending).toBe(0), 30_000);
      const samples = registry.counter('monitor.export.samples', { labels: ['result'] });
      expect(samples.get({ result: 'rejected' }) ?? 0).toBe(0);
      expect(samples.get({ result: 'dropped' }) ?? 0).toBe(0);

      let rate: Awaited<ReturnType<typeof promQueryAt>> = [];
      await until(async () => {
        rate = await promQueryAt(prometheus!.url, 'rate(idle_jobs_total{job="emon_idle"}[1m])', end);
        expect(rate).toHaveLength(1);
      }, 10_000);
      expect(Number(rate[0]!.value[1])).toBe(0);
      // Every window along the two minutes has samples, as with a scrape every 10 s.
      for (let t = start + 60_000; t <= end; t += 20_000) {
        expect(await promQueryAt(prometheus.url, 'rate(idle_jobs_total[1m])', t)).toHaveLength(1);
      }
      expect(await promQueryAt(prometheus.url, 'idle_jobs_total', end)).toHaveLength(1);

      await exporter.markAllStale(end + 1);
      await until(() => expect(exporter!.queue.pending).toBe(0), 10_000);
      expect(samples.get({ result: 'rejected' }) ?? 0).toBe(0);
      // Stale from the marker on, although the 5-minute lookback would otherwise still find the last sample.
      await until(
        async () => expect(await promQueryAt(prometheus!.url, 'idle_jobs_total', end + 2)).toEqual([]),
        10_000,
      );
      expect(await promQueryAt(prometheus.url, 'idle_jobs_total', end)).toHaveLength(1);
    }, 90_000);
  },
);
