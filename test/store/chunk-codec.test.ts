import { describe, expect, it } from 'vitest';
import { ChunkEncoder, chunkInfo, decodeChunkInto } from '../../src/store/chunk-codec.js';

describe('ChunkEncoder', () => {
  it('round-trips rows exactly, including -0 and extremes', () => {
    const values = [1.5, -0, 0, Number.MIN_VALUE, -Number.MAX_VALUE, 42.42, 42.42];
    const enc = new ChunkEncoder();
    values.forEach((v, i) => enc.append(1_000 + i * 5_000, v));
    const bytes = enc.bytes();
    expect(chunkInfo(bytes)).toEqual({ columns: 1, count: 7, firstTs: 1_000, lastTs: 31_000 });
    const ts: number[] = [];
    const col: number[] = [];
    expect(decodeChunkInto(bytes, 0, Infinity, ts, [col])).toBe(7);
    expect(ts).toEqual(values.map((_, i) => 1_000 + i * 5_000));
    expect(col.map((v) => Object.is(v, -0) ? '-0' : v)).toEqual(values.map((v) => Object.is(v, -0) ? '-0' : v));
  });
});
