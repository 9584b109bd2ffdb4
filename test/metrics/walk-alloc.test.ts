/**
 * What reading every series of a metric by slot allocates per series: nothing. `walk(0, Infinity)`
 * did allocate 16 bytes a slot (its countdown from `Infinity` was a double, boxed at each step),
 * and a chart over every series of a metric made a handle per series each tick. Counted in bytes
 * of heap (test/heap-fixture.ts), not timed.
 */
import { describe, expect, it } from 'vitest';
import { LiveReader } from '../../src/server/live-reader.js';
import { leastAllocated } from '../heap-fixture.js';
import { newRegistry } from './table-fixture.js';

const SERIES = 20_000;
/** Bytes per series a whole walk may allocate: its fixed cost (a closure, a few numbers) spread over the series; 16 fails it. */
const BYTES_PER_SERIES_BUDGET = 1;

function registry() {
  const { registry } = newRegistry(SERIES + 10);
  const c = registry.counter('hits', { labels: ['route', 'code'] });
  const h = registry.histogram('lat', { labels: ['route', 'code'] });
  for (let i = 0; i < SERIES; i++) {
    const labels = { route: `/r/${i >> 2}`, code: String(200 + (i & 3)) };
    c.inc(labels, 1 + (i & 1));
    h.observe(labels, i % 50);
  }
  return { registry, c };
}

describe('reading every series by slot', () => {
  it(`walk(0, Infinity) over ${SERIES} series allocates nothing per series`, async () => {
    const { c } = registry();
    const values = c.table.values;
    const total = new Float64Array(1);
    const bytes = await leastAllocated(() => {
      total[0] = 0;
      c.walk(0, Infinity, (slot) => {
        total[0]! += values.get(slot);
      });
    });
    // Every series was read: half of them hold 1, half 2. (A remainder was 0 for a walk that read none.)
    expect(total[0]).toBe(SERIES * 1.5);
    console.info(`walk: ${(bytes / SERIES).toFixed(3)} B/series`);
    expect(bytes / SERIES).toBeLessThanOrEqual(BYTES_PER_SERIES_BUDGET);
  });

  it.each([
    ['a counter summed', { label: 'all', metric: 'hits' }, SERIES * 1.5],
    ['a histogram count', { label: 'n', metric: 'lat', stat: 'count' as const }, SERIES],
    ['a counter by label_prefix', { label: '2xx', metric: 'hits', label_prefix: { code: '20' } }, SERIES * 1.5],
  ])(`the live chart value of %s over ${SERIES} series allocates nothing per series`, async (_name, def, expected) => {
    const reader = new LiveReader(registry().registry);
    let value: number | null = null;
    const bytes = await leastAllocated(() => {
      value = reader.value(def, 0);
    });
    expect(value).toBe(expected);
    console.info(`LiveReader.value, ${_name}: ${(bytes / SERIES).toFixed(3)} B/series`);
    expect(bytes / SERIES).toBeLessThanOrEqual(BYTES_PER_SERIES_BUDGET);
  });
});
