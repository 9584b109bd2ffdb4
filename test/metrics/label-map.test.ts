import { describe, expect, it } from 'vitest';
import { LabelMap } from '../../src/metrics/label-map.js';

interface S {
  labels: Readonly<Record<string, string>>;
}

function map(names: string[], limit = 100) {
  let overflows = 0;
  const m = new LabelMap<S>('m', names, (labels) => ({ labels }), limit, () => overflows++);
  return { m, overflows: () => overflows };
}

describe('LabelMap', () => {
  it('finds each of many label sets that share prefixes, at every depth', () => {
    const { m } = map(['a', 'b', 'c']);
    const sets = [
      { a: 'x', b: 'y', c: '1' },
      { a: 'x', b: 'y', c: '2' },
      { a: 'x', b: 'z', c: '1' },
      { a: 'w', b: 'y', c: '1' },
      { a: 'x', b: 'y', c: '3' },
    ];
    const created = sets.map((l) => m.get(l));
    expect(new Set(created).size).toBe(5);
    sets.forEach((l, i) => expect(m.get({ c: l.c, b: l.b, a: l.a })).toBe(created[i]));
    expect(m.size).toBe(5);
    expect(m.all().map((s) => `${s.labels.a}${s.labels.b}${s.labels.c}`).sort()).toEqual(['wy1', 'xy1', 'xy2', 'xy3', 'xz1']);
  });

  it('does not mistake a single series under a prefix for another label set', () => {
    const { m } = map(['a', 'b']);
    const first = m.get({ a: 'x', b: '1' });
    expect(m.find({ a: 'x', b: '2' })).toBeUndefined();
    const second = m.get({ a: 'x', b: '2' });
    expect(second).not.toBe(first);
    expect(m.get({ a: 'x', b: '1' })).toBe(first);
  });

  it('gives label objects with exactly the label names, frozen', () => {
    const { m } = map(['a', 'b']);
    const s = m.get({ b: 2, a: 'x' });
    expect(Object.keys(s.labels)).toEqual(['a', 'b']);
    expect(JSON.stringify(s.labels)).toBe('{"a":"x","b":"2"}');
    expect(Object.isFrozen(s.labels)).toBe(true);
  });

  it('counts past the limit into one overflow series, which find() reaches', () => {
    const { m, overflows } = map(['a'], 2);
    m.get({ a: '1' });
    m.get({ a: '2' });
    const o = m.get({ a: '3' });
    expect(m.get({ a: '4' })).toBe(o);
    expect(o.labels).toEqual({ a: '__overflow__' });
    expect(m.find({ a: '__overflow__' })).toBe(o);
    expect(overflows()).toBe(2);
    expect(m.size).toBe(2);
    m.clear();
    expect(m.all()).toEqual([]);
  });
});
