import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collector, type CollectorConfig, EXPORT_STOP_MS } from '../../actors/collector.js';
import { decodeWriteRequestBody, isStaleNaN } from '../../src/export/remote-write.js';
import { Registry } from '../../src/metrics/registry.js';
import { OtpSystem, startServer } from '../../src/otp/index.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { type Receiver, startReceiver } from '../export/receiver-fixture.js';
import { activeResources, leakedAfterSettling, leakedResources, memoryLogger, until } from '../helpers.js';
import { freePort } from '../system-servers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function tempStore(dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-collector-export-'))): MetricStore {
  const store = MetricStore.open({ dataDir: dir });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => store.close());
  return store;
}

function config(endpoint: string): CollectorConfig {
  return {
    metrics_enabled: false,
    collection_interval: 60_000,
    aggregation_interval: 60_000,
    retention_period: 86_400_000,
    export_enabled: true,
    export_interval: 30,
    export_endpoint: endpoint,
  };
}

/** The samples of `name`, in the order the receiver got them. */
function samplesOf(receiver: Receiver, name: string): { value: number; timestamp: number }[] {
  const out: { value: number; timestamp: number }[] = [];
  for (const req of receiver.requests) {
    for (const ts of decodeWriteRequestBody(req.body).timeseries) {
      if (ts.labels.some((l) => l.name === '__name__' && l.value === name)) out.push(ts.samples[0]!);
    }
  }
  return out;
}

/** The newest value of `name` that is not a staleness marker. */
function lastValue(receiver: Receiver, name: string): number | undefined {
  return samplesOf(receiver, name)
    .filter((s) => !isStaleNaN(s.value))
    .at(-1)?.value;
}

async function startCollector(endpoint: string, store = tempStore()) {
  const system = new OtpSystem({ logger: memoryLogger() });
  cleanups.push(() => system.close());
  const registry = new Registry({ logger: memoryLogger() });
  const pid = await startServer(system, collector, {
    registry,
    store,
    config: config(endpoint),
    sources: () => [],
    exporter: { initialBackoffMs: 5, maxBackoffMs: 20, externalLabels: { job: 't' } },
  });
  return { registry, pid };
}

describe('collector remote-write export', () => {
  it('sends every series every export_interval, a last export when it stops, then staleness markers', async () => {
    const receiver = await startReceiver([{ status: 204 }]);
    cleanups.push(() => receiver.close());
    const { registry, pid } = await startCollector(`${receiver.url}/api/v1/write`);
    const jobs = registry.counter('jobs');
    jobs.inc(2);
    await until(() => expect(lastValue(receiver, 'jobs_total')).toBe(2));
    expect((await pid.call({ type: 'stats' })).exports).toBeGreaterThan(0);
    // Unchanged, it is still sent each interval (as each scrape would read it).
    const rounds = samplesOf(receiver, 'jobs_total').length;
    await until(() => expect(samplesOf(receiver, 'jobs_total').length).toBeGreaterThanOrEqual(rounds + 3));
    jobs.inc(5);
    await pid.stop();
    expect(lastValue(receiver, 'jobs_total')).toBe(7);
    const last = samplesOf(receiver, 'jobs_total').at(-1)!;
    expect(isStaleNaN(last.value)).toBe(true);
    expect(last.timestamp).toBeGreaterThan(samplesOf(receiver, 'jobs_total').at(-2)!.timestamp);
  });

  it('keeps what it could not send in the store, and the next collector on that store sends it first', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-collector-export-'));
    const port = await freePort();
    const store1 = tempStore(dir);
    const first = await startCollector(`http://127.0.0.1:${port}/api/v1/write`, store1);
    first.registry.counter('jobs').inc(3);
    const failures = first.registry.counter('monitor.export.failures', { labels: ['reason'] });
    await until(() => expect(failures.get({ reason: 'network' })).toBeGreaterThanOrEqual(2));
    await first.pid.stop();
    await store1.close();
    const receiver = await startReceiver([{ status: 204 }]);
    cleanups.push(() => receiver.close());
    const store2 = tempStore(dir);
    const queued = store2.records('remote_write_queue').count();
    expect(queued).toBeGreaterThan(0);
    await startCollector(`${receiver.url}/api/v1/write`, store2);
    // The first run's samples (value 3) arrive, in the order they were taken.
    await until(() => expect(samplesOf(receiver, 'jobs_total').filter((s) => s.value === 3).length).toBeGreaterThan(0));
    const stamps = samplesOf(receiver, 'jobs_total').map((s) => s.timestamp);
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
  });

  it('keeps running when the endpoint is down: failures are counted, and stop is bounded and leaves nothing', async () => {
    const before = activeResources();
    const port = await freePort();
    const { registry, pid } = await startCollector(`http://127.0.0.1:${port}/api/v1/write`);
    registry.counter('jobs').inc();
    const failures = registry.counter('monitor.export.failures', { labels: ['reason'] });
    await until(() => expect(failures.get({ reason: 'network' })).toBeGreaterThanOrEqual(3));
    expect((await pid.call({ type: 'stats' })).exports).toBeGreaterThan(0);
    const t0 = Date.now();
    await pid.stop();
    expect(Date.now() - t0).toBeLessThan(EXPORT_STOP_MS + 1000);
    // Stopped in an orderly way, not killed after outrunning the stop timeout.
    expect(await pid.exited).toBe('shutdown');
    for (let i = 0; i < 100 && leakedResources(before).length > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await leakedAfterSettling(before)).toEqual([]);
  });

  it('runs without export when given settings the exporter refuses, and says so', async () => {
    const logger = memoryLogger();
    const sys = new OtpSystem({ logger });
    cleanups.push(() => sys.close());
    const pid = await startServer(sys, collector, {
      registry: new Registry({ logger: memoryLogger() }),
      store: tempStore(),
      config: config('http://127.0.0.1:1/api/v1/write'),
      sources: () => [],
      exporter: { maxBatches: -1 },
    });
    expect((await pid.call({ type: 'stats' })).exports).toBe(0);
    expect(logger.records.some((r) => r.msg === 'remote write export disabled: its settings are invalid')).toBe(true);
    await pid.stop();
  });
});
