/**
 * What the performance monitor reads from the metric table: `http.server.duration` (merged),
 * `http.server.requests` / `.errors` (summed), and the process source's CPU, memory and event-loop
 * gauges; a metric not registered (or of another type) reads as "no data". A latency window merges the
 * last `ceil(w / 10 s)` slices of the histogram's 5-minute ring, ticking its `SliceClock` to `now`
 * first so a read is current between the collector's ticks. Details: docs/design-notes.md.
 */
import type { Registry } from '../metrics/registry.js';
import type { Sketch } from '../metrics/sketch.js';
import { HTTP_METRICS } from '../sources/http-instrument.js';

/** The table names read by the performance monitor. */
export const INPUT_METRICS = {
  latency: HTTP_METRICS.duration,
  requests: HTTP_METRICS.requests,
  errors: HTTP_METRICS.errors,
  cpu: 'system.cpu',
  memory: 'system.memory.percent',
  eventLoopDelay: 'system.event_loop.delay',
} as const;

/** The `percentile` label value of the event-loop delay gauge that is read. */
export const EVENT_LOOP_PERCENTILE = 'p99';

/** Sum of every series of counter `name`; undefined when it is not a registered counter. */
export function counterSum(registry: Registry, name: string): number | undefined {
  const metric = registry.get(name);
  if (metric?.type !== 'counter') return undefined;
  const values = metric.table.values;
  // Read from the value column by slot: no handle per series, at every performance check. The
  // sum is kept in a typed array: a number variable the closure writes is boxed at each add.
  const sum = new Float64Array(1);
  metric.walk(0, Infinity, (slot) => {
    sum[0] = sum[0]! + values.get(slot);
  });
  return sum[0]!;
}

/** Request and error totals, or undefined when the request counter is not registered (errors default to 0). */
export function requestTotals(registry: Registry): { requests: number; errors: number } | undefined {
  const requests = counterSum(registry, INPUT_METRICS.requests);
  if (requests === undefined) return undefined;
  return { requests, errors: counterSum(registry, INPUT_METRICS.errors) ?? 0 };
}

/**
 * The response-time distribution over the last `windowMs` (cut to the ring's span), merged over
 * every series. Ticks the registry's slice clock to `now` first (see the module comment).
 * @returns undefined when the duration histogram is not registered
 */
export function latencyWindow(
  registry: Registry,
  windowMs: number,
  now: number,
): { sketch: Sketch; windowMs: number } | undefined {
  const metric = registry.get(INPUT_METRICS.latency);
  if (metric?.type !== 'histogram') return undefined;
  registry.clock.tick(now);
  let span: number | undefined;
  metric.walk(0, 1, (slot) => {
    span = metric.seriesAt(slot).window.spanMs;
  });
  const effective = span === undefined ? windowMs : Math.min(windowMs, span);
  return { sketch: metric.merged(effective), windowMs: effective };
}

/** The all-time response-time sketch over every series; undefined when there is no such histogram. */
export function latencyAllTime(registry: Registry): Sketch | undefined {
  const metric = registry.get(INPUT_METRICS.latency);
  return metric?.type === 'histogram' ? metric.merged() : undefined;
}

/** The value of gauge `name` for `labels`; undefined when the gauge or that series does not exist. */
export function gaugeValue(registry: Registry, name: string, labels?: Record<string, string>): number | undefined {
  const metric = registry.get(name);
  if (metric?.type !== 'gauge') return undefined;
  try {
    return metric.find(labels)?.value;
  } catch {
    // The gauge exists with other label names: not the series this reads.
    return undefined;
  }
}
