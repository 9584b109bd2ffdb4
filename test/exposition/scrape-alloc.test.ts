/**
 * What a /metrics scrape allocates per histogram series beyond the text it writes, counted in bytes
 * of heap, not timed: each chunk of `renderChunks` is pulled right after a scavenge, so the young
 * generation's growth over the pull is what that chunk allocated (a chunk allocates well under the
 * young generation's size, so no collection falls inside a pull and hides allocation). The chunk's
 * text is subtracted; the rest is the string pieces the lines are built from and what the walk adds.
 */
import { describe, expect, it } from 'vitest';
import { renderChunks } from '../../src/exposition/exposition-chunks.js';
import { prometheusTextFormat } from '../../src/exposition/prometheus-text.js';
import { gc, youngBytes } from '../heap-fixture.js';
import { newRegistry } from '../metrics/table-fixture.js';

/**
 * Heap bytes a scrape may allocate per histogram series (one label, one bucket: 4 lines) besides
 * its text: the string pieces its lines are concatenated from. Measured on Node 20 at 747, 753,
 * 782 or 815 depending on the process (V8's optimised render differs between processes: it
 * deoptimises on a Smi check at different points), so ~35 bytes above the highest. The walk did make a handle and a counts view per series
 * (~175 bytes), which goes over it in every case; a label object (~96) goes over it from 782 up.
 */
export const BYTES_PER_HISTOGRAM_SERIES_BUDGET = 850;
/**
 * The same for a counter's or gauge's series (one line): measured 220 in every process; a handle
 * per series adds ~52, over it.
 */
export const BYTES_PER_SCALAR_SERIES_BUDGET = 245;

const SERIES = 3_000;
const SCRAPES = 6;

/** One scrape: bytes allocated, text length and lines summed over its chunks, each pulled after a scavenge. */
function measuredScrape(registry: ReturnType<typeof newRegistry>['registry']): {
  allocated: number;
  text: number;
  lines: number;
} {
  let allocated = 0;
  let text = 0;
  let lines = 0;
  const chunks = renderChunks(registry, prometheusTextFormat);
  for (;;) {
    gc({ type: 'minor' });
    const before = youngBytes();
    const step = chunks.next();
    allocated += youngBytes() - before;
    if (step.done === true) break;
    text += step.value.length;
    for (let i = step.value.indexOf('\n'); i !== -1; i = step.value.indexOf('\n', i + 1)) lines++;
  }
  return { allocated, text, lines };
}

/** The registry under test: `SERIES` series of one metric of `kind`, one label, histograms with one bucket (4 lines a series). */
function registryOf(kind: 'histogram' | 'counter' | 'gauge') {
  const { registry } = newRegistry(SERIES + 10);
  if (kind === 'histogram') {
    const h = registry.histogram('latency', { labels: ['id'], buckets: [100] });
    for (let i = 0; i < SERIES; i++)
      for (let k = 0; k <= i % 3; k++) h.observe({ id: String(i) }, (i * 31 + k * 97) % 200);
  } else if (kind === 'counter') {
    const c = registry.counter('jobs', { labels: ['id'] });
    for (let i = 0; i < SERIES; i++) c.inc({ id: String(i) }, i % 7);
  } else {
    const g = registry.gauge('depth', { labels: ['id'] });
    for (let i = 0; i < SERIES; i++) g.set({ id: String(i) }, (i % 9) - 3);
  }
  return registry;
}

describe('scrape allocation per series', () => {
  it.each([
    ['histogram', 4, BYTES_PER_HISTOGRAM_SERIES_BUDGET],
    ['counter', 1, BYTES_PER_SCALAR_SERIES_BUDGET],
    ['gauge', 1, BYTES_PER_SCALAR_SERIES_BUDGET],
  ] as const)(
    `a scrape of ${SERIES} %s series allocates at most its budget per series beyond the text`,
    async (kind, linesPerSeries, budget) => {
      const registry = registryOf(kind);
      // Warm-up: the render's code optimised (V8 does it on a background thread a loaded machine can hold back).
      for (let w = 0; w < 20; w++)
        for (const chunk of renderChunks(registry, prometheusTextFormat)) expect(chunk).toBeTypeOf('string');
      let least = Infinity;
      for (let s = 0; s < SCRAPES; s++) {
        await new Promise((r) => setTimeout(r, 5));
        const { allocated, text, lines } = measuredScrape(registry);
        // Every series was rendered, under the family's HELP and TYPE lines.
        expect(lines).toBe(2 + SERIES * linesPerSeries);
        least = Math.min(least, (allocated - text) / SERIES);
      }
      console.info(`scrape of ${SERIES} ${kind} series: ${least.toFixed(1)} B/series beyond the text`);
      expect(least).toBeLessThanOrEqual(budget);
    },
  );
});
