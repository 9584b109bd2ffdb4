/**
 * The runtime families of prom-client's `collectDefaultMetrics()` (`process_*`, `nodejs_*`) under
 * exactly its names, types and labels, so the stock Node.js Grafana dashboards work unchanged against
 * /metrics (docs/prometheus-names.md). Uses the process source's readings; reads /proc (Linux only, as
 * prom-client) and v8 for the rest. Two deliberate differences: event-loop delay has the sampling
 * resolution subtracted, and CPU counters continue across a restart when the table is persisted.
 */
import fs from 'node:fs';
import v8 from 'node:v8';
import type { Counter } from '../metrics/counter.js';
import type { Gauge } from '../metrics/gauge.js';
import type { Histogram } from '../metrics/histogram.js';
import type { Registry } from '../metrics/registry.js';

/** prom-client's `nodejs_gc_duration_seconds` buckets. */
export const GC_DURATION_BUCKETS: readonly number[] = [0.001, 0.01, 0.1, 1, 2, 5];

/**
 * Every runtime metric's API name. Their exposed names are prom-client's (no namespace prefix
 * applies to them: the stock dashboards query the bare names).
 */
export const RUNTIME_METRICS = [
  'process.cpu.user',
  'process.cpu.system',
  'process.cpu',
  'process.start_time',
  'process.resident_memory',
  'process.virtual_memory',
  'process.heap',
  'process.open_fds',
  'process.max_fds',
  'nodejs.eventloop_lag',
  'nodejs.eventloop_lag_min',
  'nodejs.eventloop_lag_max',
  'nodejs.eventloop_lag_mean',
  'nodejs.eventloop_lag_stddev',
  'nodejs.eventloop_lag_p50',
  'nodejs.eventloop_lag_p90',
  'nodejs.eventloop_lag_p99',
  'nodejs.active_resources',
  'nodejs.active_resources_total',
  'nodejs.active_handles',
  'nodejs.active_handles_total',
  'nodejs.active_requests',
  'nodejs.active_requests_total',
  'nodejs.heap_size.total',
  'nodejs.heap_size.used',
  'nodejs.external_memory',
  'nodejs.heap_space_size.total',
  'nodejs.heap_space_size.used',
  'nodejs.heap_space_size.available',
  'nodejs.version_info',
  'nodejs.gc.duration',
] as const;

/** What the process source measured this collection, handed in so nothing is read twice. */
export interface RuntimeReadings {
  /** process.cpuUsage() since the previous collection, in µs. */
  cpuDelta: NodeJS.CpuUsage;
  memory: NodeJS.MemoryUsage;
  /** process.getActiveResourcesInfo() */
  resources: string[];
  /** Event-loop delay statistics since the previous collection in ns, resolution not subtracted. */
  loopDelay?: { min: number; max: number; mean: number; stddev: number; p50: number; p90: number; p99: number };
  /** The delay monitor's resolution in ns, subtracted from `loopDelay`. */
  loopResolutionNs: number;
}

interface ProcessInternals {
  _getActiveHandles?: () => unknown[];
  _getActiveRequests?: () => unknown[];
}

function countBy(list: readonly unknown[], key: (item: unknown) => string | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of list) {
    const k = key(item);
    if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

const constructorName = (item: unknown): string | undefined =>
  item !== null && item !== undefined ? (item as { constructor?: { name?: string } }).constructor?.name : undefined;

/** `VmSize`, `VmRSS`, `VmData` of /proc/self/status in bytes, or undefined off Linux. */
function procStatus(): Record<string, number> | undefined {
  let text: string;
  try {
    text = fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return undefined;
  }
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(Vm\w+):\s+(\d+)\s+kB/.exec(line);
    if (m !== null) out[m[1]!] = Number(m[2]) * 1024;
  }
  return out;
}

