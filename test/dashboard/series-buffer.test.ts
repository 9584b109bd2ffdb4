/**
 * The page's point buffers (src/dashboard-page/series-buffer.js, plain browser JS with no DOM
 * use, so it runs here as it does in the page).
 */
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

type P = [number, number | null];
interface SeriesBuffer {
  readonly length: number;
  ts: number[];
  vals: (number | null)[];
  push(point: P): boolean;
  replace(points: P[]): void;
  fill(points: P[], gapMs: number): void;
  last(): P | null;
  lastValue(): number | null;
}
interface Module {
  SeriesBuffer: new (limit: number) => SeriesBuffer;
  alignBuffers(buffers: SeriesBuffer[]): (number | null | undefined)[][];
}

const mod = (await import(pathToFileURL(path.resolve('src/dashboard-page/series-buffer.js')).href)) as Module;
const points = (b: SeriesBuffer): P[] => b.ts.map((t, i) => [t, b.vals[i]!]);

describe('SeriesBuffer', () => {
  it('appends newer points, replaces the newest on a repeat, drops older ones', () => {
    const b = new mod.SeriesBuffer(10);
    expect(b.push([1000, 1])).toBe(true);
    expect(b.push([2000, 2])).toBe(true);
    expect(b.push([2000, 2])).toBe(false);
    expect(b.push([2000, 3])).toBe(true);
    expect(b.push([1500, 9])).toBe(false);
    expect(points(b)).toEqual([
      [1000, 1],
      [2000, 3],
    ]);
  });

  it('keeps at most `limit` points, the newest', () => {
    const b = new mod.SeriesBuffer(3);
    for (let i = 1; i <= 5; i++) b.push([i * 1000, i]);
    expect(points(b)).toEqual([
      [3000, 3],
      [4000, 4],
      [5000, 5],
    ]);
  });

  it('keeps a null value as no data and ignores malformed points', () => {
    const b = new mod.SeriesBuffer(10);
    b.push([1000, 5]);
    b.push([2000, null]);
    expect(b.push([Number.NaN, 1])).toBe(false);
    expect(b.push('x' as unknown as P)).toBe(false);
    b.push([3000, Number.POSITIVE_INFINITY]);
    expect(points(b)).toEqual([
      [1000, 5],
      [2000, null],
      [3000, null],
    ]);
    expect(b.lastValue()).toBe(5);
    expect(b.last()).toEqual([3000, null]);
  });

  it('replace sorts history and keeps the newest `limit` points', () => {
    const b = new mod.SeriesBuffer(2);
    b.replace([
      [3000, 3],
      [1000, 1],
      [2000, 2],
    ]);
    expect(points(b)).toEqual([
      [2000, 2],
      [3000, 3],
    ]);
  });

  it('fill puts history before the live points and into holes, never over live points', () => {
    const b = new mod.SeriesBuffer(100);
    // Live every 200 ms, then the feed was down from 1400 to 3000.
    for (const t of [1000, 1200, 1400, 3000, 3200]) b.push([t, t]);
    const history: P[] = [];
    for (let t = 0; t <= 3200; t += 500) history.push([t, -t]);
    b.fill(history, 500);
    expect(points(b)).toEqual([
      [0, -0],
      [500, -500],
      [1000, 1000],
      [1200, 1200],
      [1400, 1400],
      [1500, -1500],
      [2000, -2000],
      [2500, -2500],
      [3000, 3000],
      [3200, 3200],
    ]);
  });

  it('fill into an empty buffer takes all of the history', () => {
    const b = new mod.SeriesBuffer(100);
    b.fill(
      [
        [1000, 1],
        [2000, 2],
      ],
      500,
    );
    expect(points(b)).toEqual([
      [1000, 1],
      [2000, 2],
    ]);
  });
});

describe('alignBuffers', () => {
  it('shares one x column (seconds) when the series share timestamps', () => {
    const a = new mod.SeriesBuffer(10);
    const b = new mod.SeriesBuffer(10);
    a.replace([
      [1000, 1],
      [2000, 2],
    ]);
    b.replace([
      [1000, 10],
      [2000, null],
    ]);
    expect(mod.alignBuffers([a, b])).toEqual([
      [1, 2],
      [1, 2],
      [10, null],
    ]);
  });

  it('joins different timestamps with undefined (drawn across), keeping null (a gap)', () => {
    const a = new mod.SeriesBuffer(10);
    const b = new mod.SeriesBuffer(10);
    a.replace([
      [1000, 1],
      [3000, null],
    ]);
    b.replace([[2000, 20]]);
    const [xs, ya, yb] = mod.alignBuffers([a, b]);
    expect(xs).toEqual([1, 2, 3]);
    expect(ya).toEqual([1, undefined, null]);
    expect(yb).toEqual([undefined, 20, undefined]);
  });
});
