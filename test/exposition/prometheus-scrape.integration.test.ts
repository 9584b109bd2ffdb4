/**
 * A real Prometheus (Debian's 2.x) scrapes `/metrics` every second; PromQL through its HTTP API
 * reads the counter back, and `histogram_quantile(0.95, …)` of the latency histogram lands within
 * one bucket of the true 95th percentile. Prometheus asks for OpenMetrics first, so this is the
 * OpenMetrics path end to end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Registry } from '../../src/metrics/registry.js';
import { type MetricsServer, serveMetrics } from '../../src/server/metrics-server.js';
import { memoryLogger, until } from '../helpers.js';
import { missingSystemDeps } from '../system-deps.js';
import { PROMETHEUS_BIN, promQuery, type RunningServer, startPrometheus } from '../system-servers.js';

let prometheus: RunningServer | undefined;
let endpoint: MetricsServer | undefined;

afterEach(async () => {
  await prometheus?.stop();
  await endpoint?.close();
  prometheus = endpoint = undefined;
});

const missing = missingSystemDeps(PROMETHEUS_BIN);

describe.skipIf(missing !== undefined)(
  `Prometheus scraping /metrics${missing === undefined ? '' : ` (skipped: ${missing})`}`,
  () => {
    it('reads the counter and the p95 of the latency histogram by PromQL', async () => {
      const registry = new Registry({ logger: memoryLogger() });
      registry.counter('jobs.done', { help: 'Jobs done', labels: ['queue'] }).inc({ queue: 'mail "q"' }, 42);
      const latency = registry.histogram('response_time', { help: 'Latency', unit: 'ms' });
      // 90 fast (30 ms) and 10 slow (300 ms): the true p95 is 300 ms, inside the (100, 500] ms bucket.
      for (let i = 0; i < 90; i++) latency.observe(30);
      for (let i = 0; i < 10; i++) latency.observe(300);
      endpoint = await serveMetrics(registry);
      prometheus = await startPrometheus({ targets: [new URL(endpoint.url).host] });

      let counter: Awaited<ReturnType<typeof promQuery>> = [];
      await until(async () => {
        counter = await promQuery(prometheus!.url, 'jobs_done_total');
        expect(counter).toHaveLength(1);
      }, 25_000);
      expect(counter[0]!.metric).toMatchObject({ __name__: 'jobs_done_total', queue: 'mail "q"', job: 'emon' });
      expect(Number(counter[0]!.value[1])).toBe(42);

      const [p95] = await promQuery(
        prometheus.url,
        'histogram_quantile(0.95, sum by (le) (response_time_seconds_bucket))',
      );
      const value = Number(p95!.value[1]);
      const truth = latency.bind().quantile(0.95)! / 1000;
      expect(truth).toBeCloseTo(0.3, 2);
      // Within one bucket: the answer lies in the bucket holding the true value, (0.1, 0.5] s.
      expect(value).toBeGreaterThan(0.1);
      expect(value).toBeLessThanOrEqual(0.5);
      expect(Math.abs(value - truth)).toBeLessThanOrEqual(0.5 - 0.1);
      const [count] = await promQuery(prometheus.url, 'response_time_seconds_count');
      expect(Number(count!.value[1])).toBe(100);
      const [sum] = await promQuery(prometheus.url, 'response_time_seconds_sum');
      expect(Number(sum!.value[1])).toBeCloseTo((90 * 30 + 10 * 300) / 1000, 9);
    }, 45_000);
  },
);
