import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import {
  float64ValueEncoder,
  KEY_BYTES,
  RECORD_BYTES,
  readSeriesTimeKey,
  seriesTimeKeyEncoder,
  writePointRecord,
  writeSeriesTimeKey,
} from '../../src/store/point-codec.js';
import { expectMonitorError, seededRandom } from './store-fixture.js';

const IDS = [1, 2, 255, 256, 257, 65_535, 65_536, 16_777_216, 0xffff_ffff];
const TIMESTAMPS = [
  0,
  1,
  255,
  256,
  65_536,
  2 ** 32 - 1,
  2 ** 32,
  Date.UTC(1999, 11, 31, 23, 59, 59, 999),
  Date.UTC(2000, 0, 1),
  Date.UTC(2038, 0, 19, 3, 14, 8), // 2^31 s
  Date.UTC(2100, 0, 1),
  Number.MAX_SAFE_INTEGER,
];

function keyOf(id: number, ts: number): Uint8Array {
  const bytes = new Uint8Array(KEY_BYTES);
  writeSeriesTimeKey(bytes, 0, id, ts);
  return bytes;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

describe('point codec', () => {
  it('sorts keys bytewise in (id, ts) order, for ids of any byte length and timestamps across years', () => {
    const pairs = IDS.flatMap((id) => TIMESTAMPS.map((ts) => [id, ts] as const));
    const random = seededRandom(0xc0dec);
    const shuffled = pairs
      .map((pair) => ({ pair, r: random() }))
      .sort((a, b) => a.r - b.r)
      .map((e) => e.pair);
    const byBytes = shuffled
      .map(([id, ts]) => ({ id, ts, key: keyOf(id, ts) }))
      .sort((a, b) => compareBytes(a.key, b.key));
    expect(byBytes.map(({ id, ts }) => [id, ts])).toEqual(pairs);
  });

  it('reads back the id and timestamp it wrote', () => {
    for (const id of IDS) {
      for (const ts of TIMESTAMPS) expect(readSeriesTimeKey(keyOf(id, ts), 0, KEY_BYTES)).toEqual([id, ts]);
    }
  });

  it('orders negative and fractional range bounds correctly against stored timestamps, and -0 as 0', () => {
    const bounds = [-1e15, -60_000, -1, -0.5, 0, 0.5, 1, 1.5, 2];
    const sorted = bounds.map((ts) => keyOf(7, ts)).sort(compareBytes);
    expect(sorted.map((key) => readSeriesTimeKey(key, 0, KEY_BYTES)[1])).toEqual(bounds);
    expect(compareBytes(keyOf(7, -0), keyOf(7, 0))).toBe(0);
  });

  it('writes [id] as a 4-byte prefix that sorts after every key of id - 1 and before every key of id', () => {
    const prefix = new Uint8Array(8);
    expect(seriesTimeKeyEncoder.writeKey([256], prefix, 2)).toBe(6);
    const bound = prefix.subarray(2, 6);
    expect(compareBytes(keyOf(255, Number.MAX_SAFE_INTEGER), bound)).toBeLessThan(0);
    expect(compareBytes(bound, keyOf(256, 0))).toBeLessThan(0);
    expect(compareBytes(bound, keyOf(256, -1e15))).toBeLessThan(0);
  });

  it('writes a point record as its key followed by the value as a float64, and reads the value back', () => {
    const records = new Uint8Array(2 * RECORD_BYTES);
    const view = new DataView(records.buffer);
    writePointRecord(records, view, RECORD_BYTES, 65_536, Date.UTC(2030, 5, 1), -12.375);
    expect(readSeriesTimeKey(records, RECORD_BYTES, RECORD_BYTES + KEY_BYTES)).toEqual([65_536, Date.UTC(2030, 5, 1)]);
    expect(float64ValueEncoder.decode(records.subarray(RECORD_BYTES + KEY_BYTES))).toBe(-12.375);
    expect(float64ValueEncoder.decode(float64ValueEncoder.encode(0.1 + 0.2))).toBe(0.1 + 0.2);
    expect(records.subarray(0, RECORD_BYTES).every((b) => b === 0)).toBe(true);
  });

  it('refuses keys and values of another size (data of another layout)', () => {
    expectMonitorError(
      () => readSeriesTimeKey(new Uint8Array(10), 0, 10),
      ErrorCode.StoreFailed,
      'the metric store holds a 10-byte history key; this layout has 12-byte (series id, timestamp) keys',
    );
    expectMonitorError(
      () => float64ValueEncoder.decode(new Uint8Array(9)),
      ErrorCode.StoreFailed,
      'the metric store holds a 9-byte point value; this layout has 8-byte float64 values',
    );
  });

  it('raises a RangeError when the target is too short, as lmdb-js expects of a key writer', () => {
    expect(() => writeSeriesTimeKey(new Uint8Array(KEY_BYTES + 3), 4, 1, 1)).toThrow(RangeError);
  });
});