function openFds(): number | undefined {
  try {
    // readdirSync opens the directory itself: one fd more than the process had.
    return fs.readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

function maxFds(): number | undefined {
  try {
    const line = fs
      .readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s+/)[3];
    return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

/** The Node.js version as prom-client labels it. */
function versionLabels(): Record<string, string> {
  const [major = '', minor = '', patch = ''] = process.version.slice(1).split('.');
  return { version: process.version, major, minor, patch };
}

export class NodeRuntimeMetrics {
  readonly #cpuUser: Counter;
  readonly #cpuSystem: Counter;
  readonly #cpuTotal: Counter;
  readonly #startTime: Gauge;
  readonly #rss: Gauge;
  readonly #virtual: Gauge;
  readonly #heap: Gauge;
  readonly #openFds: Gauge;
  readonly #maxFds: Gauge;
  readonly #lag: Gauge;
  readonly #lagStats: Record<'min' | 'max' | 'mean' | 'stddev' | 'p50' | 'p90' | 'p99', Gauge>;
  readonly #resources: Gauge;
  readonly #resourcesTotal: Gauge;
  readonly #handles: Gauge;
  readonly #handlesTotal: Gauge;
  readonly #requests: Gauge;
  readonly #requestsTotal: Gauge;
  readonly #heapTotal: Gauge;
  readonly #heapUsed: Gauge;
  readonly #external: Gauge;
  readonly #space: Record<'total' | 'used' | 'available', Gauge>;
  readonly #version: Gauge;
  readonly #gc: Histogram;
  /** Label values seen before, so a type that is gone reads 0 instead of its last count. */
  readonly #seen = new Map<Gauge, Set<string>>();
  #lagTimer: NodeJS.Immediate | undefined;

  constructor(registry: Registry) {
    const g = (name: string, help: string, unit = '', labels?: string[]) =>
      registry.gauge(name, { help, unit, ...(labels ? { labels } : {}) });
    const c = (name: string, help: string) => registry.counter(name, { help, unit: 'seconds' });
    this.#cpuUser = c('process.cpu.user', 'Total user CPU time spent in seconds.');
    this.#cpuSystem = c('process.cpu.system', 'Total system CPU time spent in seconds.');
    this.#cpuTotal = c('process.cpu', 'Total user and system CPU time spent in seconds.');
    this.#startTime = g('process.start_time', 'Start time of the process since unix epoch in seconds.', 'seconds');
    this.#rss = g('process.resident_memory', 'Resident memory size in bytes.', 'bytes');
    this.#virtual = g('process.virtual_memory', 'Virtual memory size in bytes.', 'bytes');
    this.#heap = g('process.heap', 'Process heap size in bytes.', 'bytes');
    this.#openFds = g('process.open_fds', 'Number of open file descriptors.');
    this.#maxFds = g('process.max_fds', 'Maximum number of open file descriptors.');
    this.#lag = g('nodejs.eventloop_lag', 'Lag of event loop in seconds.', 'seconds');
    this.#lagStats = {
      min: g('nodejs.eventloop_lag_min', 'The minimum recorded event loop delay.', 'seconds'),
      max: g('nodejs.eventloop_lag_max', 'The maximum recorded event loop delay.', 'seconds'),
      mean: g('nodejs.eventloop_lag_mean', 'The mean of the recorded event loop delays.', 'seconds'),
      stddev: g('nodejs.eventloop_lag_stddev', 'The standard deviation of the recorded event loop delays.', 'seconds'),
      p50: g('nodejs.eventloop_lag_p50', 'The 50th percentile of the recorded event loop delays.', 'seconds'),
      p90: g('nodejs.eventloop_lag_p90', 'The 90th percentile of the recorded event loop delays.', 'seconds'),
      p99: g('nodejs.eventloop_lag_p99', 'The 99th percentile of the recorded event loop delays.', 'seconds'),
    };
    this.#resources = g(
      'nodejs.active_resources',
      'Number of active resources that are currently keeping the event loop alive, grouped by async resource type.',
      '',
      ['type'],
    );
    this.#resourcesTotal = g('nodejs.active_resources_total', 'Total number of active resources.');
    this.#handles = g(
      'nodejs.active_handles',
      'Number of active libuv handles grouped by handle type. Every handle type is C++ class name.',
      '',
      ['type'],
    );
    this.#handlesTotal = g('nodejs.active_handles_total', 'Total number of active handles.');
    this.#requests = g(
      'nodejs.active_requests',
      'Number of active libuv requests grouped by request type. Every request type is C++ class name.',
      '',
      ['type'],
    );
    this.#requestsTotal = g('nodejs.active_requests_total', 'Total number of active requests.');
    this.#heapTotal = g('nodejs.heap_size.total', 'Process heap size from Node.js in bytes.', 'bytes');
    this.#heapUsed = g('nodejs.heap_size.used', 'Process heap size used from Node.js in bytes.', 'bytes');
    this.#external = g('nodejs.external_memory', 'Node.js external memory size in bytes.', 'bytes');
    this.#space = {
      total: g('nodejs.heap_space_size.total', 'Process heap space size total from Node.js in bytes.', 'bytes', [
        'space',
      ]),
      used: g('nodejs.heap_space_size.used', 'Process heap space size used from Node.js in bytes.', 'bytes', ['space']),
      available: g(
        'nodejs.heap_space_size.available',
        'Process heap space size available from Node.js in bytes.',
        'bytes',
        ['space'],
      ),
    };
    this.#version = g('nodejs.version_info', 'Node.js version info.', '', ['version', 'major', 'minor', 'patch']);
    this.#gc = registry.histogram('nodejs.gc.duration', {
      help: 'Garbage collection duration by kind, one of major, minor, incremental or weakcb.',
      unit: 'seconds',
      labels: ['kind'],
      buckets: GC_DURATION_BUCKETS,
    });
  }

  /** Sets what does not change while the process runs. */
  start(): void {
    this.#startTime.set(Math.round(Date.now() - performance.now()) / 1000);
    this.#version.set(1, versionLabels());
    const max = maxFds();
    if (max !== undefined) this.#maxFds.set(max);
  }

  /** One GC pause seen by the process source's observer, in ms. */
  observeGc(kind: string, ms: number): void {
    this.#gc.observe(ms / 1000, { kind });
  }

  /** Records one collection's readings and what only this module reads. */
  record(r: RuntimeReadings): void {
    const user = r.cpuDelta.user / 1e6;
    const system = r.cpuDelta.system / 1e6;
    this.#cpuUser.inc(user);
    this.#cpuSystem.inc(system);
    this.#cpuTotal.inc(user + system);

    this.#rss.set(r.memory.rss);
    this.#heapTotal.set(r.memory.heapTotal);
    this.#heapUsed.set(r.memory.heapUsed);
    this.#external.set(r.memory.external);
    const status = procStatus();
    if (status?.VmSize !== undefined) this.#virtual.set(status.VmSize);
    if (status?.VmData !== undefined) this.#heap.set(status.VmData);
    const fds = openFds();
    if (fds !== undefined) this.#openFds.set(fds);

    for (const space of v8.getHeapSpaceStatistics()) {
      const labels = { space: space.space_name.replace(/_space$/, '') };
      this.#space.total.set(space.space_size, labels);
      this.#space.used.set(space.space_used_size, labels);
      this.#space.available.set(space.space_available_size, labels);
    }

    this.#byType(
      this.#resources,
      this.#resourcesTotal,
      countBy(r.resources, (t) => t as string),
      r.resources.length,
    );
    const internals = process as unknown as ProcessInternals;
    const handles = internals._getActiveHandles?.();
    if (handles !== undefined)
      this.#byType(this.#handles, this.#handlesTotal, countBy(handles, constructorName), handles.length);
    const requests = internals._getActiveRequests?.();
    if (requests !== undefined)
      this.#byType(this.#requests, this.#requestsTotal, countBy(requests, constructorName), requests.length);

    if (r.loopDelay !== undefined) {
      const sec = (ns: number) => Math.max(0, ns - r.loopResolutionNs) / 1e9;
      const d = r.loopDelay;
      this.#lagStats.min.set(sec(d.min));
      this.#lagStats.max.set(sec(d.max));
      this.#lagStats.mean.set(sec(d.mean));
      // A spread, not a delay: the resolution offsets every sample alike.
      this.#lagStats.stddev.set(Number.isFinite(d.stddev) ? d.stddev / 1e9 : 0);
      this.#lagStats.p50.set(sec(d.p50));
      this.#lagStats.p90.set(sec(d.p90));
      this.#lagStats.p99.set(sec(d.p99));
    }
    // prom-client's lag: how long a callback queued now waits for the loop to come round.
    if (this.#lagTimer === undefined) {
      const queued = process.hrtime.bigint();
      this.#lagTimer = setImmediate(() => {
        this.#lagTimer = undefined;
        this.#lag.set(Number(process.hrtime.bigint() - queued) / 1e9);
      });
      // Unref'd: the probe neither keeps the host alive nor counts as one of its resources.
      this.#lagTimer.unref();
    }
  }

  stop(): void {
    if (this.#lagTimer !== undefined) clearImmediate(this.#lagTimer);
    this.#lagTimer = undefined;
  }

  #byType(byType: Gauge, total: Gauge, counts: Map<string, number>, count: number): void {
    let seen = this.#seen.get(byType);
    if (seen === undefined) this.#seen.set(byType, (seen = new Set()));
    for (const type of seen) if (!counts.has(type)) byType.set(0, { type });
    for (const [type, n] of counts) {
      byType.set(n, { type });
      seen.add(type);
    }
    total.set(count);
  }
}
