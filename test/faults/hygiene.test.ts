/**
 * Issue 9, item 7 (resource hygiene), one stop at a time: after `mon.stop()` no timer, socket,
 * worker or file descriptor of the tree remains, the LMDB env is closed (its files have no open
 * descriptor, it opens again as a writer, and lmdb-js's database table does not grow when the tree
 * starts again on the same directory).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ALERTING_NAME } from '../../actors/alerting.js';
import { COLLECTOR_NAME } from '../../actors/collector.js';
import { DASHBOARD_NAME } from '../../actors/dashboard.js';
import { PERFORMANCE_MONITOR_NAME } from '../../actors/performance-monitor.js';
import type { Monitor } from '../../src/index.js';
import { ProcessSource } from '../../src/sources/process-source.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { activeResources, leakedAfterSettling, until } from '../helpers.js';
import { calledFrom, connectFeed, pidOf, restarted, throwOnce } from './crash-fixture.js';
import { countCalls, fdsUnder, HAS_PROC_FD, lmdbDbCount, openFds } from './hygiene-fixture.js';
import { hostService, runCleanups, startTree, tempDir } from './tree-fixture.js';

afterEach(runCleanups);

/** Some of everything: metrics flushed to LMDB, an alert, a feed client getting frames, host traffic. */
async function exercise(mon: Monitor): Promise<void> {
  mon.metrics.gauge('hygiene_kept', { help: 'restored on the next start' }).set(5);
  mon.metrics.histogram('hygiene_ms', { help: 'latency' }).observe(12);
  await mon.collector.call({ type: 'flush' });
  await mon.alerting.sendAlert('warning', 'hygiene', { case: 'stop' });
  const feed = await connectFeed((await mon.dashboardAddress()).url);
  await until(() => expect(feed.frames()).toBeGreaterThan(0));
}

describe.skipIf(!HAS_PROC_FD)('after stop() (needs /proc/self/fd: Linux)', () => {
  it('leaves no timer, socket, worker or descriptor, and the LMDB env opens again', async () => {
    const host = await hostService(); // the host's own service: there before, still there after
    const dataDir = tempDir();
    const resources = activeResources();
    const fds = openFds().length;

    const { mon } = await startTree({ dataDir });
    mon.instrument.http(host.server, { name: 'host' });
    await exercise(mon);
    expect(fdsUnder(dataDir).length).toBeGreaterThan(0); // the probe sees the env while it is open
    await mon.stop();

    expect(await leakedAfterSettling(resources)).toEqual([]);
    expect(fdsUnder(dataDir)).toEqual([]);
    await until(() => expect(openFds().length).toBe(fds));

    // The env opens again as the (only) writer and has what was flushed.
    const store = MetricStore.open({ dataDir });
    try {
      const id = store.seriesId('hygiene_kept');
      expect(id).toBeDefined();
      expect(store.latest(id!)?.[1]).toBe(5);
    } finally {
      await store.close();
    }
    expect(fdsUnder(dataDir)).toEqual([]);
  });

  it("starting again on the same directory restores the table and does not grow lmdb-js's database table", async () => {
    const dataDir = tempDir();
    const first = await startTree({ dataDir });
    await exercise(first.mon);
    await first.mon.stop();
    const dbs = lmdbDbCount();

    const second = await startTree({ dataDir });
    expect(second.mon.metrics.getMetric('hygiene_kept')?.value).toBe(5);
    await exercise(second.mon);
    await second.mon.stop();
    expect(lmdbDbCount()).toBe(dbs);
    expect(fdsUnder(dataDir)).toEqual([]);
  });

  it("stores opened and closed in many directories leave nothing in lmdb-js's database table", async () => {
    const dbs = lmdbDbCount();
    for (let i = 0; i < 20; i++) {
      const store = MetricStore.open({ dataDir: tempDir() });
      const id = store.defineSeries('g', { name: 'g', type: 'gauge' });
      await store.flush({ current: [[id, i]], points: [{ id, ts: 1_700_000_000_000 + i, value: i }] });
      await store.close();
    }
    // Before the fix: 7 closed databases (~34 KB of heap) kept per directory, 140 here.
    expect(lmdbDbCount()).toBe(dbs);
  });

  it('after every actor was killed, then crashed, and restarted each time, stop() still leaves nothing (the onKill and crash paths)', async () => {
    const dataDir = tempDir();
    const resources = activeResources();
    const fds = openFds().length;
    // The process measurements (event-loop delay histogram, GC observer) are not in Node's
    // active-resource list: count their starts and stops instead.
    const sources = countCalls(ProcessSource.prototype, ['start', 'stop']);
    const { mon } = await startTree({ dataDir, processMetrics: true });
    await exercise(mon);
    for (const name of [COLLECTOR_NAME, PERFORMANCE_MONITOR_NAME, ALERTING_NAME, DASHBOARD_NAME]) {
      const id = pidOf(mon, name);
      mon.system.whereis(name)!.kill();
      await restarted(mon, name, id);
    }
    const id = pidOf(mon, COLLECTOR_NAME);
    throwOnce(MetricStore.prototype, 'flush', 'store flush', calledFrom('store/table-store'));
    await restarted(mon, COLLECTOR_NAME, id);
    await exercise(mon);
    expect(sources.start).toBe(3); // the first collector, after its kill, after its crash
    await mon.stop();
    expect(sources.stop).toBe(sources.start);
    expect(await leakedAfterSettling(resources)).toEqual([]);
    expect(fdsUnder(dataDir)).toEqual([]);
    await until(() => expect(openFds().length).toBe(fds));
  });
});
