/**
 * The tree with a real LMDB store under a temporary dataDir, short configured intervals and a
 * condition-polling wait: no sleeps tuned to a quiet machine.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { COLLECTOR_NAME, type CollectorProtocol } from '../actors/collector.js';
import { ErrorCode, MonitorError } from '../src/errors.js';
import { type Monitor, type MonitoringOptions, startMonitoring } from '../src/index.js';
import type { Pid } from '../src/otp/index.js';
import { MetricStore } from '../src/store/lmdb-store.js';
import { activeResources, flushImmediates, leakedAfterSettling, memoryLogger, until } from './helpers.js';

const dirs: string[] = [];
const monitors: Monitor[] = [];

function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-monitor-test-'));
  dirs.push(dir);
  return dir;
}

async function start(dataDir: string, options: MonitoringOptions = {}) {
  const logger = memoryLogger();
  const mon = await startMonitoring({
    dataDir,
    logger,
    env: { ERLMCP_DASHBOARD_PORT: '0' },
    config: { monitoring: { collection_interval: 20, aggregation_interval: 25 } },
    ...options,
  });
  monitors.push(mon);
  return { mon, logger };
}

afterEach(async () => {
  for (const mon of monitors.splice(0)) await mon.stop();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function collectorPid(mon: Monitor): Pid<CollectorProtocol> {
  return mon.system.whereis(COLLECTOR_NAME) as Pid<CollectorProtocol>;
}

describe('the monitoring tree with its store', () => {
  it('keeps every metric when the collector crashes, and its loops resume', async () => {
    const { mon, logger } = await start(tempDir());
    const orders = mon.metrics.counter('business.orders', { help: 'Total orders processed' });
    orders.inc(5);
    await until(async () => expect((await mon.collector.call({ type: 'stats' })).flushes).toBeGreaterThan(0));
    const first = collectorPid(mon);
    first.kill({ crash: new MonitorError(ErrorCode.CallbackFailed, 'injected fault') });
    await until(() => expect(collectorPid(mon)?.id).not.toBe(first.id));
    expect(orders.get()).toBe(5);
    orders.inc();
    // The new incarnation's loops run: it collects the process source and flushes again.
    await until(async () => {
      const stats = await mon.collector.call({ type: 'stats' });
      expect(stats.collections).toBeGreaterThan(0);
      expect(stats.flushes).toBeGreaterThan(0);
    });
    expect(mon.metrics.gauge('system.memory').get()).toBeGreaterThan(0);
    expect(
      logger.records.some((r) => r.msg === 'child terminated: restarting' && r.fields.child === COLLECTOR_NAME),
    ).toBe(true);
    expect((await mon.collector.call({ type: 'get_metric', name: 'business.orders' }))?.value).toBe(6);
  });

  it('answers the source design API as messages, single and batched', async () => {
    const { mon } = await start(tempDir(), { processMetrics: false });
    const info = await mon.collector.call({
      type: 'register_metric',
      name: 'business.revenue',
      metricType: 'gauge',
      help: 'Current revenue',
    });
    expect(info).toEqual({
      name: 'business.revenue',
      type: 'gauge',
      help: 'Current revenue',
      unit: '',
      labelNames: [],
    });
    await mon.collector.call({ type: 'register_metric', name: 'api.calls', metricType: 'counter', labels: ['route'] });
    await mon.collector.call({ type: 'register_metric', name: 'api.latency', metricType: 'histogram', unit: 'ms' });
    mon.collector.cast({ type: 'increment', name: 'api.calls', labels: { route: '/a' } });
    mon.collector.cast({ type: 'set', name: 'business.revenue', value: 125000 });
    mon.collector.cast({
      type: 'batch',
      updates: Array.from({ length: 1000 }, (_, i) => ({
        type: 'observe' as const,
        name: 'api.latency',
        value: i + 1,
      })),
    });
    expect((await mon.collector.call({ type: 'get_metric', name: 'api.calls', labels: { route: '/a' } }))?.value).toBe(
      1,
    );
    expect((await mon.collector.call({ type: 'get_metric', name: 'business.revenue' }))?.value).toBe(125000);
    const latency = (await mon.collector.call({ type: 'get_metric', name: 'api.latency' }))!.value as {
      count: number;
      percentiles: { p50: number };
    };
    expect(latency.count).toBe(1000);
    expect(Math.abs(latency.percentiles.p50 - 500) / 500).toBeLessThan(0.01);
    const all = await mon.collector.call({ type: 'collect_metrics' });
    expect(all.map((m) => m.name)).toEqual(expect.arrayContaining(['business.revenue', 'api.calls', 'api.latency']));
    expect(
      await mon.collector.call({
        type: 'apply',
        updates: [{ type: 'increment', name: 'api.calls', labels: { route: '/a' }, value: 2 }],
      }),
    ).toEqual({ applied: 1 });
    expect(mon.metrics.counter('api.calls', { labels: ['route'] }).get({ route: '/a' })).toBe(3);
  });

  it('refuses bad updates: a call rejects with the typed error, a cast is counted, nothing crashes', async () => {
    const { mon, logger } = await start(tempDir(), { processMetrics: false });
    const pid = collectorPid(mon);
    const err = await mon.collector
      .call({ type: 'apply', updates: [{ type: 'increment', name: 'no.such.metric' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MonitorError);
    expect((err as MonitorError).code).toBe(ErrorCode.UnknownMetric);
    mon.metrics.counter('c');
    mon.collector.cast({ type: 'increment', name: 'c', value: -1 });
    mon.collector.cast({ type: 'increment', name: 'nope' });
    mon.collector.cast({ type: 'bogus' } as never);
    mon.collector.cast({ type: 'batch', updates: 'x' } as never);
    const stats = await mon.collector.call({ type: 'stats' });
    expect(stats.rejectedUpdates).toBe(4);
    expect(mon.metrics.counter('c').series()).toEqual([]); // the refused increment created nothing
    const rejected = mon.metrics.counter('monitor.updates_rejected', { labels: ['code'] });
    expect(rejected.get({ code: ErrorCode.InvalidValue })).toBe(1);
    expect(rejected.get({ code: ErrorCode.UnknownMetric })).toBe(1);
    expect(rejected.get({ code: ErrorCode.BadMessage })).toBe(2);
    expect(logger.records.filter((r) => r.msg === 'metric update refused')).toHaveLength(4);
    expect(collectorPid(mon)).toBe(pid);
  });

  it('continues counters and keeps history across a stop and start on the same dataDir', async () => {
    const dataDir = tempDir();
    const first = await start(dataDir, { processMetrics: false });
    const orders = first.mon.metrics.counter('business.orders', { labels: ['shop'] });
    orders.inc({ shop: 'eu' }, 3);
    first.mon.metrics.histogram('api.latency', { unit: 'ms' }).observe(42);
    await first.mon.stop();

    const second = await start(dataDir, { processMetrics: false });
    const again = second.mon.metrics.counter('business.orders', { labels: ['shop'] });
    expect(again.get({ shop: 'eu' })).toBe(3);
    again.inc({ shop: 'eu' }, 2);
    expect(second.mon.metrics.histogram('api.latency', { unit: 'ms' }).get()!.count).toBe(1);
    await second.mon.collector.call({ type: 'flush' });

    const reader = MetricStore.open({ dataDir, readOnly: true });
    try {
      const id = reader.seriesId('business.orders{shop="eu"}')!;
      expect(id).toBeGreaterThan(0);
      const history = reader.queryRange(id, 0, Date.now() + 1000, 100).map(([, v]) => v);
      expect(history[0]).toBe(3);
      expect(history.at(-1)).toBe(5);
    } finally {
      await reader.close();
    }
    expect(await second.mon.metricsText()).toMatch(/^business_orders_total\{shop="eu"\} 5$/m);
  });

  it('lets another process read what this one flushed', async () => {
    const dataDir = tempDir();
    const { mon } = await start(dataDir, { processMetrics: false });
    mon.metrics.gauge('business.revenue').set(125000.5);
    await mon.collector.call({ type: 'flush' });
    const store = fileURLToPath(new URL('../dist/src/store/lmdb-store.js', import.meta.url));
    const script = `
      import { MetricStore } from ${JSON.stringify(store)};
      const s = MetricStore.open({ dataDir: ${JSON.stringify(dataDir)}, readOnly: true });
      console.log(JSON.stringify(s.latest(s.seriesId('business.revenue'))));
      await s.close();
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const bound = setTimeout(() => child.kill('SIGKILL'), 20_000);
    const code = await new Promise((resolve) => child.on('exit', resolve));
    clearTimeout(bound);
    expect(code).toBe(0);
    expect(JSON.parse(out)[1]).toBe(125000.5);
  });

  it('fails to start on a bad config file, naming the file and key', async () => {
    const configDir = tempDir();
    writeFileSync(path.join(configDir, 'monitoring.json'), JSON.stringify({ collection_interval: -5 }));
    const err = await startMonitoring({ configDir, dataDir: tempDir(), env: {}, logger: memoryLogger() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MonitorError);
    expect((err as MonitorError).code).toBe(ErrorCode.InvalidConfig);
    expect((err as Error).message).toMatch(/monitoring\.json.*collection_interval/);
  });

  it('releases the store and leaves no handle behind when a child fails to start', async () => {
    const dataDir = tempDir();
    const before = activeResources();
    const failing = { id: 'broken', start: () => Promise.reject(new Error('no database')) };
    const err = await startMonitoring({
      dataDir,
      env: { ERLMCP_DASHBOARD_PORT: '0' },
      logger: memoryLogger(),
      extraChildren: [failing],
    }).catch((e: unknown) => e);
    expect((err as MonitorError).code).toBe(ErrorCode.InitFailed);
    expect((err as Error).message).toMatch(/child "broken" failed to start: no database/);
    await flushImmediates();
    expect(await leakedAfterSettling(before)).toEqual([]);
    const store = MetricStore.open({ dataDir }); // the writer lock was released
    await store.close();
  });
});
