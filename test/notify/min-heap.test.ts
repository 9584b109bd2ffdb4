import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../src/notify/min-heap.js';
import { mulberry32 } from '../helpers.js';

describe('MinHeap', () => {
  it('pops items in order, whatever order they were pushed in', () => {
    const random = mulberry32(3);
    const heap = new MinHeap<number>((a, b) => a < b);
    const values = Array.from({ length: 500 }, () => Math.floor(random() * 100));
    for (const v of values) heap.push(v);
    expect(heap.size).toBe(500);
    expect(heap.peek()).toBe(Math.min(...values));
    const out: number[] = [];
    for (let v = heap.pop(); v !== undefined; v = heap.pop()) out.push(v);
    expect(out).toEqual([...values].sort((a, b) => a - b));
    expect(heap.size).toBe(0);
  });
});
