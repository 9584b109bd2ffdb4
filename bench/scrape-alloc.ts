/**
 * `node --expose-gc dist/bench/scrape-alloc.js [--series N] [--counters]`: heap bytes one /metrics
 * scrape allocates per histogram series (3 labels, 10 buckets; or counter series), next to the text it writes, and its time.
 * Each chunk of `renderChunks` is pulled right after a scavenge, and the young generation's growth
 * over the pull is that chunk's allocation (a chunk allocates < 1 MB, so no collection falls inside).
 * Timing: whole renders (median of 5 after 2 warm-ups) and the longest chunk.
 */
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { renderChunks } from '../src/exposition/exposition-chunks.js';
import { prometheusTextFormat } from '../src/exposition/prometheus-text.js';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import { median } from './harness.js';

const arg = process.argv.indexOf('--series');
const SERIES = arg === -1 ? 100_000 : Number(process.argv[arg + 1]);
const BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE'];

const gc = (globalThis as { gc?: (o?: { type: string }) => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function youngBytes(): number {
  let n = 0;
  for (const s of v8.getHeapSpaceStatistics())
    if (s.space_name === 'new_space' || s.space_name === 'new_large_object_space') n += s.space_used_size;
  return n;
}

const registry = new Registry({ seriesLimit: SERIES + 10, logger: createLogger({ level: 'silent' }) });
const KIND = process.argv.includes('--counters') ? 'counter' : 'histogram';
const labelsOf = (i: number) => ({
  route: `/api/v1/resource/${i >> 2}`,
  method: METHODS[i & 3]!,
  code: String(200 + (i % 5)),
});
if (KIND === 'histogram') {
  const h = registry.histogram('http.latency', {
    help: 'latency',
    labels: ['route', 'method', 'code'],
    buckets: BUCKETS,
  });
  for (let i = 0; i < SERIES; i++) for (let k = 0; k <= i % 3; k++) h.observe(labelsOf(i), (i * 31 + k * 977) % 1200);
} else {
  const c = registry.counter('http.requests', { help: 'requests', labels: ['route', 'method', 'code'] });
  for (let i = 0; i < SERIES; i++) c.inc(labelsOf(i), 1 + (i % 1000));
}

let warmText = 0;
for (let w = 0; w < 2; w++) for (const chunk of renderChunks(registry, prometheusTextFormat)) warmText += chunk.length;
const times: number[] = [];
let longest = 0;
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  const it = renderChunks(registry, prometheusTextFormat);
  for (;;) {
    const c0 = performance.now();
    const step = it.next();
    longest = Math.max(longest, performance.now() - c0);
    if (step.done === true) break;
  }
  times.push(performance.now() - t0);
}
let allocated = 0;
let textBytes = 0;
const it = renderChunks(registry, prometheusTextFormat);
for (;;) {
  gc({ type: 'minor' });
  const before = youngBytes();
  const step = it.next();
  allocated += youngBytes() - before;
  if (step.done === true) break;
  textBytes += step.value.length;
}
console.log(
  JSON.stringify({
    kind: KIND,
    series: SERIES,
    bytesPerSeries: +(allocated / SERIES).toFixed(1),
    textBytesPerSeries: +(textBytes / SERIES).toFixed(1),
    overheadPerSeries: +((allocated - textBytes) / SERIES).toFixed(1),
    scrapeMsMedian: +median(times).toFixed(1),
    longestChunkMs: +longest.toFixed(2),
    warmUpText: warmText,
  }),
);
