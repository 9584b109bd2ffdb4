/**
 * Record values in the compact format on a real LMDB env: how many fit on a page, layout-2
 * values (plain msgpack, as lmdb-js wrote them) read exactly and convert in bounded steps, the
 * performance history keeps its `history_size`, and a damaged value is a clear store error.
 */
import { open } from 'lmdb';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import type { PerformanceReport } from '../../src/performance/report.js';
import { PerfHistory, type SlaRecord } from '../../src/performance/perf-history.js';
import { isCompressedRecordValue } from '../../src/store/record-codec.js';
import { convertRecordValues } from '../../src/store/record-convert.js';
import type { RecordKey } from '../../src/store/record-db.js';
import { RECORD_SAMPLES } from './fixtures/record-samples.js';
import { expectMonitorError, expectMonitorRejection, tempStores } from './store-fixture.js';

/** The env options of layout 2's openers (lmdb-store.ts ENV_OPTIONS): record values were plain msgpack. */
const LAYOUT2_ENV = { maxDbs: 64, useRecords: false, noSubdir: false } as const;

let stores: ReturnType<typeof tempStores>;

beforeEach(() => {
  stores = tempStores();
});

afterEach(async () => {
  await stores.cleanup();
});

const reports = RECORD_SAMPLES.perf_reports as PerformanceReport[];
const slaSamples = RECORD_SAMPLES.perf_sla_results as SlaRecord[];

/** The n-th report: a sample with its own time and figures, as consecutive checks differ. */
function report(n: number): PerformanceReport {
  const base = reports[n % reports.length]!;
  const metrics = structuredClone(base.metrics);
  metrics.cpu.value = 1 + ((n * 7919) % 1000) / 37;
  return { ...base, at: 1_796_600_000_000 + n * 5000, metrics };
}

/** Writes values the way layout 2 did: lmdb-js's own msgpack encoding of each record db. */
async function writeLayout2(dir: string, collection: string, entries: [RecordKey, unknown][]): Promise<void> {
  const env = open({ path: dir, ...LAYOUT2_ENV });
  const db = env.openDB<unknown, RecordKey>(`rec:${collection}`, {});
  await db.batch(() => {
    for (const [key, value] of entries) void db.put(key, value);
  });
  await env.close();
}

/** Raw bytes and page counts of one collection, read straight from the env. */
async function rawCollection(
  dir: string,
  collection: string,
): Promise<{ values: Uint8Array[]; pages: number; entries: number }> {
  const env = open({ path: dir, readOnly: true, ...LAYOUT2_ENV });
  const db = env.openDB<Uint8Array, RecordKey>(`rec:${collection}`, { encoding: 'binary' });
  const values = Array.from(db.getRange(), ({ value }) => Uint8Array.from(value));
  const stats = db.getStats() as {
    treeBranchPageCount: number;
    treeLeafPageCount: number;
    overflowPages: number;
    entryCount: number;
  };
  await env.close();
  return {
    values,
    pages: stats.treeBranchPageCount + stats.treeLeafPageCount + stats.overflowPages,
    entries: stats.entryCount,
  };
}

