import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collector, type CollectorConfig, flushAll } from '../../actors/collector.js';
import { flushTable, restoreTable } from '../../src/store/table-store.js';
import { OtpSystem, startServer } from '../../src/otp/index.js';
import type { MetricSource } from '../../src/sources/source.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { expectMonitorError, memoryLogger, until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function tempStore(): MetricStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-collector-test-'));
  const store = MetricStore.open({ dataDir: dir });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => store.close());
  return store;
}

const config: CollectorConfig = {
  metrics_enabled: true,
  collection_interval: 60_000,
  aggregation_interval: 60_000,
  retention_period: 86_400_000,
};

function recordingSource(events: string[]): MetricSource {
  return {
    name: 'fake',
    start: () => void events.push('start'),
    collect: () => void events.push('collect'),
    stop: () => void events.push('stop'),
  };
}

describe('collector', () => {
  it('stops its sources when it is killed, not only when it terminates', async () => {
    const system = new OtpSystem({ logger: memoryLogger() });
    cleanups.push(() => system.close());
    const events: string[] = [];
    const { registry } = newRegistry();
    const pid = await startServer(system, collector, {
      registry,
      store: tempStore(),
      config,
      sources: () => [recordingSource(events)],
    });
    pid.kill();
    await pid.exited;
    expect(events).toEqual(['start', 'stop']);

    const second = await startServer(system, collector, {
      registry,
      store: tempStore(),
      config,
      sources: () => [recordingSource(events)],
    });
    await second.stop();
    expect(events).toEqual(['start', 'stop', 'start', 'stop']);
  });
});

describe('flushTable / restoreTable', () => {
  it('persists every other series when the store refuses one, and warns once', async () => {
    const store = tempStore();
    const { registry, logger } = newRegistry();
    const picky = Object.create(store) as MetricStore;
    picky.defineSeries = (key, input) => {
      if (key.startsWith('bad')) throw new Error('refused for the test');
      return store.defineSeries(key, input);
    };
    picky.flush = (batch) => store.flush(batch);
    registry.counter('good').inc(5);
    registry.counter('bad').inc(1);
    const first = await flushTable(registry, picky, 1000, logger);
    registry.counter('bad').inc(1);
    await flushTable(registry, picky, 2000, logger);
    expect(first.series).toBe(1);
    expect(store.latest(store.seriesId('good')!)).toEqual([1000, 5]);
    expect(store.seriesId('bad')).toBeUndefined();
    expect(logger.records.filter((r) => r.msg.startsWith('series not persisted'))).toHaveLength(1);
  });

  it('never holds a non-finite value to write: an update that would overflow is refused', async () => {
    const store = tempStore();
    const { registry } = newRegistry();
    const g = registry.gauge('huge');
    g.inc(1e308);
    expectMonitorError(() => g.inc(1e308), ErrorCode.InvalidValue, /metric "huge": the value would overflow/);
    registry.counter('fine').inc(2);
    const summary = await flushTable(registry, store, 1000);
    expect(summary.points).toBe(2);
    expect(store.latest(store.seriesId('huge')!)).toEqual([1000, 1e308]);
    expect(store.latest(store.seriesId('fine')!)).toEqual([1000, 2]);
  });

  it('never restores a stored series into the overflow series when the series limit went down', async () => {
    const store = tempStore();
    const first = newRegistry();
    const hits = first.registry.counter('hits', { labels: ['k'] });
    hits.inc({ k: 'a' }, 1);
    hits.inc({ k: 'b' }, 2);
    hits.inc({ k: 'c' }, 100);
    await flushTable(first.registry, store, 1000);

    const second = newRegistry(2);
    const result = restoreTable(second.registry, store, second.logger);
    const again = second.registry.counter('hits', { labels: ['k'] });
    expect(again.get({ k: 'a' })).toBe(1);
    expect(again.get({ k: 'b' })).toBe(2);
    expect(again.get({ k: '__overflow__' })).toBe(0);
    expect(result.skipped).toBe(1);
    again.inc({ k: 'zzz' }, 5);
    await flushTable(second.registry, store, 2000);
    expect((store.loadCurrent().get(store.seriesId('hits{k="c"}')!) as { v: number }).v).toBe(100);
  });
});

