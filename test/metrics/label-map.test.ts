import { describe, expect, it } from 'vitest';
import { LabelMap, NO_SLOT } from '../../src/metrics/label-map.js';

function map(names: string[], limit = 100) {
  let overflows = 0;
  const created: number[] = [];
  const m = new LabelMap(
    'm',
    names,
    (slot) => created.push(slot),
    limit,
    () => overflows++,
  );
  const all = () => {
    const slots: number[] = [];
    m.forEachSlot((s) => slots.push(s));
    return slots;
  };
  return { m, overflows: () => overflows, created, all };
}

describe('LabelMap', () => {
  it('finds each of many label sets that share prefixes, at every depth', () => {
    const { m, all } = map(['a', 'b', 'c']);
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
    expect(all().map((s) => Object.values(m.labelsOf(s)).join(''))).toEqual(['xy1', 'xy2', 'xz1', 'wy1', 'xy3']);
  });

  it('does not mistake a label set whose values all exist for another label set', () => {
    const { m } = map(['a', 'b']);
    const first = m.get({ a: 'x', b: '1' });
    m.get({ a: 'y', b: '2' });
    // Every value of { x, 2 } is interned, but no series has that combination.
    expect(m.find({ a: 'x', b: '2' })).toBe(NO_SLOT);
    const second = m.get({ a: 'x', b: '2' });
    expect(second).not.toBe(first);
    expect(m.get({ a: 'x', b: '1' })).toBe(first);
  });

  it('gives label objects with exactly the label names, frozen', () => {
    const { m } = map(['a', 'b']);
    const labels = m.labelsOf(m.get({ b: 2, a: 'x' }));
    expect(Object.keys(labels)).toEqual(['a', 'b']);
    expect(JSON.stringify(labels)).toBe('{"a":"x","b":"2"}');
    expect(Object.isFrozen(labels)).toBe(true);
  });

  it('counts past the limit into one overflow series, which find() reaches, listed last', () => {
    const { m, overflows, all } = map(['a'], 2);
    const one = m.get({ a: '1' });
    const two = m.get({ a: '2' });
    const o = m.get({ a: '3' });
    expect(m.get({ a: '4' })).toBe(o);
    expect([one, two]).not.toContain(o);
    expect(m.labelsOf(o)).toEqual({ a: '__overflow__' });
    expect(m.find({ a: '__overflow__' })).toBe(o);
    expect(m.find({ a: '3' })).toBe(NO_SLOT);
    expect(overflows()).toBe(2);
    expect(m.size).toBe(2);
    expect(all()).toEqual([one, two, o]);
  });

  it('creates nothing when the create callback refuses the label set', () => {
    let refuse = true;
    const m = new LabelMap(
      'm',
      ['a'],
      () => {
        if (refuse) throw new Error('no');
      },
      10,
      () => {},
    );
    expect(() => m.get({ a: 'x' })).toThrow('no');
    expect(m.size).toBe(0);
    expect(m.find({ a: 'x' })).toBe(NO_SLOT);
    refuse = false;
    expect(m.get({ a: 'x' })).toBe(0);
  });

  it('keeps 200,000 label sets over three labels apart, with values shared between them', () => {
    const { m, created } = map(['route', 'method', 'status'], 1_000_000);
    const methods = ['GET', 'POST', 'PUT', 'DELETE'];
    const statuses = ['200', '201', '204', '301', '400', '404', '409', '429', '500', '503'];
    const labelsAt = (i: number) => ({
      route: `/api/r${Math.floor(i / 40)}`,
      method: methods[i % 4]!,
      status: statuses[Math.floor(i / 4) % 10]!,
    });
    const n = 200_000;
    for (let i = 0; i < n; i++) expect(m.get(labelsAt(i))).toBe(i);
    expect(created.length).toBe(n);
    expect(m.size).toBe(n);
    for (let i = 0; i < n; i += 997) {
      expect(m.find(labelsAt(i))).toBe(i);
      expect(m.labelsOf(i)).toEqual(labelsAt(i));
    }
    expect(m.find({ route: '/api/r0', method: 'PATCH', status: '200' })).toBe(NO_SLOT);
    expect(m.get({ route: '/api/r0', method: 'PATCH', status: '200' })).toBe(n);
  });
});
