/**
 * The million-series process that bench/million.bench.ts runs (in its own Node process, so its RSS
 * is its own): the tree with its shipped configs (series_limit raised to the series count, the
 * dashboard on a free port), then, one step at a time and each under a block probe:
 * creating the series, one `flush` call, one scrape of /metrics (plain and gzip, read by a separate
 * client process so the client's work is not this loop's), one /api/history query, one page of
 * /api/series, and `stop()`. Prints one JSON line of figures.
 *
 * Usage: node --expose-gc dist/bench/million-process.js <series>
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import v8 from 'node:v8';
import { type Monitor, startMonitoring } from '../src/index.js';
import { createLogger } from '../src/logger.js';
import { startBlockProbe } from './harness.js';
import { mainThreadCpuMs } from './main-thread-cpu.js';

export interface StepFigures {
  ms: number;
  /** Longest event-loop block while the step ran (setImmediate gap probe, wall clock), ms. */
  blockMs: number;
  /** The same gap in process CPU time (the block's own cost, without the OS's preemption on a shared machine), ms. */
  blockCpuMs: number;
  /**
   * The same gap in the main thread's own CPU time (Linux: /proc/self/task/<pid>/schedstat), ms:
   * neither the neighbours' load nor the writer thread's or GC helpers' CPU. NaN where unavailable.
   */
  blockMainCpuMs: number;
  /** monitorEventLoopDelay's max over the step (10 ms resolution), ms. */
  delayMaxMs: number;
  rssMiB: number;
  /** Largest RSS sampled (every 10 ms) during the step, MiB. */
  peakRssMiB: number;
  bytes?: number;
  /** Heap allocated during the step (used heap growth between and across GCs, v8.GCProfiler), MiB: the churn. */
  allocMiB: number;
  /** Garbage collections during the step. */
  gcs: number;
  /** CPU time of the whole process (every thread) during the step, ms: what the step costs without the neighbours' load. */
  cpuMs: number;
  /** The main thread's share of `cpuMs` (the rest: the store's writer thread, GC helpers, zlib), ms. */
  mainCpuMs: number;
}

export interface MillionFigures {
  series: number;
  create: StepFigures;
  rssAfterCreateMiB: number;
  heapAfterCreateMiB: number;
  firstFlush: StepFigures & { series: number; deferred: number; error?: string };
  definingFlushes: StepFigures & { calls: number; timeouts: number; slowestMs: number; left: number };
  flush: StepFigures & {
    storeLongestBlockMs?: number;
    error?: string;
    /** From the call until its reply (or its call timeout), ms. */
    replyMs: number;
    /** From the call until the flush was durable (the collector's `lastFlush` changed), ms. */
    durableMs: number;
    /** The collector's own summary of that flush (`stats().lastFlush`): main-thread ms, longest block, total. */
    summary?: { mainThreadMs: number; longestBlockMs: number; totalMs: number };
    /** Series the call wrote and left pending (its write budget). */
    written?: number;
    pending?: number;
  };
  /** `flush` calls until every changed series was durable (the first call's included), from the first call. */
  flushAll: StepFigures & { calls: number; slowestMs: number; left: number };
  scrape: StepFigures;
  scrapeGzip: StepFigures;
  history: StepFigures;
  seriesPage: StepFigures;
  /** `stop()` with every series changed again: its last flush writes them all. */
  stop: StepFigures;
}

/** Bound on the flushes the bench makes to define every series. */
const MAX_DEFINING_FLUSHES = 200;

const mib = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;

/** The longest gap between two event-loop turns in main-thread CPU time (see `blockMainCpuMs`). */
function startMainCpuProbe(): { stop(): number } {
  let last = mainThreadCpuMs();
  let longest = 0;
  let running = true;
  const tick = (): void => {
    const now = mainThreadCpuMs();
    longest = Math.max(longest, now - last);
    last = now;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      running = false;
      return Math.max(longest, mainThreadCpuMs() - last);
    },
  };
}

