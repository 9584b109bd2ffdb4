/**
 * `Metric.walk`: a resumable walk by slot. Walked in chunks, with series created between two
 * chunks and the overflow series among them, it visits every series exactly once, in the order of
 * `series()` (creation order, the overflow series last); the by-slot readers (`labelsAt`,
 * `labelPairsAt`, `keyAt`, `seriesAt`, a counter's `table`) agree with the series handles.
 */
import { describe, expect, it } from 'vitest';
import { WALK_DONE } from '../../src/metrics/label-map.js';
import { formatLabelPairs } from '../../src/metrics/metric.js';
import { newRegistry } from './table-fixture.js';

/** Walks `metric` in chunks of `chunk`, calling `between` between two chunks; returns the slots visited. */
function walkAll(
  metric: { walk(from: number, max: number, visit: (slot: number) => void): number },
  chunk: number,
  between: (round: number) => void = () => {},
): number[] {
  const visited: number[] = [];
  let pos = 0;
  let round = 0;
  while (pos !== WALK_DONE) {
    const before = visited.length;
    pos = metric.walk(pos, chunk, (slot) => visited.push(slot));
    expect(visited.length - before).toBeLessThanOrEqual(chunk);
    if (pos !== WALK_DONE) between(round++);
    expect(visited.length).toBeLessThan(1_000_000); // bounded: a walk that never ends fails here
  }
  return visited;
}

describe('Metric.walk', () => {
  it('visits every series once in creation order, resumed across calls, series created between chunks', () => {
    const { registry } = newRegistry(50_000);
    const c = registry.counter('walk_total', { labels: ['id'] });
    for (let i = 0; i < 5_000; i++) c.inc({ id: `a${i}` }, i);
    let created = 0;
    const visited = walkAll(c, 777, (round) => {
      // New series between chunks, including in the last round's chunk range.
      if (round < 12) for (let i = 0; i < 300; i++) c.inc({ id: `b${created++}` });
    });
    const keys = visited.map((slot) => c.keyAt(slot));
    expect(new Set(visited).size).toBe(visited.length);
    expect(visited).toHaveLength(5_000 + created);
    expect(keys).toEqual(c.series().map((s) => s.key));
    expect(c.keyAt(visited[5_000]!)).toBe('walk_total{id="b0"}');
  });

  it('visits the overflow series once and last, also when it appears mid-walk', () => {
    const { registry } = newRegistry(100);
    const g = registry.gauge('walk_gauge', { labels: ['id'] });
    for (let i = 0; i < 60; i++) g.set({ id: String(i) }, i);
    const visited = walkAll(g, 7, (round) => {
      if (round === 2) for (let i = 60; i < 130; i++) g.set({ id: String(i) }, i); // 40 fit, the rest overflow
    });
    expect(visited).toHaveLength(101);
    expect(new Set(visited).size).toBe(101);
    expect(g.labelsAt(visited.at(-1)!)).toEqual({ id: '__overflow__' });
    expect(visited.map((slot) => g.keyAt(slot))).toEqual(g.series().map((s) => s.key));
  });

  it('ends at once for a metric without series, and chunk sizes that divide the count exactly still end', () => {
    const { registry } = newRegistry();
    const c = registry.counter('empty_total', { labels: ['id'] });
    expect(c.walk(0, 10, () => expect.unreachable())).toBe(WALK_DONE);
    for (let i = 0; i < 20; i++) c.inc({ id: String(i) });
    expect(walkAll(c, 10)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(walkAll(c, 1)).toHaveLength(20);
  });

  it('reads by slot what the handles read: labels, escaped label pairs, key, value', () => {
    const { registry } = newRegistry();
    const c = registry.counter('reads_total', { labels: ['path', 'code'] });
    c.inc({ path: 'a"b\\c\nd', code: 200 }, 3);
    c.inc({ path: '/x', code: '404' }, 5);
    const series = c.series();
    c.walk(0, Infinity, (slot) => {
      const s = series[slot]!;
      expect(c.labelsAt(slot)).toEqual(s.labels);
      expect(c.labelPairsAt(slot)).toBe(formatLabelPairs(s.labels));
      expect(c.keyAt(slot)).toBe(s.key);
      expect(c.table.values.get(slot)).toBe(s.value);
      expect(c.seriesAt(slot).value).toBe(s.value);
    });
    expect(c.labelPairsAt(0)).toBe('path="a\\"b\\\\c\\nd",code="200"');
  });
});
