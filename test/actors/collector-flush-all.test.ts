/**
 * `Monitor.flush()` writes every changed series however many there are, through `flush` calls of
 * one write budget each: with more new series than one budget takes, it makes several calls and
 * resolves once all of them are durable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startMonitoring } from '../../src/index.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { MAX_SERIES_PER_FLUSH } from '../../src/store/table-store.js';
import { memoryLogger } from '../helpers.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

describe('Monitor.flush()', () => {
  it('writes more new series than one flush call takes, in several calls, and resolves once every one is durable', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-flush-all-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const mon = await startMonitoring({
      dataDir,
      env: {},
      logger: memoryLogger(),
      processMetrics: false,
      config: { dashboard: { dashboard_enabled: false } },
    });
    cleanups.push(() => mon.stop());
    // A new series costs 5 of the budget: this many take two calls at least.
    const n = Math.ceil(MAX_SERIES_PER_FLUSH / 5) + 1_000;
    const jobs = mon.metrics.counter('jobs', { help: 'per id', labels: ['id'] });
    for (let i = 0; i < n; i++) {
      jobs.inc({ id: String(i) }, i + 1);
      if (i % 5_000 === 4_999) await yieldToLoop();
    }
    const before = (await mon.collector.call({ type: 'stats' })).flushes;
    const last = await mon.flush();
    expect(last).toMatchObject({ pending: 0, deferred: 0 });
    expect((await mon.collector.call({ type: 'stats' })).flushes - before).toBeGreaterThanOrEqual(2);

    const store = MetricStore.open({ dataDir, readOnly: true });
    try {
      for (const i of [0, 1, Math.floor(n / 2), n - 2, n - 1])
        expect(store.latest(store.seriesId(`jobs{id="${i}"}`)!)?.[1]).toBe(i + 1);
    } finally {
      await store.close();
    }
  }, 120_000);
});
