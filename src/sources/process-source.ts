/**
 * The process as a metric source, all measured: `system.cpu`, `system.memory*`,
 * `system.event_loop.delay{percentile}` (the 20 ms sampling resolution is subtracted, so an idle loop
 * reads ~0) and `.utilization`, `system.processes` (active handles and requests), `system.gc.pause`,
 * and prom-client's default `process_*` / `nodejs_*` families (node-runtime-metrics.ts). A series
 * exists only once it has been measured, so nothing shows "CPU 0 %" for a process never looked at.
 */
import os from 'node:os';
import {
  constants,
  type IntervalHistogram,
  monitorEventLoopDelay,
  performance,
  PerformanceObserver,
} from 'node:perf_hooks';
import type { Gauge } from '../metrics/gauge.js';
import type { Histogram } from '../metrics/histogram.js';
import type { Registry } from '../metrics/registry.js';
import { NodeRuntimeMetrics, type RuntimeReadings } from './node-runtime-metrics.js';
import type { MetricSource } from './source.js';

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
};

/**
 * How often the event-loop delay monitor samples. Each sample is a timer wake-up of the host's
 * loop: at 10 ms that was 100 wake-ups/s and ~9 ms/s of main-thread CPU with the host idle (2/3 of
 * the whole tree's idle cost). A block is still measured to the nanosecond whatever the
 * resolution (a sample spans it); only the number of samples per collection halves.
 */
export const LOOP_DELAY_RESOLUTION_MS = 20;

/** The memory this process may use: the cgroup limit when there is one, else the machine's. */
export function memoryLimit(): number {
  const total = os.totalmem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  return constrained !== undefined && constrained > 0 && constrained < total ? constrained : total;
}

export class ProcessSource implements MetricSource {
  readonly name = 'process';
  readonly #cpu: Gauge;
  readonly #cores: Gauge;
  readonly #rss: Gauge;
  readonly #memPercent: Gauge;
  readonly #heapUsed: Gauge;
  readonly #heapTotal: Gauge;
  readonly #external: Gauge;
  readonly #limit: Gauge;
  readonly #resources: Gauge;
  readonly #loopDelay: Gauge;
  readonly #elu: Gauge;
  readonly #gc: Histogram;
  readonly #runtime: NodeRuntimeMetrics;
  readonly #parallelism = os.availableParallelism();
  #delay: IntervalHistogram | undefined;
  #gcObserver: PerformanceObserver | undefined;
  #lastCpu: NodeJS.CpuUsage | undefined;
  #lastWall = 0;
  #lastElu: ReturnType<typeof performance.eventLoopUtilization> | undefined;
  /** CPU already counted into the runtime's CPU counters (they count from process start). */
  #sinceStart: NodeJS.CpuUsage = { user: 0, system: 0 };

