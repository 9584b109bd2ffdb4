/**
 * Another process (the compiled store from dist/, read-only) decodes the compact record values
 * the writer stores, layout-2 values beside them, and new commits while it stays open.
 */
import { open } from 'lmdb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RecordKey } from '../../src/store/record-db.js';
import { RECORD_SAMPLES } from './fixtures/record-samples.js';
import { assertBuilt, killChildren, type LineChild, spawnFixture, tempStores } from './store-fixture.js';

/** The env options of layout 2's openers (lmdb-store.ts ENV_OPTIONS): record values were plain msgpack. */
const LAYOUT2_ENV = { maxDbs: 64, useRecords: false, noSubdir: false } as const;

let stores: ReturnType<typeof tempStores> | undefined;
let child: LineChild | undefined;

beforeAll(() => assertBuilt());

afterEach(async () => {
  await killChildren();
  child = undefined;
  await stores?.cleanup();
  stores = undefined;
});

async function ask(reader: LineChild, collection: string): Promise<unknown> {
  reader.send(collection);
  return JSON.parse(await reader.nextLine()) as unknown;
}

/** What the reader should answer: the pairs as JSON carries them. */
const asJson = (pairs: [RecordKey, unknown][]): unknown => JSON.parse(JSON.stringify(pairs));

describe('RecordDb read-only from another process', () => {
  it("decodes every collection's records, old and new, and sees new commits", async () => {
    stores = tempStores();
    await stores.open().close();
    // One layout-2 value, as lmdb-js wrote them (plain msgpack), under the compact ones.
    const legacyReport = RECORD_SAMPLES.perf_reports![0];
    const env = open({ path: stores.dir, ...LAYOUT2_ENV });
    await env.openDB<unknown, RecordKey>('rec:perf_reports', {}).put([1, 0], legacyReport);
    await env.close();

    const writer = stores.open();
    const expected = new Map<string, [RecordKey, unknown][]>();
    for (const [collection, samples] of Object.entries(RECORD_SAMPLES)) {
      const pairs = samples.map((value, i): [RecordKey, unknown] => [[2, i], value]);
      await Promise.all(pairs.map(([key, value]) => writer.records(collection).put(key, value)));
      expected.set(collection, collection === 'perf_reports' ? [[[1, 0], legacyReport], ...pairs] : pairs);
    }

    child = spawnFixture('record-reader.mjs', [stores.dir], 20_000);
    expect(await child.nextLine()).toBe('ready');
    for (const [collection, pairs] of expected) expect(await ask(child, collection), collection).toEqual(asJson(pairs));

    const next = RECORD_SAMPLES.alerts![1];
    await writer.records('alerts').put([3, 0], next);
    expect(await ask(child, 'alerts')).toEqual(asJson([...expected.get('alerts')!, [[3, 0], next]]));
  });
});