async function step<T>(run: () => Promise<T>): Promise<{ value: T; figures: StepFigures }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  let peak = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  const probe = startBlockProbe();
  const mainProbe = startMainCpuProbe();
  const gc = new v8.GCProfiler();
  const heapStart = v8.getHeapStatistics().used_heap_size;
  gc.start();
  const cpu = process.cpuUsage();
  const mainCpu = mainThreadCpuMs();
  const start = performance.now();
  const value = await run();
  const ms = performance.now() - start;
  const cpuUsed = process.cpuUsage(cpu);
  const heapEnd = v8.getHeapStatistics().used_heap_size;
  const gcs = gc.stop()?.statistics ?? [];
  let allocated = 0;
  let after = heapStart;
  for (const g of gcs) {
    allocated += Math.max(0, g.beforeGC.heapStatistics.usedHeapSize - after);
    after = g.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += Math.max(0, heapEnd - after);
  const block = probe.stop();
  const mainBlock = mainProbe.stop();
  clearInterval(sampler);
  h.disable();
  const rss = process.memoryUsage.rss();
  return {
    value,
    figures: {
      ms: Math.round(ms),
      blockMs: Math.round(block.wallMs * 10) / 10,
      blockCpuMs: Math.round(block.cpuMs * 10) / 10,
      blockMainCpuMs: Math.round(mainBlock * 10) / 10,
      delayMaxMs: Math.round(h.max / 1e5) / 10,
      rssMiB: mib(rss),
      peakRssMiB: mib(Math.max(peak, rss)),
      allocMiB: mib(allocated),
      gcs: gcs.length,
      cpuMs: Math.round((cpuUsed.user + cpuUsed.system) / 1000),
      mainCpuMs: Math.round(mainThreadCpuMs() - mainCpu),
    },
  };
}

/** Fetches `url` in another Node process, reading the whole body; resolves with its byte count. */
function fetchElsewhere(url: string, gzip: boolean): Promise<number> {
  const code = `
    const http = require('node:http');
    http.get(process.argv[1], { headers: ${gzip ? "{ 'accept-encoding': 'gzip' }" : '{}'} }, (res) => {
      let n = 0;
      res.on('data', (c) => { n += c.length; });
      res.on('end', () => { process.stdout.write(String(res.statusCode === 200 ? n : -res.statusCode)); });
    }).on('error', (e) => { console.error(e.message); process.exit(1); });`;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', code, url], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('exit', (status) =>
      status === 0 && Number(out) > 0
        ? resolve(Number(out))
        : reject(new Error(`fetch ${url}: exit ${status}, ${out}`)),
    );
  });
}

type LastFlush = { at: number; mainThreadMs: number; longestBlockMs: number; totalMs: number } | undefined;

/** Waits until the collector answers a call again (a flush that outran its call timeout still runs); its last flush. */
async function idle(mon: Monitor): Promise<LastFlush> {
  for (let i = 0; i < 60; i++) {
    try {
      return ((await mon.collector.call({ type: 'stats' })) as { lastFlush?: LastFlush }).lastFlush;
    } catch {
      // still busy: the next call queues behind it
    }
  }
  throw new Error('the collector did not answer for 60 call timeouts');
}

async function getJson(url: string): Promise<unknown> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

