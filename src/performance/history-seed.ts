/**
 * Seeds a fresh `CounterHistory` from the store, so a restarted performance monitor computes
 * throughput, error rates and burn rates over windows that began before it started.
 *
 * Only changed series are stored, so totals carry each series' latest point forward; a series
 * never appears to jump from 0 at the seam. Old spans come from coarse 1-minute rollups. How
 * totals are rebuilt: docs/design-notes.md.
 */
import type { MetricStore } from '../store/lmdb-store.js';
import type { CounterHistory } from './counter-history.js';
import { INPUT_METRICS } from './table-readings.js';

/** Most points read per series. */
const MAX_POINTS_PER_SERIES = 5000;

/** One series' points, walked forward through the merged timeline. */
interface Cursor {
  points: [number, number][];
  i: number;
  /** Its value before its first point in the span. */
  before: number;
}

function totalAt(cursors: Cursor[], ts: number): number {
  let sum = 0;
  for (const c of cursors) {
    while (c.i + 1 < c.points.length && c.points[c.i + 1]![0] <= ts) c.i++;
    sum += c.i >= 0 ? c.points[c.i]![1] : c.before;
  }
  return sum;
}

export interface SeedResult {
  /** Samples handed to the history. */
  samples: number;
  /** Store time of the newest sample handed over. */
  newest?: number;
  /** Why nothing was seeded, when nothing was. */
  missing?: string;
}

/**
 * Reads the request and error totals of `[now − spanMs, now)` from `store` into `history`.
 * @param now the current time as the store's stamps read it
 * @param shiftMs added to each stored time to put it on the history's timeline (the monotonic
 *   one, which a wall-clock step may have moved away from the stamps; default 0)
 * @throws {MonitorError} `EMON_STORE_FAILED` if the store is closed or unreadable
 */
export function seedCounterHistory(
  store: MetricStore,
  history: CounterHistory,
  now: number,
  spanMs: number,
  shiftMs = 0,
): SeedResult {
  const defs = store.seriesDefs();
  const from = Math.max(0, now - spanMs);
  const to = now - 1;
  if (to < from) return { samples: 0, missing: 'no time span to seed' };
  const read = (name: string): Cursor[] =>
    defs
      .filter((d) => d.name === name && d.type === 'counter')
      .map((d) => {
        const points = store.queryRange(d.id, from, to, MAX_POINTS_PER_SERIES);
        return { points, i: -1, before: points[0]?.[1] ?? store.latest(d.id)?.[1] ?? 0 };
      });
  const requests = read(INPUT_METRICS.requests);
  if (requests.length === 0) return { samples: 0, missing: `no "${INPUT_METRICS.requests}" history in the store` };
  const errors = read(INPUT_METRICS.errors);
  const times = [...new Set([...requests, ...errors].flatMap((c) => c.points.map(([ts]) => ts)))].sort((a, b) => a - b);
  if (times.length === 0)
    return {
      samples: 0,
      missing: `no "${INPUT_METRICS.requests}" points in the last ${Math.round(spanMs / 60_000)} min`,
    };

  for (const ts of times)
    history.record(history.reading(ts + shiftMs, { requests: totalAt(requests, ts), errors: totalAt(errors, ts) }));
  return { samples: times.length, newest: times[times.length - 1]! };
}
