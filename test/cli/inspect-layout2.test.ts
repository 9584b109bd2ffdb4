/**
 * `inspect` of a store written by layout 2 (the committed fixture), before and during its conversion
 * to layout 3: the layout as stored, every point and rollup cell counted wherever it is, and the
 * conversion's progress, as text and JSON.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { run } from './cli-fixture.js';
import { MetricStore } from '../../src/store/lmdb-store.js';

const FIXTURES = new URL('../store/fixtures/', import.meta.url);

/** The entries of the fixture's old databases: one per raw point in `points`, one per cell in `rollup_1m`. */
function oldEntries(report: { databases: { name: string; entries: number }[] }): { points: number; rollups: number } {
  const entries = (name: string): number => report.databases.find((d) => d.name === name)!.entries;
  return { points: entries('points'), rollups: entries('rollup_1m') };
}

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

function fixtureDir(): string {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emon-inspect2-'));
  fs.writeFileSync(path.join(dir, 'data.mdb'), gunzipSync(fs.readFileSync(new URL('layout2.data.mdb.gz', FIXTURES))));
  return dir;
}

describe('inspect of a layout-2 store', () => {
  it('reports layout 2 and the points and rollup cells of the old databases, converting nothing', async () => {
    const data = fixtureDir();
    const json = await run('inspect', data, '--json');
    expect([json.code, json.err]).toEqual([0, '']);
    const report = JSON.parse(json.out) as Record<string, any>;
    const counts = oldEntries(report as never);
    expect(counts.points).toBeGreaterThan(1000);
    expect(counts.rollups).toBeGreaterThan(1000);
    expect(report).toMatchObject({ layout: 2, points: counts.points, rollupCells: counts.rollups });
    expect(report.conversion).toBeUndefined();
    expect(report.bytesPerPoint.history).toBeGreaterThan(0);
    const text = await run('inspect', data);
    expect(text.out).toMatch(/^layout +2 \(converts to layout 3 at the next writable open\)$/m);
    expect(text.out).toContain(
      `points         ${counts.points.toLocaleString('en-US')} raw, ${counts.rollups.toLocaleString('en-US')} rollup cells`,
    );
  });

  it('reports layout 3 with the conversion progress, counting every entry once, when a conversion was left unfinished', async () => {
    const data = fixtureDir();
    const before = JSON.parse((await run('inspect', data, '--json')).out) as Record<string, any>;
    const counts = oldEntries(before as never);
    // A writable open marks the store converting; close stops the conversion after at most the step under way.
    const store = MetricStore.open({ dataDir: data });
    await store.close();
    const json = await run('inspect', data, '--json');
    expect([json.code, json.err]).toEqual([0, '']);
    const report = JSON.parse(json.out) as Record<string, any>;
    expect(report).toMatchObject({ layout: 3, points: counts.points, rollupCells: counts.rollups });
    expect(report.conversion).toMatchObject({ points: counts.points, cells: counts.rollups, convertedCells: 0 });
    expect(report.conversion.convertedPoints).toBeLessThan(counts.points);
    expect(report.bytesPerPoint.history).toBeGreaterThan(0);
    const text = await run('inspect', data);
    const n = (x: number): string => x.toLocaleString('en-US');
    expect(text.out).toMatch(
      new RegExp(
        `^layout +3 \\(converting from layout 2: \\d+% done, ${n(report.conversion.convertedPoints)} of ${n(counts.points)} points and 0 of ${n(counts.rollups)} rollup cells moved\\)$`,
        'm',
      ),
    );
    expect(text.out).toMatch(/\(history db history \+ points\)/);
  });
});
