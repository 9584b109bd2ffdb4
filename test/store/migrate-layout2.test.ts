/**
 * Layout 2 -> 3: the committed fixture (a data.mdb written by the layout-2 release, see
 * fixtures/write-layout2-fixture.ts) opens with the current code and serves exactly what the
 * layout-2 store served.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { readContent, type StoreContent } from './fixtures/layout2-content.js';
import { tempStores } from './store-fixture.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

/** The expected content the layout-2 store served (written with the fixture). */
function expectedContent(): StoreContent & { counts: unknown } {
  return JSON.parse(gunzipSync(fs.readFileSync(path.join(FIXTURES, 'layout2.expected.json.gz'))).toString('utf8'));
}

/** A temp data dir holding a copy of the layout-2 fixture env. */
function layout2Store() {
  const stores = tempStores();
  fs.writeFileSync(path.join(stores.dir, 'data.mdb'), gunzipSync(fs.readFileSync(path.join(FIXTURES, 'layout2.data.mdb.gz'))));
  return stores;
}

let stores: ReturnType<typeof tempStores> | undefined;

afterEach(async () => {
  await stores?.cleanup();
  stores = undefined;
});

describe('layout 2 fixture', () => {
  it('opens and serves every series, point, rollup, current value and record the layout-2 store served', async () => {
    stores = layout2Store();
    const store = stores.open();
    const expected = expectedContent();
    const { series, points, rollups, latest, current, records } = readContent(store);
    expect(series).toEqual(expected.series);
    expect(points).toEqual(expected.points);
    expect(rollups).toEqual(expected.rollups);
    expect(latest).toEqual(expected.latest);
    expect(current).toEqual(expected.current);
    expect(records).toEqual(expected.records);
  });
});
