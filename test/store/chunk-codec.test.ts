import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChunkEncoder, chunkInfo, decodeChunkInto } from '../../src/store/chunk-codec.js';
import { seededRandom } from './store-fixture.js';

type Row = [ts: number, values: number[]];

/** -0 and NaN compare as themselves, so toEqual on these tells -0 from 0. */
const exact = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

const SPECIAL = [
  -0,
  0,
  Number.MIN_VALUE,
  -Number.MIN_VALUE,
  2 ** -1022,
  2 ** -1022 - Number.MIN_VALUE,
  Number.MAX_VALUE,
  -Number.MAX_VALUE,
  2 ** 53,
  2 ** 49,
  2 ** 49 + 1,
  0.1 + 0.2,
  1e-7,
  123456.789,
];

/** Values that mix decimal ones (n / 10^d), binary fractions (n / 2^m), near-decimals, repeats, specials and arbitrary doubles, so chunks switch modes. */
const value = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).chain((n) => fc.integer({ min: 0, max: 9 }).map((d) => n / 10 ** d)),
  fc.integer({ min: -1_000_000, max: 1_000_000 }).chain((n) => fc.integer({ min: 0, max: 45 }).map((m) => n / 2 ** m)),
  // near-decimals as float arithmetic leaves them: 1512191 / 1e6 + 2 / 1e6 = 1.5121930000000001
  fc.tuple(fc.integer({ min: -1e9, max: 1e9 }), fc.integer({ min: -1e9, max: 1e9 })).map(([a, b]) => a / 1e6 + b / 1e6),
  fc.constantFrom(...SPECIAL),
  fc.constant(42.42),
);

/** Gaps from 1 ms up to huge ones, so timestamps cover 0 .. MAX_SAFE_INTEGER. */
const gap = fc.oneof(
  fc.constant(5_000),
  fc.integer({ min: 1, max: 10_000 }),
  fc.integer({ min: 1, max: 2 ** 40 }),
  fc.constant(2 ** 52),
);

function rowsArb(columns: fc.Arbitrary<number>, maxRows = 200): fc.Arbitrary<{ columns: number; rows: Row[] }> {
  return columns.chain((c) =>
    fc
      .tuple(
        fc.integer({ min: 0, max: 2 ** 45 }),
        fc.array(fc.tuple(gap, fc.array(value, { minLength: c, maxLength: c })), { minLength: 1, maxLength: maxRows }),
      )
      .map(([start, steps]) => {
        const rows: Row[] = [];
        let ts = start;
        for (const [g, values] of steps) {
          if (rows.length > 0) ts += g;
          if (!Number.isSafeInteger(ts)) break;
          rows.push([ts, values]);
        }
        return { columns: c, rows };
      }),
  );
}

function encode(columns: number, rows: Row[]): ChunkEncoder {
  const enc = new ChunkEncoder(columns);
  for (const [ts, values] of rows) enc.appendRow(ts, values);
  return enc;
}

function decodeAll(
  bytes: Uint8Array,
  columns: number,
  from = 0,
  to = Number.MAX_SAFE_INTEGER,
): { ts: number[]; cols: number[][]; n: number } {
  const ts: number[] = [];
  const cols: number[][] = Array.from({ length: columns }, () => []);
  const n = decodeChunkInto(bytes, from, to, ts, cols);
  return { ts, cols, n };
}

function expectRows(bytes: Uint8Array, columns: number, rows: Row[]): void {
  const { ts, cols, n } = decodeAll(bytes, columns);
  expect(n).toBe(rows.length);
  expect(ts).toEqual(rows.map((r) => r[0]));
  for (let c = 0; c < columns; c++) expect(cols[c]!.map(exact)).toEqual(rows.map((r) => exact(r[1][c]!)));
}

function walk(n: number, seed: number, step: number, start: number, decimals: number): number[] {
  const rnd = seededRandom(seed);
  let v = start;
  const p = 10 ** decimals;
  return Array.from({ length: n }, () => (v = Math.max(0, Math.round((v + (rnd() - 0.5) * 2 * step) * p) / p)));
}