  constructor(registry: Registry) {
    const g = (name: string, help: string, unit: string) => registry.gauge(name, { help, unit });
    this.#cpu = g('system.cpu', 'CPU used by this process, % of all cores of the machine', 'percent');
    this.#cores = g('system.cpu.cores', 'CPU used by this process, in cores', 'cores');
    this.#rss = g('system.memory', 'Resident set size of this process', 'bytes');
    this.#memPercent = g(
      'system.memory.percent',
      'Resident set size as % of the memory limit (cgroup or machine)',
      'percent',
    );
    this.#heapUsed = g('system.memory.heap_used', 'V8 heap used', 'bytes');
    this.#heapTotal = g('system.memory.heap_total', 'V8 heap allocated', 'bytes');
    this.#external = g('system.memory.external', 'Memory of C++ objects bound to JS objects', 'bytes');
    this.#limit = g('system.memory.limit', 'Memory this process may use (cgroup limit or machine memory)', 'bytes');
    this.#resources = g('system.processes', 'Active handles and requests keeping the event loop alive', '');
    this.#loopDelay = registry.gauge('system.event_loop.delay', {
      help: 'Event-loop delay since the last collection',
      unit: 'ms',
      labels: ['percentile'],
    });
    this.#elu = g(
      'system.event_loop.utilization',
      'Share of time the event loop was busy since the last collection',
      'ratio',
    );
    this.#gc = registry.histogram('system.gc.pause', {
      help: 'Garbage collection pauses',
      unit: 'ms',
      labels: ['kind'],
      buckets: [0.1, 0.5, 1, 5, 10, 50, 100, 500],
    });
    this.#runtime = new NodeRuntimeMetrics(registry);
  }

  start(): void {
    this.#delay = monitorEventLoopDelay({ resolution: LOOP_DELAY_RESOLUTION_MS });
    this.#delay.enable();
    const gc = this.#gc;
    const runtime = this.#runtime;
    this.#gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? 'other';
        gc.observe(entry.duration, { kind });
        runtime.observeGc(kind, entry.duration);
      }
    });
    this.#gcObserver.observe({ entryTypes: ['gc'] });
    this.#lastCpu = process.cpuUsage();
    this.#lastWall = performance.now();
    this.#lastElu = performance.eventLoopUtilization();
    this.#limit.set(memoryLimit());
    this.#runtime.start();
    this.#sinceStart = { user: 0, system: 0 };
  }

  collect(): void {
    const now = performance.now();
    const cpu = process.cpuUsage(this.#lastCpu);
    const wallUs = (now - this.#lastWall) * 1000;
    if (wallUs > 0) {
      const cores = (cpu.user + cpu.system) / wallUs;
      this.#cores.set(cores);
      this.#cpu.set(Math.min(100, (cores / this.#parallelism) * 100));
    }
    const cpuNow = process.cpuUsage();
    const cpuDelta = { user: cpuNow.user - this.#sinceStart.user, system: cpuNow.system - this.#sinceStart.system };
    this.#lastCpu = cpuNow;
    this.#sinceStart = cpuNow;
    this.#lastWall = now;

    const mem = process.memoryUsage();
    const limit = memoryLimit();
    this.#rss.set(mem.rss);
    this.#limit.set(limit);
    this.#memPercent.set((mem.rss / limit) * 100);
    this.#heapUsed.set(mem.heapUsed);
    this.#heapTotal.set(mem.heapTotal);
    this.#external.set(mem.external);
    const resources = process.getActiveResourcesInfo();
    this.#resources.set(resources.length);

    const delay = this.#delay;
    let loopDelay: RuntimeReadings['loopDelay'];
    if (delay !== undefined && delay.count > 0) {
      loopDelay = {
        min: delay.min,
        max: delay.max,
        mean: delay.mean,
        stddev: delay.stddev,
        p50: delay.percentile(50),
        p90: delay.percentile(90),
        p99: delay.percentile(99),
      };
      const ms = (ns: number) => Math.max(0, ns / 1e6 - LOOP_DELAY_RESOLUTION_MS);
      this.#loopDelay.set(ms(loopDelay.p50), { percentile: 'p50' });
      this.#loopDelay.set(ms(loopDelay.p90), { percentile: 'p90' });
      this.#loopDelay.set(ms(loopDelay.p99), { percentile: 'p99' });
      this.#loopDelay.set(ms(delay.max), { percentile: 'max' });
      delay.reset();
    }
    this.#runtime.record({
      cpuDelta,
      memory: mem,
      resources,
      loopDelay,
      loopResolutionNs: LOOP_DELAY_RESOLUTION_MS * 1e6,
    });
    const elu = performance.eventLoopUtilization();
    if (this.#lastElu !== undefined) this.#elu.set(performance.eventLoopUtilization(elu, this.#lastElu).utilization);
    this.#lastElu = elu;
  }

  stop(): void {
    this.#delay?.disable();
    this.#delay = undefined;
    this.#gcObserver?.disconnect();
    this.#gcObserver = undefined;
    this.#runtime.stop();
  }
}
