import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_SERIES_LIMIT } from '../../src/config/schema.js';
import { type Monitor, startMonitoring } from '../../src/index.js';
import { DROPPED_SERIES_METRIC } from '../../src/metrics/registry.js';
import { memoryLogger } from '../helpers.js';

const SHIPPED_CONFIGS = fileURLToPath(new URL('../../configs/', import.meta.url));
/** At most this many flush calls to define every series (each defines new series for at most 1 s). */
const MAX_FLUSHES = 200;
/**
 * The test's own call timeout: a flush defining for its 1 s budget then commits, which on a loaded
 * machine can take longer than the default 5 s call; the count of calls bounds the loop instead.
 */
const FLUSH_CALL_TIMEOUT_MS = 120_000;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

async function start(dataDir: string, logger = memoryLogger()): Promise<Monitor> {
  const mon = await startMonitoring({
    configDir: SHIPPED_CONFIGS,
    dataDir,
    env: {},
    logger,
    processMetrics: false,
    config: { dashboard: { dashboard_enabled: false } },
  });
  cleanups.push(() => mon.stop());
  return mon;
}

async function flushAll(mon: Monitor): Promise<void> {
  for (let i = 0; i < MAX_FLUSHES; i++) {
    const { deferred, pending } = await mon.collector.call({ type: 'flush' }, FLUSH_CALL_TIMEOUT_MS);
    if (deferred + pending === 0) return;
  }
  throw new Error(`series still not written after ${MAX_FLUSHES} flushes`);
}

describe('the cardinality limit at its shipped default', () => {
  it('is the schema default in configs/monitoring.json', () => {
    const shipped = JSON.parse(readFileSync(path.join(SHIPPED_CONFIGS, 'monitoring.json'), 'utf8')) as {
      series_limit: number;
    };
    expect(shipped.series_limit).toBe(DEFAULT_SERIES_LIMIT);
  });

  it('refuses the series past it into the overflow series, counted and warned, and loses nothing already stored', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-series-limit-'));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const logger = memoryLogger();
    const mon = await start(dataDir, logger);
    const limit = mon.config.monitoring.series_limit;
    expect(limit).toBe(DEFAULT_SERIES_LIMIT);
    const tenants = mon.metrics.counter('tenants.requests', { help: 'per tenant', labels: ['tenant'] });
    for (let i = 0; i < limit; i++) {
      tenants.inc({ tenant: `t${i}` }, (i % 97) + 1);
      if (i % 10_000 === 9_999) await yieldToLoop();
    }
    await flushAll(mon);

    tenants.inc({ tenant: 'one-too-many' }, 5);
    expect(tenants.find({ tenant: 'one-too-many' })).toBeUndefined();
    expect(tenants.get({ tenant: '__overflow__' })).toBe(5);
    expect(mon.metrics.counter(DROPPED_SERIES_METRIC, { labels: ['metric'] }).get({ metric: 'tenants.requests' })).toBe(
      1,
    );
    const warnings = logger.records.filter((r) => r.level === 'warn' && r.msg.includes('reached its series limit'));
    expect(warnings.map((r) => r.msg)).toEqual([
      `metric "tenants.requests" reached its series limit (${limit}): new label sets go to one overflow series (labels "__overflow__")`,
    ]);
    // The series already there still take updates past the limit.
    tenants.inc({ tenant: 't0' }, 1);
    expect(tenants.get({ tenant: 't0' })).toBe(2);
    await flushAll(mon);
    await mon.stop();

    const again = await start(dataDir);
    const restored = again.metrics.counter('tenants.requests', { help: 'per tenant', labels: ['tenant'] });
    expect(restored.series().length).toBe(limit + 1);
    expect(restored.get({ tenant: 't0' })).toBe(2);
    for (const i of [1, 96, 97, Math.floor(limit / 2), limit - 1])
      expect(restored.get({ tenant: `t${i}` })).toBe((i % 97) + 1);
    expect(restored.get({ tenant: '__overflow__' })).toBe(5);
    expect(restored.find({ tenant: 'one-too-many' })).toBeUndefined();
  }, 180_000);
});
