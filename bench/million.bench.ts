/**
 * A million series in one process: runs bench/million-process.ts in a fresh Node process (so the
 * RSS is that tree's own) with 1,000,000 counter series (100,000 with `--quick`) in one metric,
 * the tree on its shipped configs with `series_limit` raised to the count, and reports each step:
 * creating the series, the first `flush` call (which defines new series for at most 1 s, see
 * table-store.ts), the flushes it takes to define them all, one flush call with every series
 * changed (one write budget) and the calls until all of that change is durable, one scrape of /metrics plain and gzip (streamed, read by a separate process), one /api/history query
 * of one series, one /api/series page, and `stop()` with every series changed again. For each: wall time, the longest event-loop
 * block (wall clock and process CPU time: on a shared machine the wall-clock gap includes time the
 * OS gave to others) and RSS. Opt-in: it takes minutes.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { SuiteOptions, SuiteResult } from './harness.js';
import type { MillionFigures, StepFigures } from './million-process.js';

/** The child's own bound: it is killed past this. */
const CHILD_TIMEOUT_MS = 20 * 60_000;

function runChild(series: number): Promise<MillionFigures> {
  const script = fileURLToPath(new URL('./million-process.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', script, String(series)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      timeout: CHILD_TIMEOUT_MS,
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (status, signal) => {
      if (status !== 0) {
        reject(new Error(`million-process exited with ${status ?? signal}`));
        return;
      }
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1)!) as MillionFigures);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

function row(name: string, f: StepFigures, extra = ''): string {
  return `| ${name} | ${f.ms} (CPU ${f.cpuMs}, main ${f.mainCpuMs}) | ${f.blockMs} | ${f.blockCpuMs} (${f.blockMainCpuMs}) | ${f.rssMiB} (peak ${f.peakRssMiB}) | ${f.allocMiB} / ${f.gcs} | ${extra} |`;
}

export async function millionSuite(options: SuiteOptions): Promise<SuiteResult> {
  const series = options.quick ? 100_000 : 1_000_000;
  const f = await runChild(series);
  const table = [
    `| ${series.toLocaleString('en')} series | ms (process CPU, main thread's ms) | longest block, wall ms | longest block, CPU ms (main thread) | RSS MiB | heap allocated MiB / GCs | notes |`,
    '|---|---:|---:|---:|---:|---:|---|',
    row(
      'create (inc each, yield every 1,000)',
      f.create,
      `RSS after GC ${f.rssAfterCreateMiB} MiB, heap ${f.heapAfterCreateMiB} MiB`,
    ),
    row(
      'first flush call',
      f.firstFlush,
      f.firstFlush.error ?? `${f.firstFlush.series} written, ${f.firstFlush.deferred} left to define`,
    ),
    row(
      'flushes until all defined',
      f.definingFlushes,
      `${f.definingFlushes.calls} calls, ${f.definingFlushes.timeouts} past the 5 s call timeout, slowest ${f.definingFlushes.slowestMs} ms`,
    ),
    row(
      'flush call, every series changed',
      f.flush,
      `${f.flush.error ?? `${f.flush.written} written, ${f.flush.pending} pending; store's longest block ${f.flush.storeLongestBlockMs} ms`}; reply ${f.flush.replyMs} ms, durable ${f.flush.durableMs} ms`,
    ),
    row(
      'flush calls until all of it is durable',
      f.flushAll,
      `${f.flushAll.calls} calls, slowest ${f.flushAll.slowestMs} ms, ${f.flushAll.left} left`,
    ),
    row('scrape /metrics (streamed)', f.scrape, `${f.scrape.bytes} bytes`),
    row('scrape /metrics gzip (streamed)', f.scrapeGzip, `${f.scrapeGzip.bytes} bytes`),
    row('/api/history, one series', f.history),
    row('/api/series, one page of 100', f.seriesPage),
    row('stop(), every series changed', f.stop, 'its last flush writes them all, budget after budget'),
  ].join('\n');
  return { suite: `A million series (${series.toLocaleString('en')})`, rows: [], notes: [], table, figures: f };
}
