import { afterEach, describe, expect, it } from 'vitest';
import {
  decodeWriteRequestBody,
  encodeWriteRequest,
  isStaleNaN,
  PROM_METRIC_TYPE,
  seriesLabels,
  STALE_NAN,
  writeRequestBody,
} from '../../src/export/remote-write.js';
import { RemoteWriteExporter } from '../../src/export/remote-write-exporter.js';
import { Registry } from '../../src/metrics/registry.js';
import { memoryLogger, until } from '../helpers.js';
import { type Receiver, startReceiver } from './receiver-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('remote write encoding', () => {
  it('sorts labels by name in byte order, __name__ among them', () => {
    expect(seriesLabels('up', { zone: 'a', Alpha: 'b', job: 'j' }).map((l) => l.name)).toEqual([
      'Alpha',
      '__name__',
      'job',
      'zone',
    ]);
  });

  it('encodes the prompb wire format: field 1 timeseries, labels 1, samples 2 (double value, int64 ms)', () => {
    const bytes = encodeWriteRequest({
      timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [{ value: 1, timestamp: 1 }] }],
    });
    // 0a = timeseries(1, len); 0a = labels(1, len) { 0a 01 'a' 12 01 'b' }; 12 = samples(2, len) { 09 <double 1.0> 10 01 }
    expect(Buffer.from(bytes).toString('hex')).toBe('0a150a060a0161120162120b09000000000000f03f1001');
  });

  it('encodes metadata as WriteRequest field 3: type 1 (enum varint), family name 2, help 4, unit 5', () => {
    const bytes = encodeWriteRequest({
      timeseries: [],
      metadata: [{ type: PROM_METRIC_TYPE.counter, metricFamilyName: 'a', help: 'h', unit: 'u' }],
    });
    expect(Buffer.from(bytes).toString('hex')).toBe('1a0b08011201612201682a0175');
  });

  it("encodes the staleness marker with Prometheus' exact bits 0x7ff0000000000002, which an ordinary NaN lacks", () => {
    const bytes = encodeWriteRequest({ timeseries: [{ labels: [], samples: [{ value: STALE_NAN, timestamp: 0 }] }] });
    // The double is little-endian after the sample's 09 tag.
    expect(Buffer.from(bytes).toString('hex')).toContain('09020000000000f07f');
    expect(isStaleNaN(STALE_NAN)).toBe(true);
    expect(isStaleNaN(Number.NaN)).toBe(false);
    const decoded = decodeWriteRequestBody(
      writeRequestBody({ timeseries: [{ labels: [], samples: [{ value: STALE_NAN, timestamp: 0 }] }] }),
    );
    expect(isStaleNaN(decoded.timeseries[0]!.samples[0]!.value)).toBe(true);
  });

  it('round-trips through snappy and protobuf', () => {
    const message = {
      metadata: [{ type: PROM_METRIC_TYPE.histogram, metricFamilyName: 'h_seconds', help: 'Latency', unit: 'seconds' }],
      timeseries: [
        { labels: seriesLabels('x_total', { a: '1' }), samples: [{ value: 2.5, timestamp: 1_795_000_000_123 }] },
        { labels: seriesLabels('y', {}), samples: [{ value: -1, timestamp: 1 }] },
      ],
    };
    const body = writeRequestBody(message);
    expect(decodeWriteRequestBody(body)).toEqual(message);
  });
});

