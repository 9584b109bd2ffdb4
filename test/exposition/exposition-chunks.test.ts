import { describe, expect, it } from 'vitest';
import { MAX_SAMPLES_PER_CHUNK, renderChunks } from '../../src/exposition/exposition-chunks.js';
import { openMetricsFormat, renderOpenMetrics } from '../../src/exposition/openmetrics-text.js';
import { prometheusTextFormat, renderPrometheusText } from '../../src/exposition/prometheus-text.js';
import { Registry } from '../../src/metrics/registry.js';
import { memoryLogger } from '../helpers.js';

/** 10,000 counter series and 1,000 histogram series (7 buckets: 10 samples each). */
function bigRegistry(): Registry {
  const registry = new Registry({ logger: memoryLogger(), seriesLimit: 20_000 });
  const c = registry.counter('requests.total', { labels: ['route'] });
  for (let i = 0; i < 10_000; i++) c.inc({ route: `/r/${i}` }, i);
  const h = registry.histogram('response_time', { unit: 'ms', labels: ['route'] });
  for (let i = 0; i < 1_000; i++) h.observe({ route: `/r/${i}` }, i % 700);
  return registry;
}

function sampleLines(chunk: string): number {
  return chunk.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
}

describe('renderChunks', () => {
  it('cuts 10k counters and 1k histograms into chunks of at most 1,000 samples, never splitting a series', () => {
    const registry = bigRegistry();
    const chunks = [...renderChunks(registry, prometheusTextFormat)];
    const sizes = chunks.map(sampleLines);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(MAX_SAMPLES_PER_CHUNK);
    // The registry's own dropped-series counter has no series, so it adds no sample.
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(10_000 + 1_000 * 10);
    // 10,000 counter samples → 10 full chunks; 10,000 histogram samples → 10 chunks of 100 series.
    expect(chunks.length).toBe(20);
    for (const chunk of chunks.slice(10)) {
      // Each histogram chunk starts at a series' first bucket and ends with its _count.
      const lines = chunk.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      expect(lines[0]).toMatch(/^response_time_seconds_bucket\{route="[^"]+",le="0.01"\}/);
      expect(lines.at(-1)).toMatch(/^response_time_seconds_count\{/);
    }
  });

  it('puts a series with more samples than a chunk holds alone in its chunk, the overflow series last, text unchanged', async () => {
    const registry = new Registry({ logger: memoryLogger(), seriesLimit: 3 });
    const h = registry.histogram('lat', { labels: ['r'], buckets: [1, 5, 10] }); // 6 samples a series
    for (let i = 0; i < 5; i++) h.observe({ r: `/r${i}` }, i); // 3 series, then the overflow series
    const c = registry.counter('hits', { labels: ['r'] });
    for (let i = 0; i < 5; i++) c.inc({ r: `/r${i}` });
    const chunks = [...renderChunks(registry, prometheusTextFormat, 4)];
    const histogramChunks = chunks.filter((chunk) => chunk.includes('lat_bucket'));
    expect(histogramChunks.map(sampleLines)).toEqual([6, 6, 6, 6]);
    expect(histogramChunks.at(-1)).toContain('r="__overflow__"');
    expect(chunks.join('')).toBe(await renderPrometheusText(registry));
    const hits = chunks
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('hits'));
    expect(hits.map((l) => l.split(' ')[0])).toEqual([
      'hits_total{r="/r0"}',
      'hits_total{r="/r1"}',
      'hits_total{r="/r2"}',
      'hits_total{r="__overflow__"}',
    ]);
  });

  it('yields to the event loop between every two chunks when rendering', async () => {
    const registry = bigRegistry();
    let turns = 0;
    let stop = false;
    const spin = (): void => {
      if (stop) return;
      turns++;
      setImmediate(spin);
    };
    setImmediate(spin);
    const text = await renderPrometheusText(registry);
    stop = true;
    // 20 chunks → 19 yields; the spinning immediate gets a turn at each.
    expect(turns).toBeGreaterThanOrEqual(19);
    expect(sampleLines(text)).toBe(20_000);
  });

  it('renders the same samples in both formats, OpenMetrics ending in # EOF', async () => {
    const registry = bigRegistry();
    const text = await renderPrometheusText(registry);
    const om = await renderOpenMetrics(registry);
    const samples = (s: string) => s.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
    expect(samples(om)).toEqual(samples(text));
    expect(om.endsWith('\n# EOF\n')).toBe(true);
    expect([...renderChunks(registry, openMetricsFormat)].at(-1)!.endsWith('# EOF\n')).toBe(true);
  });

  it('converts ms histograms to seconds: bucket bounds and sum scaled, counts cumulative with +Inf', async () => {
    const registry = new Registry({ logger: memoryLogger() });
    const h = registry.histogram('response_time', { unit: 'ms', labels: ['route'], buckets: [10, 100] });
    h.observe({ route: 'a"b\\c\nd' }, 5);
    h.observe({ route: 'a"b\\c\nd' }, 50);
    h.observe({ route: 'a"b\\c\nd' }, 500);
    const text = await renderPrometheusText(registry);
    const l = 'route="a\\"b\\\\c\\nd"';
    expect(text).toContain(
      [
        '# HELP response_time_seconds response_time',
        '# TYPE response_time_seconds histogram',
        `response_time_seconds_bucket{${l},le="0.01"} 1`,
        `response_time_seconds_bucket{${l},le="0.1"} 2`,
        `response_time_seconds_bucket{${l},le="+Inf"} 3`,
        `response_time_seconds_sum{${l}} 0.555`,
        `response_time_seconds_count{${l}} 3`,
      ].join('\n'),
    );
  });

  it('escapes HELP text: backslash and newline in both formats, double quote in OpenMetrics', async () => {
    const registry = new Registry({ logger: memoryLogger() });
    registry.gauge('queue.depth', { help: 'say "hi"\\\nbye' }).set(1);
    expect(await renderPrometheusText(registry)).toContain('# HELP queue_depth say "hi"\\\\\\nbye\n');
    expect(await renderOpenMetrics(registry)).toContain('# HELP queue_depth say \\"hi\\"\\\\\\nbye\n');
  });

  it('types counters in OpenMetrics by family name without _total, with UNIT when the name ends in it', async () => {
    const registry = new Registry({ logger: memoryLogger() });
    registry.counter('network.bytes_in', { unit: 'bytes', help: 'in' }).inc(3);
    registry.counter('jobs', { help: 'jobs' }).inc(2);
    const om = await renderOpenMetrics(registry);
    expect(om).toContain(
      '# TYPE network_bytes_in_bytes counter\n# UNIT network_bytes_in_bytes bytes\n# HELP network_bytes_in_bytes in\nnetwork_bytes_in_bytes_total 3\n',
    );
    expect(om).toContain('# TYPE jobs counter\n# HELP jobs jobs\njobs_total 2\n');
  });
});