export async function runMillion(series: number): Promise<MillionFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'million-'));
  try {
    const mon = await startMonitoring({
      dataDir,
      logger: createLogger({ level: 'error' }),
      config: { monitoring: { series_limit: series }, dashboard: { port: 0 } },
    });
    const counter = mon.metrics.counter('bench.million', { help: 'one counter series per id', labels: ['id'] });
    const create = await step(async () => {
      for (let i = 0; i < series; i++) {
        counter.inc({ id: String(i) });
        if (i % 1_000 === 999) await yieldToLoop();
      }
    });
    globalThis.gc?.();
    const rssAfterCreate = process.memoryUsage.rss();
    const heapAfterCreate = process.memoryUsage().heapUsed;
    const flushOnce = () =>
      mon.collector.call({ type: 'flush' }).catch((err: unknown) => ({
        longestBlockMs: NaN,
        deferred: NaN,
        pending: NaN,
        series: NaN,
        error: String(err),
      }));
    // The first flushes define the new series, a time budget each (table-store.ts): call until none is left.
    const first = await step(flushOnce);
    const defining = await step(async () => {
      let calls = 1;
      let timeouts = 'error' in first.value ? 1 : 0;
      let left = 'error' in first.value ? Infinity : first.value.deferred + first.value.pending;
      let slowest = first.figures.ms;
      while (left > 0 && calls < MAX_DEFINING_FLUSHES) {
        const t = performance.now();
        const last = await flushOnce();
        slowest = Math.max(slowest, performance.now() - t);
        calls++;
        if ('error' in last) timeouts++;
        else left = last.deferred + last.pending;
      }
      return { calls, timeouts, slowestMs: Math.round(slowest), left };
    });
    await idle(mon);
    for (let i = 0; i < series; i++) {
      counter.inc({ id: String(i) });
      if (i % 1_000 === 999) await yieldToLoop();
    }
    const before = (await idle(mon))?.at;
    let durableMs = NaN;
    let replyMs = NaN;
    let summary: { mainThreadMs: number; longestBlockMs: number; totalMs: number } | undefined;
    const flush = await step(async () => {
      const t = performance.now();
      const reply = await flushOnce();
      replyMs = performance.now() - t;
      // A flush that outran its call timeout still runs: the collector answers again once it is durable.
      const last = await idle(mon);
      if (last !== undefined && last.at !== before) {
        durableMs = performance.now() - t;
        summary = {
          mainThreadMs: Math.round(last.mainThreadMs),
          longestBlockMs: Math.round(last.longestBlockMs * 10) / 10,
          totalMs: Math.round(last.totalMs),
        };
      }
      return reply;
    });
    // The rest of that change, one budget per call.
    const all = await step(async () => {
      let calls = 0;
      let slowest = 0;
      let left = 'error' in flush.value ? Infinity : flush.value.pending + flush.value.deferred;
      while (left > 0 && calls < MAX_DEFINING_FLUSHES) {
        const t = performance.now();
        const last = await flushOnce();
        slowest = Math.max(slowest, performance.now() - t);
        calls++;
        if (!('error' in last)) left = last.deferred + last.pending;
      }
      return { calls, slowestMs: Math.round(slowest), left };
    });
    const { url } = await mon.dashboardAddress();
    globalThis.gc?.();
    const scrape = await step(() => fetchElsewhere(`${url}/metrics`, false));
    globalThis.gc?.();
    const scrapeGzip = await step(() => fetchElsewhere(`${url}/metrics`, true));
    const history = await step(() =>
      getJson(
        `${url}/api/history?metric=bench.million&labels=${encodeURIComponent(JSON.stringify({ id: String(series - 1) }))}`,
      ),
    );
    const seriesPage = await step(() =>
      getJson(`${url}/api/series?metric=bench.million&limit=100`).catch((err: unknown) => String(err)),
    );
    for (let i = 0; i < series; i++) {
      counter.inc({ id: String(i) });
      if (i % 1_000 === 999) await yieldToLoop();
    }
    const stop = await step(() => mon.stop());
    return {
      series,
      create: create.figures,
      rssAfterCreateMiB: mib(rssAfterCreate),
      heapAfterCreateMiB: mib(heapAfterCreate),
      firstFlush: {
        ...first.figures,
        series: first.value.series,
        deferred: first.value.deferred,
        ...('error' in first.value ? { error: first.value.error } : {}),
      },
      definingFlushes: { ...defining.figures, ...defining.value },
      flush: {
        ...flush.figures,
        storeLongestBlockMs: Math.round(flush.value.longestBlockMs * 10) / 10,
        replyMs: Math.round(replyMs),
        durableMs: Math.round(durableMs),
        ...(summary === undefined ? {} : { summary }),
        ...('error' in flush.value
          ? { error: flush.value.error }
          : { written: flush.value.series, pending: flush.value.pending }),
      },
      flushAll: {
        ...all.figures,
        calls: all.value.calls + 1,
        ms: all.figures.ms + flush.figures.ms,
        slowestMs: Math.max(all.value.slowestMs, Math.round(replyMs)),
        left: all.value.left,
      },
      scrape: { ...scrape.figures, bytes: scrape.value },
      scrapeGzip: { ...scrapeGzip.figures, bytes: scrapeGzip.value },
      history: history.figures,
      seriesPage: seriesPage.figures,
      stop: stop.figures,
    };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (/million-process\.[jt]s$/.test(process.argv[1] ?? '')) {
  const n = Number(process.argv[2] ?? 1_000_000);
  runMillion(n).then(
    (f) => {
      console.log(JSON.stringify(f));
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