describe('ChunkEncoder', () => {
  it('round-trips every finite double exactly (-0, subnormals, ±MAX_VALUE, repeats, mode switches) with irregular and huge ts gaps', () => {
    fc.assert(
      fc.property(rowsArb(fc.constant(1)), ({ columns, rows }) => {
        const enc = encode(columns, rows);
        const bytes = enc.bytes();
        expect(enc.byteLength).toBe(bytes.length);
        expect(enc.count).toBe(rows.length);
        expectRows(bytes, columns, rows);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips multi-column rows (rollup cells) column by column', () => {
    fc.assert(
      fc.property(rowsArb(fc.integer({ min: 1, max: 7 }), 80), ({ columns, rows }) => {
        expectRows(encode(columns, rows).bytes(), columns, rows);
      }),
    );
  });

  it('resume(bytes) then append gives the same bytes as encoding all at once', () => {
    fc.assert(
      fc.property(rowsArb(fc.integer({ min: 1, max: 3 }), 120), fc.nat(), ({ columns, rows }, cut) => {
        const at = 1 + (cut % rows.length);
        let enc = encode(columns, rows.slice(0, at));
        // resume more than once, as a store flushing every interval does
        for (let i = at; i < rows.length; i++) {
          if (i % 7 === 0) enc = ChunkEncoder.resume(enc.bytes());
          enc.appendRow(rows[i]![0], rows[i]![1]);
        }
        const resumed = ChunkEncoder.resume(encode(columns, rows.slice(0, at)).bytes());
        expect(resumed.count).toBe(at);
        expect(resumed.lastTs).toBe(rows[at - 1]![0]);
        for (const [ts, values] of rows.slice(at)) resumed.appendRow(ts, values);
        const whole = encode(columns, rows).bytes();
        expect(Buffer.from(resumed.bytes()).equals(Buffer.from(whole))).toBe(true);
        expect(Buffer.from(enc.bytes()).equals(Buffer.from(whole))).toBe(true);
        expectRows(resumed.bytes(), columns, rows);
      }),
    );
  });

  it('compresses ordinary series: 2-decimal walk and small-step counter under 1.6 B/point, constant under 0.6, in chunks of 120', () => {
    const size = (values: number[]): number => {
      const enc = new ChunkEncoder();
      values.forEach((v, i) => enc.append(1_700_000_000_000 + i * 5_000, v));
      return enc.bytes().length / values.length;
    };
    const rnd = seededRandom(7);
    let c = 1_000;
    expect(size(walk(120, 1, 0.5, 35, 2))).toBeLessThan(1.6);
    expect(size(Array.from({ length: 120 }, () => (c += Math.floor(rnd() * 10))))).toBeLessThan(1.6);
    expect(size(Array.from({ length: 120 }, () => 1))).toBeLessThan(0.6);
  });

  it('keeps binary fractions (sketch quantiles like 13.5625) compact: under 2 B/point where XOR needs more', () => {
    const rnd = seededRandom(11);
    let v = 13.5625;
    const values = Array.from({ length: 120 }, () =>
      rnd() < 0.5 ? v : (v = Math.max(1, v + Math.round((rnd() - 0.5) * 16) / 16)),
    );
    const enc = new ChunkEncoder();
    const xor = ChunkEncoder.xorOnly();
    values.forEach((x, i) => {
      enc.append(i * 5_000, x);
      xor.append(i * 5_000, x);
    });
    expectRows(
      enc.bytes(),
      1,
      values.map((x, i) => [i * 5_000, [x]]),
    );
    expect(enc.byteLength / 120).toBeLessThan(2);
    expect(enc.byteLength).toBeLessThan(xor.byteLength);
  });

  it('keeps near-decimals (a few ULPs off n / 10^6, as sums of µs / 1e6 are) under half of what XOR needs', () => {
    const rnd = seededRandom(5);
    let seconds = 1.489843;
    const values = Array.from({ length: 120 }, () => (seconds += Math.floor(rnd() * 2_000) / 1e6));
    expect(values.filter((v) => Math.round(v * 1e6) / 1e6 !== v).length).toBeGreaterThan(10);
    const enc = new ChunkEncoder();
    const xor = ChunkEncoder.xorOnly();
    values.forEach((v, i) => {
      enc.append(i * 5_000, v);
      xor.append(i * 5_000, v);
    });
    expectRows(
      enc.bytes(),
      1,
      values.map((v, i) => [i * 5_000, [v]]),
    );
    expect(enc.byteLength).toBeLessThan(xor.byteLength / 2);
  });

  it('switches a chunk from decimal to XOR when a value has no short decimal form, keeping earlier rows exact', () => {
    const rows: Row[] = walk(50, 3, 0.5, 10, 2).map((v, i) => [i * 1000, [v]]);
    rows.push([50_000, [0.1 + 0.2]], [51_000, [12.5]], [52_000, [-0]]);
    const enc = encode(1, rows);
    expectRows(enc.bytes(), 1, rows);
  });

  it('refuses non-finite values, non-increasing or non-integer ts and wrong row widths with a RangeError', () => {
    const enc = new ChunkEncoder();
    enc.append(1_000, 1);
    expect(() => enc.append(2_000, NaN)).toThrow(RangeError);
    expect(() => enc.append(2_000, Infinity)).toThrow(/finite/);
    expect(() => enc.append(2_000, -Infinity)).toThrow(RangeError);
    expect(() => enc.append(1_000, 2)).toThrow(/increase/);
    expect(() => enc.append(999, 2)).toThrow(RangeError);
    expect(() => enc.append(1_000.5, 2)).toThrow(/safe integer/);
    expect(() => enc.append(2 ** 53, 2)).toThrow(RangeError);
    expect(() => new ChunkEncoder().append(-1, 2)).toThrow(RangeError);
    expect(() => enc.appendRow(2_000, [1, 2])).toThrow(/1 values/);
    const cells = new ChunkEncoder(6);
    expect(() => cells.append(1, 1)).toThrow(RangeError);
    expect(() => cells.appendRow(1, [1, 2, 3, 4, NaN, 6])).toThrow(/column 4/);
    expect(() => new ChunkEncoder(0)).toThrow(RangeError);
    // nothing refused was written
    expect(enc.count).toBe(1);
    expect(cells.count).toBe(0);
    expectRows(enc.bytes(), 1, [[1_000, [1]]]);
  });
});

describe('decodeChunkInto', () => {
  it('appends exactly the rows inside [fromMs, toMs] for ranges starting and ending inside, before, after or around the chunk', () => {
    fc.assert(
      fc.property(
        rowsArb(fc.integer({ min: 1, max: 2 }), 100),
        fc.integer({ min: -2, max: 102 }),
        fc.integer({ min: -2, max: 102 }),
        fc.integer({ min: -1, max: 1 }),
        ({ columns, rows }, i, j, nudge) => {
          const at = (k: number): number =>
            k < 0 ? rows[0]![0] - 10 : k >= rows.length ? rows[rows.length - 1]![0] + 10 : rows[k]![0] + nudge;
          const from = at(i);
          const to = at(j);
          const bytes = encode(columns, rows).bytes();
          const ts = [-1];
          const cols = Array.from({ length: columns }, () => [-1]);
          const n = decodeChunkInto(bytes, from, to, ts, cols);
          const want = rows.filter(([t]) => t >= from && t <= to);
          expect(n).toBe(want.length);
          expect(ts).toEqual([-1, ...want.map((r) => r[0])]);
          for (let c = 0; c < columns; c++)
            expect(cols[c]!.map(exact)).toEqual(['-1', ...want.map((r) => exact(r[1][c]!))]);
        },
      ),
    );
  });

  it('returns 0 for an empty chunk and for a range that is empty', () => {
    const empty = new ChunkEncoder().bytes();
    expect(chunkInfo(empty).count).toBe(0);
    expect(decodeAll(empty, 1).n).toBe(0);
    const bytes = encode(1, [
      [10, [1]],
      [20, [2]],
    ]).bytes();
    expect(decodeAll(bytes, 1, 20, 10).n).toBe(0);
    expect(decodeAll(bytes, 1, 11, 19).n).toBe(0);
    expect(() => decodeChunkInto(bytes, 0, 100, [], [[], []])).toThrow(RangeError);
  });
});

describe('chunkInfo', () => {
  it('reads columns, count, firstTs and lastTs from the header', () => {
    fc.assert(
      fc.property(rowsArb(fc.integer({ min: 1, max: 6 }), 60), ({ columns, rows }) => {
        expect(chunkInfo(encode(columns, rows).bytes())).toEqual({
          columns,
          count: rows.length,
          firstTs: rows[0]![0],
          lastTs: rows[rows.length - 1]![0],
        });
      }),
    );
  });
});

describe('malformed chunks', () => {
  it('throws an Error naming the chunk problem for every truncation, from chunkInfo, resume and decode', () => {
    fc.assert(
      fc.property(rowsArb(fc.integer({ min: 1, max: 2 }), 60), ({ columns, rows }) => {
        const bytes = encode(columns, rows).bytes();
        for (let len = 0; len < bytes.length; len++) {
          const cut = bytes.subarray(0, len);
          expect(() => chunkInfo(cut)).toThrow(/chunk/);
          expect(() => ChunkEncoder.resume(cut)).toThrow(/chunk/);
          expect(() => decodeAll(cut, columns)).toThrow(/chunk/);
        }
      }),
      { numRuns: 40 },
    );
  });

  it('never hangs or returns rows out of order on corrupted bytes: each flip throws a chunk Error or decodes well-formed rows', () => {
    fc.assert(
      fc.property(rowsArb(fc.constant(1), 60), fc.nat(), fc.integer({ min: 1, max: 255 }), ({ rows }, where, mask) => {
        const bytes = encode(1, rows).bytes();
        bytes[where % bytes.length]! ^= mask;
        const ts: number[] = [-1];
        const col: number[] = [-1];
        let n: number;
        try {
          n = decodeChunkInto(bytes, 0, Number.MAX_SAFE_INTEGER, ts, [col]);
        } catch (err) {
          expect(err).toBeInstanceOf(Error);
          expect((err as Error).message).toMatch(/chunk/);
          // nothing of a refused chunk is appended
          expect(ts).toEqual([-1]);
          expect(col).toEqual([-1]);
          return;
        }
        expect(ts.length).toBe(n + 1);
        expect(col.length).toBe(n + 1);
        for (let i = 2; i < ts.length; i++) expect(ts[i]!).toBeGreaterThan(ts[i - 1]!);
        expect(col.every(Number.isFinite)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('names an unknown format and a length that does not match the header', () => {
    const bytes = encode(1, [
      [10, [1]],
      [20, [2]],
    ]).bytes();
    const other = bytes.slice();
    other[0] = 9;
    expect(() => chunkInfo(other)).toThrow(/malformed chunk: unknown format 9/);
    const longer = new Uint8Array(bytes.length + 1);
    longer.set(bytes);
    expect(() => decodeAll(longer, 1)).toThrow(/malformed chunk: .*bytes/);
  });
});