describe('RecordDb compact values', () => {
  it('stores many performance reports per page (layout 2: one per 4 KiB page)', async () => {
    const store = stores.open();
    const db = store.records<PerformanceReport>('perf_reports');
    for (let n = 0; n < 200; n += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => db.put([report(n + i).at, n + i], report(n + i))));
    }
    expect(db.range().map(([, v]) => v)).toEqual(Array.from({ length: 200 }, (_, n) => report(n)));
    await store.close();

    const raw = await rawCollection(stores.dir, 'perf_reports');
    expect(raw.entries).toBe(200);
    expect(raw.values.every(isCompressedRecordValue)).toBe(true);
    const bytes = raw.values.reduce((sum, v) => sum + v.length, 0) / raw.values.length;
    expect(bytes).toBeLessThan(400);
    expect(raw.entries / raw.pages).toBeGreaterThanOrEqual(8);
  });

  it('reads values written by layout 2 exactly, beside new ones, and converts them in bounded steps', async () => {
    await stores.open().close();
    const legacy: [RecordKey, unknown][] = Array.from({ length: 30 }, (_, n) => [[report(n).at, n], report(n)]);
    await writeLayout2(stores.dir, 'perf_reports', legacy);
    await writeLayout2(stores.dir, 'alert_suppression', [['fp1', 1_796_600_000_000]]);
    await writeLayout2(
      stores.dir,
      'alerts',
      RECORD_SAMPLES.alerts!.map((a) => [(a as { id: string }).id, a]),
    );
    const before = await rawCollection(stores.dir, 'perf_reports');
    expect(before.values.some(isCompressedRecordValue)).toBe(false);

    let store = stores.open();
    const db = store.records<PerformanceReport>('perf_reports');
    await db.put([report(30).at, 30], report(30));
    expect(db.range()).toEqual([...legacy, [[report(30).at, 30], report(30)]]);
    expect(db.get([report(3).at, 3])).toEqual(report(3));
    expect(store.records('alert_suppression').get('fp1')).toBe(1_796_600_000_000);
    await store.close();

    const steps: number[] = [];
    let pauses = 0;
    const env = open({ path: stores.dir, ...LAYOUT2_ENV });
    const result = await convertRecordValues(env, {
      batch: 7,
      ensureRoom: (_op, puts) => steps.push(puts),
      yieldBetween: async () => {
        pauses++;
      },
    });
    expect(Math.max(...steps)).toBeLessThanOrEqual(7);
    expect(pauses).toBeGreaterThanOrEqual(4);
    expect(result.converted).toBe(30 + RECORD_SAMPLES.alerts!.length);
    expect(result.kept).toBe(1);
    expect(result.bytesAfter).toBeLessThan(result.bytesBefore / 4);
    // Converted values are skipped: running it again (after a kill, say) finds nothing to do.
    expect((await convertRecordValues(env)).converted).toBe(0);
    await env.close();

    const after = await rawCollection(stores.dir, 'perf_reports');
    expect(after.values.every(isCompressedRecordValue)).toBe(true);
    expect(after.pages).toBeLessThan(before.pages / 2);
    store = stores.open({ readOnly: true });
    expect(store.records('perf_reports').range()).toEqual([...legacy, [[report(30).at, 30], report(30)]]);
    expect(
      store
        .records('alerts')
        .range()
        .map(([, v]) => v),
    ).toEqual(
      [...RECORD_SAMPLES.alerts!].sort((a, b) => ((a as { id: string }).id < (b as { id: string }).id ? -1 : 1)),
    );
  });

  it('yields within a step once re-encoding has held the loop 8 ms, and still commits the step at once', async () => {
    await stores.open().close();
    await writeLayout2(
      stores.dir,
      'perf_reports',
      Array.from({ length: 20 }, (_, n) => [n, report(n)]),
    );
    const env = open({ path: stores.dir, ...LAYOUT2_ENV });
    let clock = 0;
    const events: string[] = [];
    const result = await convertRecordValues(env, {
      // Each look at the clock is 3 ms later: a pause every few records.
      now: () => (clock += 3),
      ensureRoom: (_op, puts) => events.push(`write ${puts}`),
      yieldBetween: async () => {
        events.push('pause');
      },
    });
    await env.close();
    expect(result.converted).toBe(20);
    expect(events.filter((e) => e === 'pause').length).toBeGreaterThanOrEqual(5);
    expect(events.filter((e) => e.startsWith('write'))).toEqual(['write 20']);
  });

  it('writes nothing of a conversion step that ensureRoom refuses', async () => {
    await stores.open().close();
    const legacy: [RecordKey, unknown][] = Array.from({ length: 5 }, (_, n) => [n, report(n)]);
    await writeLayout2(stores.dir, 'perf_reports', legacy);
    const env = open({ path: stores.dir, ...LAYOUT2_ENV });
    const full = new Error('no room (ENOSPC)');
    await expect(
      convertRecordValues(env, {
        ensureRoom: () => {
          throw full;
        },
      }),
    ).rejects.toBe(full);
    await env.close();
    const raw = await rawCollection(stores.dir, 'perf_reports');
    expect(raw.values.some(isCompressedRecordValue)).toBe(false);
    expect(stores.open().records('perf_reports').range()).toEqual(legacy);
  });

  it('keeps history_size reports and SLA results, and reads the newest back', async () => {
    const store = stores.open();
    const history = new PerfHistory(store, 5);
    for (let n = 0; n < 12; n++) await history.append(report(n), slaSamples[n % slaSamples.length]!.results);
    expect(store.records('perf_reports').count()).toBe(5);
    expect(store.records('perf_sla_results').count()).toBe(5);
    const reply = history.range({ kind: 'report', from: 0, to: Number.MAX_SAFE_INTEGER });
    expect(reply.entries).toEqual(Array.from({ length: 5 }, (_, i) => report(7 + i)));
    expect(history.lastFiring()).toEqual(report(11).firing);
  });

  it('turns a damaged value into EMON_STORE_FAILED naming the collection', async () => {
    const store = stores.open();
    await store.records('alerts').put('a', RECORD_SAMPLES.alerts![0]);
    await store.close();
    const env = open({ path: stores.dir, ...LAYOUT2_ENV });
    const raw = env.openDB<Uint8Array, RecordKey>('rec:alerts', { encoding: 'binary' });
    await raw.put('a', Buffer.from([0xc1, 77, 1, 2, 3]));
    await env.close();
    const again = stores.open().records('alerts');
    expectMonitorError(
      () => again.get('a'),
      ErrorCode.StoreFailed,
      /^alerts\.get: reading .* failed: record value uses dictionary 77/,
    );
    expectMonitorError(() => again.range(), ErrorCode.StoreFailed, /^alerts\.range: .*record value uses dictionary 77/);
    await expectMonitorRejection(
      convertRecordValues({
        getKeys: () => ['rec:alerts'],
        openDB: () => ({
          getRange: () => [{ key: 'a', value: Buffer.from([0x92]) }],
          put: async () => true,
          remove: async () => true,
          batch: async () => true,
        }),
      }),
      ErrorCode.StoreFailed,
      /the alerts record "a" does not decode/,
    );
  });
});
