/**
 * `/api/series`: the table's metrics, or one metric's series, one page at a time. A table may hold
 * a million series, so the list is never sent whole, never sorted and never counted past the page:
 * a page is the next `limit` entries (in the table's order) that contain `match`, found by a scan
 * that yields to the event loop every {@link SCAN_CHUNK} entries and stops as soon as the page is
 * full. `next` is the position to continue from: a metric's series are walked by slot
 * (`Metric.walk`), and slots are only ever added, so the next page neither repeats nor skips a
 * series (one created meanwhile comes at the end, the overflow series last).
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { WALK_DONE } from '../metrics/label-map.js';
import type { Registry } from '../metrics/registry.js';
import type { SeriesListResponse } from './protocol.js';
import { HttpError } from './http-error.js';

/** Entries a page holds by default, and at most. */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;
/** Entries matched between two yields to the event loop. */
const SCAN_CHUNK = 20_000;
const MAX_MATCH = 200;

function intParam(query: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = query.get(name);
  if (raw === null) return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new HttpError(
      400,
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw.slice(0, 20))}`,
    );
  }
  return Number(raw);
}

/**
 * One page of `/api/series?metric=&match=&after=&limit=`.
 * @throws {HttpError} 400 for a bad `after`, `limit` or `match`; 404 for a metric not in the table
 */
export async function listSeries(registry: Registry, query: URLSearchParams): Promise<SeriesListResponse> {
  const limit = intParam(query, 'limit', DEFAULT_PAGE, 1, MAX_PAGE);
  const after = intParam(query, 'after', 0, 0, 999_999_999);
  const match = query.get('match') ?? '';
  if (match.length > MAX_MATCH)
    throw new HttpError(400, `match is ${match.length} characters long (at most ${MAX_MATCH})`);
  const name = query.get('metric');
  if (name === null) {
    const metrics = registry.metrics();
    const items: SeriesListResponse['items'] = [];
    let i = after;
    for (; i < metrics.length && items.length < limit; i++) {
      const m = metrics[i]!;
      if (m.name.includes(match)) items.push({ name: m.name, type: m.type });
    }
    return { items, scanned: i - after, ...(i < metrics.length ? { next: String(i) } : {}) };
  }
  const metric = registry.get(name);
  if (metric === undefined)
    throw new HttpError(
      404,
      `no metric ${JSON.stringify(name.slice(0, 80))} in the table (list them with /api/series)`,
    );
  const items: SeriesListResponse['items'] = [];
  const table = metric.type === 'histogram' ? undefined : metric.table;
  // A `reset` during a yield below ends this page's walk: its slots index `table`, the old one.
  const generation = metric.generation;
  let scanned = 0;
  let sinceYield = 0;
  const visit = (slot: number): void => {
    scanned++;
    const key = metric.keyAt(slot);
    if (match !== '' && !key.includes(match)) return;
    items.push({
      name: metric.name,
      type: metric.type,
      key,
      labels: { ...metric.labelsAt(slot) },
      ...(table === undefined ? {} : { value: table.values.get(slot) }),
    });
  };
  // Walked by slot (no handle per series), never past the page: each step visits at most the
  // entries the page still has room for.
  let pos = after;
  while (pos !== WALK_DONE && items.length < limit) {
    const before = scanned;
    pos = metric.walk(pos, Math.min(limit - items.length, SCAN_CHUNK), visit, generation);
    sinceYield += scanned - before;
    if (sinceYield >= SCAN_CHUNK && pos !== WALK_DONE && items.length < limit) {
      sinceYield = 0;
      await yieldToLoop();
    }
  }
  return { metric: metric.name, items, scanned, ...(pos !== WALK_DONE ? { next: String(pos) } : {}) };
}