describe('collector: failing store writes', () => {
  it('counts a failing flush, logs once per state change, keeps running, and writes current values again once the store recovers', async () => {
    const store = tempStore();
    const logger = memoryLogger();
    const system = new OtpSystem({ logger });
    cleanups.push(() => system.close());
    const { registry } = newRegistry();
    let failing = true;
    let attempts = 0;
    const disk = Object.create(store) as MetricStore;
    disk.defineSeries = (key, input) => store.defineSeries(key, input);
    disk.flush = (batch) => {
      if (!failing) return store.flush(batch);
      attempts++;
      return Promise.reject(
        new MonitorError(ErrorCode.StoreFailed, 'flush: the commit failed: No space left on device'),
      );
    };
    const pid = await startServer(system, collector, {
      registry,
      store: disk,
      config: { ...config, aggregation_interval: 20 },
      sources: () => [],
    });
    const requests = registry.counter('requests');
    requests.inc(3);
    const counterValue = (name: string, labels?: Record<string, string>): number => {
      const metric = registry.get(name);
      return metric?.type === 'counter' ? (metric.get(labels) ?? 0) : 0;
    };
    const failures = () => counterValue('monitor.store.write_failures', { reason: 'ENOSPC' });
    await until(() => expect(failures()).toBeGreaterThanOrEqual(3), 20_000);
    expect(counterValue('monitor.store.points_dropped')).toBeGreaterThan(0);
    expect(logger.records.filter((r) => r.msg.startsWith('metric store writes are failing'))).toHaveLength(1);
    expect(system.whereis('collector') ?? pid).toBe(pid);

    requests.inc(4);
    failing = false;
    await until(
      () => expect(logger.records.filter((r) => r.msg.startsWith('metric store writes recovered'))).toHaveLength(1),
      20_000,
    );
    const id = store.seriesId('requests');
    expect(id).toBeDefined();
    expect(store.loadCurrent().get(id!)).toEqual({ v: 7 });
    expect(attempts).toBe(failures());
    await pid.stop();
  });
});

describe('collector write budget', () => {
  it('answers a flush call with one budget and what remains; flushAll calls until nothing is left; the last flush at stop writes everything changed', async () => {
    const logger = memoryLogger();
    const system = new OtpSystem({ logger });
    cleanups.push(() => system.close());
    const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-collector-budget-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const { registry } = newRegistry();
    const jobs = registry.counter('jobs', { labels: ['i'] });
    const n = 25;
    for (let i = 0; i < n; i++) jobs.inc({ i: String(i) }, i + 1);
    let store = MetricStore.open({ dataDir: dir });
    const args = { registry, store, config, sources: () => [], maxSeriesPerFlush: 10 };
    const pid = await startServer(system, collector, args);
    // New series cost 5 each (their definition): a budget of 10 writes two.
    expect(await pid.call({ type: 'flush' })).toMatchObject({ series: 2, pending: 23 });
    expect(logger.records.some((r) => r.msg.includes('more series changed than one flush writes'))).toBe(true);
    const last = await flushAll(pid);
    expect(last).toMatchObject({ series: 1, pending: 0, deferred: 0 });
    expect(logger.records.some((r) => r.msg.includes('flushes caught up'))).toBe(true);
    expect((await pid.call({ type: 'stats' })).flushes).toBe(13);
    for (let i = 0; i < n; i++) expect(store.latest(store.seriesId(`jobs{i="${i}"}`)!)?.[1]).toBe(i + 1);

    // Every series changes again: stop writes all of them, three budgets of known series.
    for (let i = 0; i < n; i++) jobs.inc({ i: String(i) }, 100);
    await pid.stop();
    await store.close();
    store = MetricStore.open({ dataDir: dir });
    cleanups.push(() => store.close());
    for (let i = 0; i < n; i++) expect(store.latest(store.seriesId(`jobs{i="${i}"}`)!)?.[1]).toBe(i + 101);
  });

  it('ends the last flush when the stop times out (its signal aborts) and logs what was left', async () => {
    const logger = memoryLogger();
    const system = new OtpSystem({ logger });
    cleanups.push(() => system.close());
    const store = tempStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let gated = false;
    const slow = Object.create(store) as MetricStore;
    slow.defineSeries = (key, input) => store.defineSeries(key, input);
    slow.flush = async (batch) => {
      // The stop's first flush waits until the stop timed out.
      if (gated) await gate;
      return store.flush(batch);
    };
    const { registry } = newRegistry();
    const jobs = registry.counter('jobs', { labels: ['i'] });
    for (let i = 0; i < 30; i++) jobs.inc({ i: String(i) });
    const pid = await startServer(system, collector, {
      registry,
      store: slow,
      config,
      sources: () => [],
      maxSeriesPerFlush: 10,
    });
    await flushAll(pid);
    for (let i = 0; i < 30; i++) jobs.inc({ i: String(i) });
    gated = true;
    await pid.stop('shutdown', 20);
    release();
    await until(() =>
      expect(
        logger.records.find((r) => r.msg.startsWith('last flush stopped before every changed series was written')),
      ).toMatchObject({ level: 'warn', fields: { flushes: 1, written: 10, left: 20, aborted: true } }),
    );
  });

  it('stops flushAll after maxCalls when the host changes more series than the calls write', async () => {
    const calls: number[] = [];
    const summary = (pending: number) => ({
      at: 0,
      series: 1,
      deferred: 0,
      pending,
      points: 1,
      mainThreadMs: 0,
      longestBlockMs: 0,
      totalMs: 0,
    });
    const busy = { call: () => Promise.resolve(summary(calls.push(1))) } as unknown as Parameters<typeof flushAll>[0];
    expect(await flushAll(busy, 4)).toMatchObject({ pending: 4 });
    expect(calls).toHaveLength(4);
  });
});
