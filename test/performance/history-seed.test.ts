import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CounterHistory } from '../../src/performance/counter-history.js';
import { seedCounterHistory } from '../../src/performance/history-seed.js';
import { MetricStore } from '../../src/store/lmdb-store.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const clean of cleanups.splice(0).reverse()) await clean();
});

function tempStore(): MetricStore {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'erlmcp-seed-test-'));
  const store = MetricStore.open({ dataDir: dir });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  cleanups.push(() => store.close());
  return store;
}

const T0 = 1_700_000_000_000;
const H = 3_600_000;

function define(store: MetricStore, name: string, code: string): number {
  return store.defineSeries(`${name}{server="http",method="GET",code="${code}"}`, {
    name,
    type: 'counter',
    labels: { server: 'http', method: 'GET', code },
  });
}

describe('seedCounterHistory', () => {
  it("sums the series, carrying each one's last value forward, so windows span the restart", async () => {
    const store = tempStore();
    const ok = define(store, 'http.server.requests', '200');
    const failed = define(store, 'http.server.requests', '500');
    const errors = define(store, 'http.server.errors', '500');
    const quiet = define(store, 'http.server.requests', '404'); // last changed long before the span
    const points = [{ id: quiet, ts: T0 - 10 * H, value: 70 }];
    // Every 10 s for 10 minutes: 100 ok a tick; failures only every other tick.
    for (let i = 1; i <= 60; i++) {
      points.push({ id: ok, ts: T0 + i * 10_000, value: 100 * i });
      if (i % 2 === 0) {
        points.push({ id: failed, ts: T0 + i * 10_000, value: i / 2 });
        points.push({ id: errors, ts: T0 + i * 10_000, value: i / 2 });
      }
    }
    await store.flush({ points });
    const history = new CounterHistory({ checkIntervalMs: 5000, longestWindowMs: 6 * H });
    const now = T0 + 605_000;
    const result = seedCounterHistory(store, history, now, 6 * H);
    expect(result).toEqual({ samples: 60, newest: T0 + 600_000 });
    // The live table now: 6000 + 30 + 70 requests, 30 errors (nothing new since the last flush).
    const current = history.reading(now, { requests: 6100, errors: 30 });
    expect(history.over(60_000, current)).toEqual({ windowMs: 60_000, coveredMs: 65_000, requests: 603, errors: 3 });
    // The 404 series never jumps in from 0: over the whole span only ok and failed requests grew.
    const all = history.over(6 * H, current)!;
    expect(all.requests).toBe(6030 - 101); // from the first sample (+10 s: 100 ok, and failed's first value 1)
  });

  it('says what is missing when the store has no request history', () => {
    const store = tempStore();
    const history = new CounterHistory({ checkIntervalMs: 5000, longestWindowMs: H });
    expect(seedCounterHistory(store, history, T0, H)).toEqual({
      samples: 0,
      missing: 'no "http.server.requests" history in the store',
    });
    expect(history.size).toBe(0);
  });
});
