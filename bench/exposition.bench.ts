/**
 * /metrics rendering: the longest event-loop block while rendering 10,000 counter series plus
 * 1,000 histogram series (10 samples each), timed chunk by chunk, next to prom-client rendering
 * 10,000 counter series (which it does in one block). Also one remote-write collect of the same
 * table (every series changed): batches built, protobuf-encoded and snappy-compressed.
 */
import { performance } from 'node:perf_hooks';
import client from 'prom-client';
import { renderChunks } from '../src/exposition/exposition-chunks.js';
import { openMetricsFormat } from '../src/exposition/openmetrics-text.js';
import { prometheusTextFormat } from '../src/exposition/prometheus-text.js';
import { encodeWriteRequest, seriesLabels, writeRequestBody } from '../src/export/remote-write.js';
import { createLogger } from '../src/logger.js';
import { Registry } from '../src/metrics/registry.js';
import type { SuiteResult } from './harness.js';

const ROUNDS = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Longest chunk and whole render (ms, medians over rounds) for one format. */
function chunkTimes(registry: Registry, format: typeof prometheusTextFormat) {
  const longest: number[] = [];
  const totals: number[] = [];
  let chunks = 0;
  for (let r = 0; r < ROUNDS; r++) {
    let max = 0;
    let total = 0;
    chunks = 0;
    const it = renderChunks(registry, format);
    for (;;) {
      const t0 = performance.now();
      const step = it.next();
      const dt = performance.now() - t0;
      if (step.done) break;
      chunks++;
      max = Math.max(max, dt);
      total += dt;
    }
    longest.push(max);
    totals.push(total);
  }
  return { longestMs: median(longest), totalMs: median(totals), chunks };
}

export async function expositionSuite(): Promise<SuiteResult> {
  const registry = new Registry({ seriesLimit: 20_000, logger: createLogger({ level: 'silent' }) });
  const c = registry.counter('requests.total', { labels: ['route'] });
  for (let i = 0; i < 10_000; i++) c.inc({ route: `/r/${i}` }, i);
  const h = registry.histogram('response_time', { unit: 'ms', labels: ['route'] });
  for (let i = 0; i < 1_000; i++) for (let k = 0; k < 20; k++) h.observe({ route: `/r/${i}` }, (i * 7 + k * 13) % 2000);
  const text = chunkTimes(registry, prometheusTextFormat);
  const om = chunkTimes(registry, openMetricsFormat);

  const pc = new client.Registry();
  const pcc = new client.Counter({ name: 'requests_total', help: 'r', labelNames: ['route'], registers: [pc] });
  for (let i = 0; i < 10_000; i++) pcc.inc({ route: `/r/${i}` }, i);
  const pcTimes: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    await pc.metrics();
    pcTimes.push(performance.now() - t0);
  }
  // Remote write: one 1,000-sample batch (the default batch size), encoded and compressed.
  const timeseries = Array.from({ length: 1000 }, (_, i) => ({ labels: seriesLabels('requests_total', { job: 'j', instance: 'h', route: `/r/${i}` }), samples: [{ value: i, timestamp: 1_795_000_000_000 }] }));
  const rw: number[] = [];
  let raw = 0;
  let packed = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    const body = writeRequestBody({ timeseries });
    rw.push(performance.now() - t0);
    packed = body.length;
  }
  raw = encodeWriteRequest({ timeseries }).length;
  return {
    suite: 'exposition (10k counter series + 1k histogram series)',
    rows: [],
    notes: [
      `text 0.0.4: ${text.chunks} chunks, longest block ${text.longestMs.toFixed(2)} ms, whole render ${text.totalMs.toFixed(1)} ms (median of ${ROUNDS})`,
      `OpenMetrics: ${om.chunks} chunks, longest block ${om.longestMs.toFixed(2)} ms, whole render ${om.totalMs.toFixed(1)} ms`,
      `prom-client 10k counter series: one block of ${median(pcTimes).toFixed(1)} ms`,
      `remote write: one 1,000-sample batch encoded + snappy in ${median(rw).toFixed(2)} ms (${raw} B protobuf -> ${packed} B)`,
    ],
  };
}