describe('RemoteWriteExporter', () => {
  async function setup(): Promise<{ registry: Registry; exporter: RemoteWriteExporter; receiver: Receiver }> {
    const receiver = await startReceiver([{ status: 204 }]);
    cleanups.push(() => receiver.close());
    const registry = new Registry({ logger: memoryLogger() });
    const exporter = new RemoteWriteExporter({
      endpoint: `${receiver.url}/api/v1/write`,
      registry,
      logger: memoryLogger(),
      externalLabels: { job: 'test' },
    });
    cleanups.push(() => exporter.close(500));
    return { registry, exporter, receiver };
  }

  it('POSTs the series with the remote write headers, the same names as /metrics, stamped now, with their metadata', async () => {
    const { registry, exporter, receiver } = await setup();
    registry.counter('jobs', { labels: ['queue'], help: 'Jobs done' }).inc({ queue: 'a' }, 3);
    registry.histogram('response_time', { unit: 'ms', buckets: [10, 100], help: 'Response time' }).observe(50);
    const summary = await exporter.collect(1_000_000);
    expect(summary).toEqual({ series: 2, samples: 1 + 5, batches: 1, stale: 0 });
    await until(() => expect(receiver.requests).toHaveLength(1));
    const req = receiver.requests[0]!;
    expect(req.path).toBe('/api/v1/write');
    expect(req.headers).toMatchObject({
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'erlmcp-monitor/0.1.0',
    });
    const got = decodeWriteRequestBody(req.body).timeseries.map((ts) => [
      Object.fromEntries(ts.labels.map((l) => [l.name, l.value])),
      ts.samples,
    ]);
    expect(got).toEqual([
      [{ __name__: 'jobs_total', job: 'test', queue: 'a' }, [{ value: 3, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_bucket', job: 'test', le: '0.01' }, [{ value: 0, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_bucket', job: 'test', le: '0.1' }, [{ value: 1, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_bucket', job: 'test', le: '+Inf' }, [{ value: 1, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_sum', job: 'test' }, [{ value: 0.05, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_count', job: 'test' }, [{ value: 1, timestamp: 1_000_000 }]],
    ]);
    // As the text exposition's # TYPE / # HELP lines name them (families without series send none).
    expect(decodeWriteRequestBody(req.body).metadata).toEqual([
      { type: PROM_METRIC_TYPE.counter, metricFamilyName: 'jobs_total', help: 'Jobs done', unit: '' },
      {
        type: PROM_METRIC_TYPE.histogram,
        metricFamilyName: 'response_time_seconds',
        help: 'Response time',
        unit: 'seconds',
      },
    ]);
  });

  it('sends every series every round, changed or not, as a scrape would see them', async () => {
    const { registry, exporter, receiver } = await setup();
    const jobs = registry.counter('jobs', { labels: ['queue'] });
    jobs.inc({ queue: 'a' });
    jobs.inc({ queue: 'b' });
    const valuesAt = async (now: number) => {
      const before = receiver.requests.length;
      const { batches } = await exporter.collect(now);
      await until(() => expect(receiver.requests.length).toBe(before + batches));
      const out: Record<string, number> = {};
      for (const r of receiver.requests.slice(before)) {
        for (const ts of decodeWriteRequestBody(r.body).timeseries) {
          const queue = ts.labels.find((l) => l.name === 'queue');
          if (queue !== undefined) out[queue.value] = ts.samples[0]!.value;
          expect(ts.samples[0]!.timestamp).toBe(now);
        }
      }
      return out;
    };
    expect(await valuesAt(1000)).toEqual({ a: 1, b: 1 });
    jobs.inc({ queue: 'b' });
    expect(await valuesAt(2000)).toEqual({ a: 1, b: 2 });
    expect(await valuesAt(3000)).toEqual({ a: 1, b: 2 });
    expect(await valuesAt(4000)).toEqual({ a: 1, b: 2 });
  });

  it('sends a staleness marker for a series gone since the last round, none for one bound again, and for all on markAllStale', async () => {
    const { registry, exporter, receiver } = await setup();
    const gone = registry.gauge('gone', { labels: ['k'] });
    const back = registry.counter('back');
    gone.set({ k: 'x' }, 1);
    back.inc();
    await exporter.collect(1000);
    await until(() => expect(exporter.queue.pending).toBe(0));
    gone.reset();
    back.reset();
    back.inc(4);
    const before = receiver.requests.length;
    const summary = await exporter.collect(2000);
    expect(summary.stale).toBe(1);
    await until(() => expect(receiver.requests.length).toBe(before + summary.batches));
    const samples = receiver.requests.slice(before).flatMap((r) => decodeWriteRequestBody(r.body).timeseries);
    const named = (name: string) =>
      samples.filter((ts) => ts.labels.some((l) => l.name === '__name__' && l.value === name));
    expect(named('gone')).toHaveLength(1);
    expect(named('gone')[0]!.labels.find((l) => l.name === 'k')!.value).toBe('x');
    expect(isStaleNaN(named('gone')[0]!.samples[0]!.value)).toBe(true);
    expect(named('back_total').map((ts) => ts.samples[0]!.value)).toEqual([4]);
    // Only once: the next round has nothing more to mark.
    expect((await exporter.collect(3000)).stale).toBe(0);
    await until(() => expect(exporter.queue.pending).toBe(0));

    const sentBefore = receiver.requests.length;
    const marked = await exporter.markAllStale(3001);
    expect(marked).toBeGreaterThan(0);
    await until(() => expect(exporter.queue.pending).toBe(0));
    const last = receiver.requests.slice(sentBefore).flatMap((r) => decodeWriteRequestBody(r.body).timeseries);
    expect(last).toHaveLength(marked);
    expect(last.every((ts) => isStaleNaN(ts.samples[0]!.value) && ts.samples[0]!.timestamp === 3001)).toBe(true);
    expect(last.some((ts) => ts.labels.some((l) => l.value === 'back_total'))).toBe(true);
  });

  it('splits a large change into batches of at most maxSamplesPerBatch samples', async () => {
    const receiver = await startReceiver([{ status: 204 }]);
    cleanups.push(() => receiver.close());
    const registry = new Registry({ logger: memoryLogger() });
    const exporter = new RemoteWriteExporter({
      endpoint: receiver.url,
      registry,
      logger: memoryLogger(),
      maxSamplesPerBatch: 100,
    });
    cleanups.push(() => exporter.close(500));
    const c = registry.counter('c', { labels: ['i'] });
    for (let i = 0; i < 250; i++) c.inc({ i });
    expect(await exporter.collect(1)).toEqual({ series: 250, samples: 250, batches: 3, stale: 0 });
    await until(() => expect(receiver.requests).toHaveLength(3));
    expect(receiver.requests.map((r) => decodeWriteRequestBody(r.body).timeseries.length)).toEqual([100, 100, 50]);
  });
});
