import { afterEach, describe, expect, it } from 'vitest';
import { decodeWriteRequestBody, encodeWriteRequest, seriesLabels, writeRequestBody } from '../../src/export/remote-write.js';
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
    expect(seriesLabels('up', { zone: 'a', Alpha: 'b', job: 'j' }).map((l) => l.name)).toEqual(['Alpha', '__name__', 'job', 'zone']);
  });

  it('encodes the prompb wire format: field 1 timeseries, labels 1, samples 2 (double value, int64 ms)', () => {
    const bytes = encodeWriteRequest({ timeseries: [{ labels: [{ name: 'a', value: 'b' }], samples: [{ value: 1, timestamp: 1 }] }] });
    // 0a = timeseries(1, len); 0a = labels(1, len) { 0a 01 'a' 12 01 'b' }; 12 = samples(2, len) { 09 <double 1.0> 10 01 }
    expect(Buffer.from(bytes).toString('hex')).toBe('0a150a060a0161120162120b09000000000000f03f1001');
  });

  it('round-trips through snappy and protobuf', () => {
    const message = {
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
    const exporter = new RemoteWriteExporter({ endpoint: `${receiver.url}/api/v1/write`, registry, logger: memoryLogger(), externalLabels: { job: 'test' } });
    cleanups.push(() => exporter.close(500));
    return { registry, exporter, receiver };
  }

  it('POSTs changed series with the remote write headers, the same names as /metrics, stamped now', async () => {
    const { registry, exporter, receiver } = await setup();
    registry.counter('jobs', { labels: ['queue'] }).inc({ queue: 'a' }, 3);
    registry.histogram('response_time', { unit: 'ms', buckets: [10, 100] }).observe(50);
    const summary = await exporter.collect(1_000_000);
    expect(summary).toEqual({ series: 2, samples: 1 + 5, batches: 1 });
    await until(() => expect(receiver.requests).toHaveLength(1));
    const req = receiver.requests[0]!;
    expect(req.path).toBe('/api/v1/write');
    expect(req.headers).toMatchObject({
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'x-prometheus-remote-write-version': '0.1.0',
      'user-agent': 'erlmcp-monitor/0.1.0',
    });
    const got = decodeWriteRequestBody(req.body).timeseries.map((ts) => [Object.fromEntries(ts.labels.map((l) => [l.name, l.value])), ts.samples]);
    expect(got).toEqual([
      [{ __name__: 'jobs_total', job: 'test', queue: 'a' }, [{ value: 3, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_bucket', job: 'test', le: '0.01' }, [{ value: 0, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_bucket', job: 'test', le: '0.1' }, [{ value: 1, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_bucket', job: 'test', le: '+Inf' }, [{ value: 1, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_sum', job: 'test' }, [{ value: 0.05, timestamp: 1_000_000 }]],
      [{ __name__: 'response_time_seconds_count', job: 'test' }, [{ value: 1, timestamp: 1_000_000 }]],
    ]);
  });

  it('sends only what changed since the last collect, and nothing when nothing did', async () => {
    const { registry, exporter, receiver } = await setup();
    const jobs = registry.counter('jobs', { labels: ['queue'] });
    jobs.inc({ queue: 'a' });
    jobs.inc({ queue: 'b' });
    await exporter.collect(1000);
    jobs.inc({ queue: 'b' });
    expect(await exporter.collect(2000)).toMatchObject({ series: 1, samples: 1 });
    await until(() => expect(receiver.requests).toHaveLength(2));
    const second = decodeWriteRequestBody(receiver.requests[1]!.body).timeseries;
    expect(second.map((ts) => ts.labels.find((l) => l.name === 'queue')!.value)).toEqual(['b']);
    // The export counters changed (sent samples), so the next collect carries exactly those.
    const third = await exporter.collect(3000);
    expect(third.series).toBeLessThanOrEqual(1);
    await until(() => expect(exporter.queue.pending).toBe(0));
    expect((await exporter.collect(4000)).series).toBeLessThanOrEqual(1);
  });

  it('re-sends an unchanged series once refreshMs has passed, so PromQL lookback keeps seeing it', async () => {
    const receiver = await startReceiver([{ status: 204 }]);
    cleanups.push(() => receiver.close());
    const registry = new Registry({ logger: memoryLogger() });
    const exporter = new RemoteWriteExporter({ endpoint: receiver.url, registry, logger: memoryLogger(), refreshMs: 10_000 });
    cleanups.push(() => exporter.close(500));
    registry.gauge('temperature').set(21);
    const sentNames = async (now: number) => {
      const before = receiver.requests.length;
      const { batches } = await exporter.collect(now);
      await until(() => expect(receiver.requests.length).toBe(before + batches));
      return receiver.requests.slice(before).flatMap((r) => decodeWriteRequestBody(r.body).timeseries.map((ts) => ts.labels.find((l) => l.name === '__name__')!.value));
    };
    expect(await sentNames(1_000)).toContain('temperature');
    expect(await sentNames(9_000)).not.toContain('temperature');
    expect(await sentNames(11_000)).toContain('temperature');
  });

  it('splits a large change into batches of at most maxSamplesPerBatch samples', async () => {
    const receiver = await startReceiver([{ status: 204 }]);
    cleanups.push(() => receiver.close());
    const registry = new Registry({ logger: memoryLogger() });
    const exporter = new RemoteWriteExporter({ endpoint: receiver.url, registry, logger: memoryLogger(), maxSamplesPerBatch: 100 });
    cleanups.push(() => exporter.close(500));
    const c = registry.counter('c', { labels: ['i'] });
    for (let i = 0; i < 250; i++) c.inc({ i });
    expect(await exporter.collect(1)).toEqual({ series: 250, samples: 250, batches: 3 });
    await until(() => expect(receiver.requests).toHaveLength(3));
    expect(receiver.requests.map((r) => decodeWriteRequestBody(r.body).timeseries.length)).toEqual([100, 100, 50]);
  });
});
