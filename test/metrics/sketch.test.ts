import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { Sketch, SlidingSketch, sketchKey } from '../../src/metrics/sketch.js';
import { SliceClock } from '../../src/metrics/slice-clock.js';
import { expectMonitorError, mulberry32 } from '../helpers.js';

/** The bound the midpoint representative guarantees, relative to the exact value. */
const BOUND = 1 / 128;
const QUANTILES = [0.5, 0.95, 0.99, 0.999];
const N = 100_000;

function normal(rand: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function samples(n: number, next: () => number): number[] {
  return Array.from({ length: n }, next);
}

function uniform(seed: number, lo: number, hi: number): number[] {
  const rand = mulberry32(seed);
  return samples(N, () => lo + (hi - lo) * rand());
}

function logNormal(seed: number, mu: number, sigma: number, n = N): number[] {
  const z = normal(mulberry32(seed));
  return samples(n, () => Math.exp(mu + sigma * z()));
}

/** 70% around 5 ms, 30% around 800 ms. */
function bimodal(seed: number): number[] {
  const rand = mulberry32(seed);
  const z = normal(mulberry32(seed + 1));
  return samples(N, () => (rand() < 0.7 ? Math.exp(Math.log(5) + 0.3 * z()) : Math.exp(Math.log(800) + 0.2 * z())));
}

/** The nearest-rank definition the sketch uses: the smallest value with >= ceil(q*n) values at or below it. */
function exactQuantile(sorted: readonly number[], q: number): number {
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

function relativeError(estimate: number, exact: number): number {
  return exact === 0 ? Math.abs(estimate) : Math.abs(estimate - exact) / Math.abs(exact);
}

function sketchOf(values: readonly number[]): Sketch {
  const sketch = new Sketch();
  for (const v of values) sketch.add(v);
  return sketch;
}

function expectAccurate(sketch: Sketch, values: readonly number[], qs: readonly number[]): void {
  const sorted = [...values].sort((a, b) => a - b);
  for (const q of qs) {
    const exact = exactQuantile(sorted, q);
    const estimate = sketch.quantile(q);
    expect(estimate, `q=${q}`).toBeDefined();
    expect(relativeError(estimate!, exact), `q=${q}: estimate ${estimate} vs exact ${exact}`).toBeLessThanOrEqual(
      BOUND + 1e-12,
    );
  }
}

function expectThrows(fn: () => unknown, message: string): void {
  expectMonitorError(fn, ErrorCode.InvalidOption, message);
}

describe('sketchKey', () => {
  it('gives 64 linear sub-buckets per power of two', () => {
    expect(sketchKey(1)).toBe(0);
    expect(sketchKey(1 + 1 / 64)).toBe(1);
    expect(sketchKey(1 + 1 / 64 - 2 ** -40)).toBe(0);
    expect(sketchKey(1.5)).toBe(32);
    expect(sketchKey(2)).toBe(64);
    expect(sketchKey(3)).toBe(96);
    expect(sketchKey(0.5)).toBe(-64);
    expect(sketchKey(1000)).toBe(9 * 64 + Math.floor((1000 / 512 - 1) * 64));
  });

  it('is monotonic in the value', () => {
    const values = logNormal(7, 0, 8, 10_000).sort((a, b) => a - b);
    const keys = values.map(sketchKey);
    const firstDrop = keys.findIndex((key, i) => i > 0 && key < keys[i - 1]!);
    expect(firstDrop).toBe(-1);
    expect(new Set(keys).size).toBeGreaterThan(1000);
  });
});

describe('Sketch', () => {
  it('returns undefined for every quantile while empty', () => {
    const sketch = new Sketch();
    expect(sketch.count).toBe(0);
    expect(sketch.quantile(0)).toBeUndefined();
    expect(sketch.quantile(0.5)).toBeUndefined();
    expect(sketch.quantile(1)).toBeUndefined();
  });

  it('reports a single value within 1/128 at every quantile', () => {
    const sketch = sketchOf([42]);
    expect(sketch.count).toBe(1);
    for (const q of [0, 0.001, 0.5, 1]) expect(relativeError(sketch.quantile(q)!, 42)).toBeLessThanOrEqual(BOUND);
  });

  it.each([
    { name: 'uniform 1..1000 ms', make: () => uniform(1, 1, 1000) },
    { name: 'log-normal (mu=3, sigma=1)', make: () => logNormal(2, 3, 1) },
    { name: 'bimodal (5 ms and 800 ms)', make: () => bimodal(3) },
  ])('stays within 1/128, under 1 percent, of the exact p50, p95, p99 and p999 on $name data', ({ make }) => {
    const values = make();
    const sketch = sketchOf(values);
    expect(sketch.count).toBe(N);
    expectAccurate(sketch, values, [0, 0.001, 0.25, ...QUANTILES, 1]);
  });

  it('orders negative values most negative first, then zeros, then positives', () => {
    const values = [100, -1, 0, -100, 1, 0, -0.5];
    const sketch = sketchOf(values);
    const sorted = [...values].sort((a, b) => a - b);
    for (let k = 1; k <= values.length; k++) {
      const q = k / values.length;
      expect(relativeError(sketch.quantile(q)!, exactQuantile(sorted, q)), `q=${q}`).toBeLessThanOrEqual(BOUND);
    }
    expect(sketch.quantile(0)).toBeLessThan(-99);
    expect(sketch.quantile(4 / 7)).toBe(0);
  });

  it('stays accurate on data mixing negatives, zeros and positives', () => {
    const z = normal(mulberry32(11));
    const values = samples(N, () => {
      const x = z();
      return Math.abs(x) < 0.1 ? 0 : x * 100;
    });
    expectAccurate(sketchOf(values), values, [0, 0.01, 0.05, 0.3, 0.5, 0.53, 0.7, ...QUANTILES, 1]);
  });

  it('counts -0, subnormals and magnitudes below 2^-64 as zero', () => {
    const sketch = sketchOf([-0, 5e-324, -1e-300, 2 ** -65, 2 ** -64]);
    expect(sketch.count).toBe(5);
    expect(sketch.quantile(0.8)).toBe(0);
    expect(relativeError(sketch.quantile(1)!, 2 ** -64)).toBeLessThanOrEqual(BOUND);
  });

  it('handles the largest and smallest finite magnitudes', () => {
    const sketch = sketchOf([Number.MAX_VALUE, -Number.MAX_VALUE]);
    expect(relativeError(sketch.quantile(1)!, Number.MAX_VALUE)).toBeLessThanOrEqual(BOUND);
    expect(relativeError(sketch.quantile(0)!, -Number.MAX_VALUE)).toBeLessThanOrEqual(BOUND);
  });

  it('clamps q to [0, 1] and rejects NaN', () => {
    const sketch = sketchOf([1, 2, 3]);
    expect(sketch.quantile(-1)).toBe(sketch.quantile(0));
    expect(sketch.quantile(2)).toBe(sketch.quantile(1));
    expectThrows(() => sketch.quantile(Number.NaN), 'invalid quantile: NaN (expected a number in [0, 1])');
  });

  it('rejects NaN and ±Infinity instead of miscounting them', () => {
    const sketch = new Sketch();
    const message = (key: number) =>
      `invalid sketch key: ${key} (keys come from sketchKey() of a finite number; NaN and ±Infinity cannot be recorded)`;
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expectThrows(() => sketch.add(bad), message(sketchKey(bad)));
    }
    expectThrows(() => sketch.addKey(0.5), message(0.5));
    expect(sketch.count).toBe(0);
  });

  it('merges to the same state as one sketch fed both streams', () => {
    const a = logNormal(21, 1, 1, 50_000);
    const b = [...bimodal(22).slice(0, 50_000), -3, -3000, 0];
    const left = sketchOf(a);
    const right = sketchOf(b);
    const both = sketchOf([...a, ...b]);
    left.merge(right);
    expect(left.count).toBe(both.count);
    expect(left.toJSON()).toEqual(both.toJSON());
    for (const q of [0, 0.1, 0.5, 0.9, 0.99, 1]) expect(left.quantile(q)).toBe(both.quantile(q));
    expect(right.count).toBe(b.length);
  });

  it('merges a sketch into itself by doubling every count', () => {
    const sketch = sketchOf([1, 2, 3]);
    sketch.merge(sketch);
    expect(sketch.count).toBe(6);
    expect(sketch.toJSON().pos.counts.filter((n) => n > 0)).toEqual([2, 2, 2]);
  });

  it('forgets everything on reset but keeps its buffers', () => {
    const sketch = sketchOf([1, 1000, -5, 0]);
    const bytes = sketch.byteLength;
    sketch.reset();
    expect(sketch.count).toBe(0);
    expect(sketch.quantile(0.5)).toBeUndefined();
    expect(sketch.byteLength).toBe(bytes);
    sketch.add(7);
    expect(relativeError(sketch.quantile(0.5)!, 7)).toBeLessThanOrEqual(BOUND);
  });

  it('round-trips through JSON with identical quantiles and trimmed, compact counts', () => {
    const values = [...bimodal(31).slice(0, 20_000), -12, -0.25, 0, 0];
    const sketch = sketchOf(values);
    const json = sketch.toJSON();
    expect(json.v).toBe(1);
    expect(json.zero).toBe(2);
    expect(json.neg.counts[0]).toBeGreaterThan(0);
    expect(json.pos.counts[0]).toBeGreaterThan(0);
    expect(json.pos.counts.at(-1)).toBeGreaterThan(0);
    const back = Sketch.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(back.count).toBe(sketch.count);
    expect(back.toJSON()).toEqual(json);
    for (const q of [0, 0.0001, 0.25, 0.5, 0.75, 0.99, 1]) expect(back.quantile(q)).toBe(sketch.quantile(q));
  });

  it('round-trips an empty sketch', () => {
    const json = new Sketch().toJSON();
    expect(json).toEqual({ v: 1, zero: 0, pos: { offset: 0, counts: [] }, neg: { offset: 0, counts: [] } });
    expect(Sketch.fromJSON(json).quantile(0.5)).toBeUndefined();
  });

  it.each<[string, unknown, string]>([
    ['null', null, 'expected an object, got null'],
    ['an array', [1], 'expected an object, got an array of 1'],
    [
      'another version',
      { v: 2, zero: 0, pos: { offset: 0, counts: [] }, neg: { offset: 0, counts: [] } },
      'unsupported version v: 2 (expected 1)',
    ],
    ['a negative zero count', { v: 1, zero: -1 }, 'zero must be a non-negative integer, got -1'],
    [
      'a missing store',
      { v: 1, zero: 0, neg: { offset: 0, counts: [] } },
      'pos must be an object { offset, counts }, got undefined',
    ],
    [
      'counts that are not an array',
      { v: 1, zero: 0, pos: { offset: 0, counts: '1,2' }, neg: { offset: 0, counts: [] } },
      'pos.counts must be an array, got "1,2"',
    ],
    [
      'a fractional count',
      { v: 1, zero: 0, pos: { offset: 0, counts: [1, 1.5] }, neg: { offset: 0, counts: [] } },
      'pos.counts[1] must be a non-negative integer, got 1.5',
    ],
    [
      'an offset out of range',
      { v: 1, zero: 0, pos: { offset: 0, counts: [] }, neg: { offset: 65535, counts: [1, 1] } },
      'neg.offset must be an integer key such that offset..offset+1 lies in -4096..65535, got 65535',
    ],
    [
      'a string offset',
      { v: 1, zero: 0, pos: { offset: '3', counts: [1] }, neg: { offset: 0, counts: [] } },
      'pos.offset must be an integer key such that offset..offset+0 lies in -4096..65535, got "3"',
    ],
    [
      'a total count above 2^53',
      { v: 1, zero: 2 ** 52, pos: { offset: 0, counts: [2 ** 52] }, neg: { offset: 0, counts: [] } },
      'the total count 9007199254740992 exceeds 2^53',
    ],
  ])('rejects JSON with %s, saying what was wrong', (_name, json, what) => {
    expectThrows(() => Sketch.fromJSON(json), `invalid sketch JSON: ${what}`);
  });

  it('does not grow its storage in steady state', () => {
    const values = logNormal(41, 3, 1);
    const sketch = sketchOf(values);
    const bytes = sketch.byteLength;
    for (let round = 0; round < 5; round++) for (const v of values) sketch.addKey(sketchKey(v));
    expect(sketch.byteLength).toBe(bytes);
    expect(sketch.count).toBe(6 * N);
  });

  it('allocates 64 counts per octave the data spans, one byte each until a count passes 255', () => {
    expect(sketchOf([1]).byteLength).toBe(64);
    // 1..1000 ms spans the 10 octaves [1, 1024); 5,000 values put at most ~40 in a bucket.
    expect(sketchOf(uniform(5, 1, 1000).slice(0, 5000)).byteLength).toBe(640);
    // 100,000 values put up to ~800 in the top octave's buckets: 16-bit counts.
    expect(sketchOf(uniform(5, 1, 1000)).byteLength).toBe(640 * 2);
  });

  it('gives its counts as pairs that fromPairs reads back equal, or undefined past max buckets', () => {
    const values = [-7, -7, -1e300, 0, 0, 2 ** -80, 1, 1.5, 5e6, 2 ** 1000];
    const sketch = sketchOf(values);
    // Buckets: two negative, zero (three), four positive.
    const pairs = sketch.toPairs(7)!;
    expect(pairs).toHaveLength(14);
    expect(Sketch.fromPairs(pairs).toJSON()).toEqual(sketch.toJSON());
    expect(Sketch.fromPairs(pairs).quantile(0.5)).toBe(sketch.quantile(0.5));
    expect(sketch.toPairs(6)).toBeUndefined();
    expect(Sketch.fromPairs(new Sketch().toPairs(0)!).count).toBe(0);
    const heavy = new Sketch();
    heavy.merge(
      Sketch.fromJSON({ v: 1, zero: 0, pos: { offset: 0, counts: [2 ** 33] }, neg: { offset: 0, counts: [] } }),
    );
    expect(heavy.toPairs(64)).toBeUndefined();
  });

  it('writes its observations as log entries that fromLog reads back equal, or writes nothing when they do not fit', () => {
    const entries = new Uint16Array(8).fill(7);
    const small = sketchOf([3e6, 5, 900, 5]);
    expect(small.toLog(entries, 2, 4)).toBe(true);
    // Key order, a repeated key twice; the entries around untouched.
    expect([entries[0], entries[1], entries[6], entries[7]]).toEqual([7, 7, 7, 7]);
    expect(entries[2]).toBe(entries[3]);
    expect(Sketch.fromLog(entries, 2, 4).toJSON()).toEqual(small.toJSON());
    expect(sketchOf([]).toLog(entries, 0, 4)).toBe(true);
    for (const values of [[1, 2, 3, 4, 5], [0, 1], [-1], [2 ** 1000], [1, 2 ** -70]]) {
      const before = Array.from(entries);
      expect(sketchOf(values).toLog(entries, 0, 4), String(values)).toBe(false);
      expect(Array.from(entries)).toEqual(before);
    }
  });
});

describe('SliceClock', () => {
  it('numbers slices as floor(now / sliceMs) and advances only on tick', () => {
    const clock = new SliceClock(10_000, 25_000);
    expect(clock.slice).toBe(2);
    clock.tick(29_999);
    expect(clock.slice).toBe(2);
    clock.tick(30_000);
    expect(clock.slice).toBe(3);
  });

  it('ignores a tick that would move it backwards', () => {
    const clock = new SliceClock(1000, 5000);
    clock.tick(1000);
    expect(clock.slice).toBe(5);
  });

  it('rejects a bad slice length or time', () => {
    expectThrows(() => new SliceClock(0), 'invalid sliceMs: 0 (expected a positive integer number of milliseconds)');
    expectThrows(
      () => new SliceClock(10_000, Number.NaN),
      'invalid nowMs: NaN (expected a finite time in milliseconds)',
    );
    expectThrows(
      () => new SliceClock().tick(Number.POSITIVE_INFINITY),
      'invalid nowMs: Infinity (expected a finite time in milliseconds)',
    );
  });
});

describe('SlidingSketch', () => {
  const MIN = 60_000;
  const FIVE_MIN = 300_000;

  function around(seed: number, center: number, n: number): number[] {
    return logNormal(seed, Math.log(center), 0.05, n);
  }

  it('forgets data older than the window', () => {
    const clock = new SliceClock(10_000, 0);
    const sliding = new SlidingSketch(clock);
    for (const v of around(51, 10, 1000)) sliding.add(v);
    clock.tick(65_000);
    for (const v of around(52, 500, 1000)) sliding.add(v);

    expect(sliding.count(MIN)).toBe(1000);
    expect(sliding.quantile(0.5, MIN)).toBeGreaterThan(450);
    expect(sliding.quantile(0.5, MIN)).toBeLessThan(550);

    expect(sliding.count(FIVE_MIN)).toBe(2000);
    expect(sliding.quantile(0.25, FIVE_MIN)).toBeGreaterThan(9);
    expect(sliding.quantile(0.25, FIVE_MIN)).toBeLessThan(11);
    expect(sliding.quantile(0.75, FIVE_MIN)).toBeGreaterThan(450);

    for (let t = 70_000; t <= 65_000 + FIVE_MIN; t += 1000) clock.tick(t);
    expect(sliding.count(FIVE_MIN)).toBe(0);
    expect(sliding.quantile(0.5, FIVE_MIN)).toBeUndefined();
    expect(sliding.quantile(0.5, MIN)).toBeUndefined();
    expect(sliding.merged(FIVE_MIN).count).toBe(0);
  });

  it('counts the current partial slice plus the completed slices of the window', () => {
    const clock = new SliceClock(10_000, 0);
    const sliding = new SlidingSketch(clock);
    sliding.add(1);
    clock.tick(59_999); // slice 5: slices 0..5 are the last six
    expect(sliding.count(MIN)).toBe(1);
    clock.tick(60_000); // slice 6: slice 0 has left the 60 s window
    expect(sliding.count(MIN)).toBe(0);
    expect(sliding.count(70_000)).toBe(1);
    expect(sliding.count(FIVE_MIN)).toBe(1);
  });

  it('does not leak stale counts into a slot reused after wrap-around', () => {
    const clock = new SliceClock(1000, 0);
    const sliding = new SlidingSketch(clock, 3);
    for (let i = 0; i < 100; i++) sliding.add(1);
    sliding.add(-4);
    sliding.add(0);
    clock.tick(3000); // slice 3 reuses slice 0's slot
    sliding.add(2);
    expect(sliding.count(3000)).toBe(1);
    expect(sliding.merged(3000).toJSON()).toEqual(sketchOf([2]).toJSON());
    clock.tick(9000); // slice 9 reuses the same slot again after skipping two laps
    expect(sliding.count(3000)).toBe(0);
    sliding.add(3);
    expect(sliding.merged(3000).toJSON()).toEqual(sketchOf([3]).toJSON());
  });

  it('returns a fresh merged sketch that combines with other label sets', () => {
    const clock = new SliceClock(10_000, 0);
    const a = new SlidingSketch(clock);
    const b = new SlidingSketch(clock);
    const va = around(61, 20, 5000);
    const vb = around(62, 300, 5000);
    for (let i = 0; i < 5000; i++) {
      if (i % 1000 === 0) clock.tick(i * 10);
      a.add(va[i]!);
      b.add(vb[i]!);
    }
    const total = a.merged(MIN);
    total.merge(b.merged(MIN));
    expect(total.toJSON()).toEqual(sketchOf([...va, ...vb]).toJSON());
    total.add(1);
    expect(a.count(MIN)).toBe(5000);
  });

  it('rejects a window outside (0, span] and a bad slice count', () => {
    const sliding = new SlidingSketch(new SliceClock(10_000, 0));
    expect(sliding.spanMs).toBe(FIVE_MIN);
    const message = (w: string) => `invalid windowMs: ${w} (expected 0 < windowMs <= 300000, the ring's span)`;
    expectThrows(() => sliding.count(0), message('0'));
    expectThrows(() => sliding.quantile(0.5, FIVE_MIN + 1), message('300001'));
    expectThrows(() => sliding.merged(Number.NaN), message('NaN'));
    expectThrows(() => new SlidingSketch(new SliceClock(), 0), 'invalid slices: 0 (expected an integer in 1..100000)');
  });

  it('does not grow its storage in steady state once every slot has been used', () => {
    const clock = new SliceClock(10_000, 0);
    const sliding = new SlidingSketch(clock);
    const values = logNormal(71, 3, 1, 10_000);
    const lap = (from: number) => {
      for (let s = from; s < from + 30; s++) {
        clock.tick(s * 10_000);
        for (const v of values) sliding.addKey(sketchKey(v));
      }
    };
    lap(0);
    const bytes = sliding.byteLength;
    lap(30);
    lap(60);
    expect(sliding.byteLength).toBe(bytes);
    expect(sliding.count(FIVE_MIN)).toBe(30 * values.length);
  });

  it('allocates lazily: a quiet slice costs two bytes per observation, a busy one 16-bit counts', () => {
    const clock = new SliceClock(10_000, 0);
    const sliding = new SlidingSketch(clock);
    expect(sliding.byteLength).toBe(0);
    const values = uniform(81, 1, 1000);
    for (const v of values.slice(0, 100)) sliding.add(v);
    // A log of 104 keys (grown by a quarter from 8); the first slice needs no slot table.
    expect(sliding.byteLength).toBe(104 * 2);
    for (const v of values) sliding.add(v);
    // Past SPARSE_MAX (the log grew to 132 for them) the slice went dense and its keys left the
    // log: 640 16-bit counts.
    expect(sliding.byteLength).toBe(132 * 2 + 640 * 2);
    clock.tick(10_000);
    sliding.add(1);
    // A second slice: the slot table (a key count per slot, 30 slots); the log, idle since
    // the busy slice went dense, shrinks to 8 keys.
    expect(sliding.byteLength).toBe(8 * 2 + 640 * 2 + 30);
    expect(sliding.count(FIVE_MIN)).toBe(values.length + 101);
  });
});
