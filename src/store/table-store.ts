/**
 * Moving the metric table in and out of the store: `restoreTable` at start (so counters continue
 * across restarts) and `flushTable` once per aggregation interval (current values plus one history
 * point per changed series, in one store transaction).
 *
 * Only changed series are written, and each flush is budgeted (time to define new series,
 * {@link DEFINE_BUDGET_MS}; series written, {@link MAX_SERIES_PER_FLUSH}) so it stays within the
 * collector's 5 s call timeout; the rest stay pending and a per-registry cursor makes sure no
 * series starves. Histogram derived series and measurements: docs/design-notes.md.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { ErrorCode, MonitorError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { FlushColumns, NumberColumn } from './flush-columns.js';
import { flushColumns, type MetricStore } from './lmdb-store.js';
import type { SeriesDef } from './types.js';
import { HistogramSeries } from '../metrics/histogram.js';
import { WALK_DONE } from '../metrics/label-map.js';
import { MAX_HELP_LENGTH, type Series } from '../metrics/metric.js';
import type { HistogramTable } from '../metrics/histogram-table.js';
import type { AnyMetric, Registry } from '../metrics/registry.js';
import type { ScalarTable } from '../metrics/scalar-table.js';
import { minuteReadings } from '../metrics/window-stats.js';

/** Longest stretch, in ms, that building a flush holds the event loop before yielding. */
const BLOCK_MS = 4;
/** Series handled between two clock reads. */
const CHECK_EVERY = 32;
/**
 * Time one flush spends defining new series in the store, ms (see the module header). The store
 * then commits them and the flush's points, which took as long again at 100,000 new series: 1 s
 * keeps the first flush near 3 s on a loaded 2-core VM, inside the 5 s call timeout.
 */
export const DEFINE_BUDGET_MS = 1000;
/**
 * Series one flush writes at most (see the module header): a full budget of counters is durable
 * in ~1-2 s on a loaded 2-core VM.
 */
export const MAX_SERIES_PER_FLUSH = 100_000;

/** A histogram series' derived history series, by suffix (see the module header). */
export const DERIVED = ['count', 'sum', 'p50', 'p95', 'p99'] as const;
type Derived = (typeof DERIVED)[number];

/** The store key of a histogram's derived history series, e.g. `response_time{server="http"}#p95`. */
export function derivedKey(seriesKey: string, which: Derived): string {
  return `${seriesKey}#${which}`;
}

export interface FlushSummary {
  /** The timestamp (ms) of the history points this flush wrote: with `latestAt(id, at)` a reader finds what it committed. */
  at: number;
  /** Series whose state was written. */
  series: number;
  /** New series left for the next flush: this one spent its `defineBudgetMs` defining others. */
  deferred: number;
  /**
   * Changed series left for the next flushes: this one wrote its `maxSeriesPerFlush`. Everything
   * changed is written once `deferred` and `pending` are both 0.
   */
  pending: number;
  /** History points written. */
  points: number;
  /** Time spent building the batch on the main thread, ms (excludes waiting for the commit). */
  mainThreadMs: number;
  /** Longest stretch without yielding to the event loop, ms. */
  longestBlockMs: number;
  /** From start to durable commit, ms. */
  totalMs: number;
}

/**
 * `flushTable` could not write its batch (the store's commit failed, e.g. a full disk). Nothing of
 * it was written; its series stay changed, so the next flush writes their current values again,
 * but its `points` (history at `at`) are not written by any later flush.
 */
export class TableFlushFailed extends MonitorError {
  constructor(
    readonly at: number,
    readonly series: number,
    readonly points: number,
    cause: unknown,
  ) {
    super(ErrorCode.StoreFailed, toError(cause).message, { cause });
    this.name = 'TableFlushFailed';
  }
}

/**
 * Series the store refused to define, by metric and series key (a counter's series handle is a new
 * object at each `series()` call): skipped by every later flush, warned about once.
 */
const refused = new WeakMap<AnyMetric, Set<string>>();

/** Where a registry's next flush starts: the first series the last one left pending (walk position). */
interface Cursor {
  metric: AnyMetric;
  generation: number;
  pos: number;
}
const cursors = new WeakMap<Registry, Cursor>();

/** The write budget a histogram series takes: its state and its derived points. */
const HISTOGRAM_COST = 1 + DERIVED.length;
/**
 * What defining a series adds to its cost: at 1,000,000 new counters the flushes that defined and
 * wrote them took ~4.6x as long as writing them once known (44 s against 9.5 s), and a flush
 * defining 88,000 ran past the 5 s call timeout.
 */
const DEFINE_COST = 4;

function idOf(store: MetricStore, metric: AnyMetric, series: Series): number {
  const known = series.storeId;
  if (known !== undefined) return known;
  const id = store.defineSeries(series.key, {
    name: metric.name,
    type: metric.type,
    help: metric.help,
    unit: metric.unit,
    labels: { ...series.labels },
  });
  series.storeId = id;
  return id;
}

function derivedIdsOf(store: MetricStore, metric: AnyMetric, series: HistogramSeries): number[] {
  let ids = series.derivedIds;
  if (ids === undefined) {
    ids = DERIVED.map((which) =>
      store.defineSeries(derivedKey(series.key, which), {
        name: `${metric.name}#${which}`,
        type: 'gauge',
        help: `${metric.help} (${which}${which.startsWith('p') ? ', last minute' : ''})`,
        unit: which === 'count' ? '' : metric.unit,
        labels: { ...series.labels },
      }),
    );
    series.derivedIds = ids;
  }
  return ids;
}

/**
 * Writes every changed series (state and a history point at `nowMs`) in one store transaction and
 * resolves once it is durable. Series are marked flushed only after the commit, with the version
 * they had when read, so a change made while the commit was in flight is written next time.
 * @throws {TableFlushFailed} (rejects) when the store failed to write the batch (`EMON_STORE_FAILED`); nothing was marked flushed
 * @throws {Error} (rejects) any other error of the store's, as it was
 */
export async function flushTable(
  registry: Registry,
  store: MetricStore,
  nowMs: number,
  log?: Logger,
  options: { defineBudgetMs?: number; maxSeriesPerFlush?: number } = {},
): Promise<FlushSummary> {
  const start = performance.now();
  const defineBudgetMs = options.defineBudgetMs ?? DEFINE_BUDGET_MS;
  const maxSeries = options.maxSeriesPerFlush ?? MAX_SERIES_PER_FLUSH;
  let definingMs = 0;
  let defined = 0;
  let deferred = 0;
  let pending = 0;
  /** Write budget used, histograms weighted (see HISTOGRAM_COST). */
  let used = 0;
  let nextCursor: Cursor | undefined;
  let blockStart = start;
  let mainThreadMs = 0;
  let longestBlockMs = 0;
  // Typed columns, not an object per series (flush-columns.ts); they grow from a small start.
  const batch = new FlushColumns(64);
  // Series written, by table (a reset replaces it): `slots` and `versions` in [from, to).
  const writtenSlots = new NumberColumn(new Uint32Array(64), (n) => new Uint32Array(n));
  const writtenVersions = new NumberColumn(new Float64Array(64), (n) => new Float64Array(n));
  const written: { table: ScalarTable | HistogramTable; from: number; to: number }[] = [];
  let writtenCount = 0;
  /** Whether a new definition now would pass the budget (it is then left for the next flush). */
  const deferNow = (): boolean => defined > 0 && definingMs >= defineBudgetMs;
  const defining = <T>(define: () => T): T => {
    const defineStart = performance.now();
    try {
      return define();
    } finally {
      definingMs += performance.now() - defineStart;
      defined++;
    }
  };
  // Round robin: from the cursor to the end, then from the first metric back to the cursor.
  const metrics = registry.metrics();
  const cursor = cursors.get(registry);
  const first =
    cursor === undefined || cursor.metric.generation !== cursor.generation ? -1 : metrics.indexOf(cursor.metric);
  const passes: { metric: AnyMetric; from: number; stopAt: number }[] = [];
  if (first === -1) for (const metric of metrics) passes.push({ metric, from: 0, stopAt: Infinity });
  else {
    for (let i = 0; i < metrics.length; i++)
      passes.push({
        metric: metrics[(first + i) % metrics.length]!,
        from: i === 0 ? cursor!.pos : 0,
        stopAt: Infinity,
      });
    if (cursor!.pos > 0) passes.push({ metric: cursor!.metric, from: 0, stopAt: cursor!.pos });
  }
  for (const { metric, from, stopAt } of passes) {
    const refusedHere = refused.get(metric);
    const refuse = (key: string, err: unknown): void => {
      // One series the store will not take must not stop every other series from persisting.
      if (!refused.has(metric)) refused.set(metric, new Set());
      refused.get(metric)!.add(key);
      log?.warn({ series: key, err: toError(err) }, 'series not persisted: the store refused its definition');
    };
    // Taken with the table below: a `reset` during a yield ends this metric's walk, so no storeId
    // lands in the old table and no old value is stored under a new series' key (see Metric.walk).
    const generation = metric.generation;
    // The wrap-around pass ends at the first slot the first pass began with (the overflow series,
    // visited last, came in that pass too).
    let wrapped = false;
    /** Whether the budget is spent: this series is then counted and left for the next flush. */
    const over = (slot: number, cost: number): boolean => {
      if (nextCursor === undefined && (used === 0 || used + cost <= maxSeries)) {
        used += cost;
        return false;
      }
      nextCursor ??= { metric, generation, pos: slot };
      pending++;
      return true;
    };
    let visit: (slot: number) => void;
    if (metric.type === 'histogram') {
      const done = { table: metric.table, from: writtenSlots.length, to: writtenSlots.length };
      written.push(done);
      // Out here: a closure inside `visit` makes V8 allocate a context at each call (~40-50 B per
      // series walked, changed or not: 50 MB per flush of a million unchanged series).
      const define = (series: HistogramSeries): void => {
        defining(() => {
          idOf(store, metric, series);
          derivedIdsOf(store, metric, series);
        });
      };
      visit = (slot) => {
        // A reset from inside this walk (a store call reaching back into the table) ends it too.
        if (metric.generation !== generation) return;
        if (wrapped || slot >= stopAt) {
          wrapped = true;
          return;
        }
        const series = metric.seriesAt(slot);
        const version = series.version();
        if (version === series.flushedVersion || refusedHere?.has(series.key) === true) return;
        const isNew = series.storeId === undefined || series.derivedIds === undefined;
        // At least one definition per flush, so a budget too small for one still makes progress.
        if (isNew && nextCursor === undefined && deferNow()) {
          deferred++;
          return;
        }
        if (over(slot, isNew ? HISTOGRAM_COST * (1 + DEFINE_COST) : HISTOGRAM_COST)) return;
        let id: number;
        let ids: readonly number[];
        try {
          if (isNew) define(series);
          id = idOf(store, metric, series);
          ids = derivedIdsOf(store, metric, series);
        } catch (err) {
          refuse(series.key, err);
          return;
        }
        batch.object(id!, series.snapshot());
        done.to = writtenSlots.length + 1;
        writtenSlots.push(slot);
        writtenVersions.push(version);
        writtenCount++;
        const values: Record<Derived, number | undefined> = minuteReadings(series);
        for (let i = 0; i < DERIVED.length; i++) {
          const value = values[DERIVED[i]!];
          if (value !== undefined && Number.isFinite(value)) batch.point(ids![i]!, nowMs, value);
        }
      };
    } else {
      // Columns read by slot: no handle per series, and the key only for a series being defined.
      const table = metric.table;
      const done = { table, from: writtenSlots.length, to: writtenSlots.length };
      written.push(done);
      // Out here, as the histograms' `define`: no closure inside `visit`.
      const define = (slot: number): number =>
        defining(() =>
          store.defineSeries(metric.keyAt(slot), {
            name: metric.name,
            type: metric.type,
            help: metric.help,
            unit: metric.unit,
            labels: { ...metric.labelsAt(slot) },
          }),
        );
      visit = (slot) => {
        // A reset from inside this walk (a store call reaching back into the table) ends it too.
        if (metric.generation !== generation) return;
        if (wrapped || slot >= stopAt) {
          wrapped = true;
          return;
        }
        const version = table.values.get(slot);
        if (version === table.flushed.get(slot)) return;
        if (refusedHere !== undefined && refusedHere.size > 0 && refusedHere.has(metric.keyAt(slot))) return;
        let id = table.storeIds.get(slot);
        if (Number.isNaN(id) && nextCursor === undefined && deferNow()) {
          deferred++;
          return;
        }
        if (over(slot, Number.isNaN(id) ? 1 + DEFINE_COST : 1)) return;
        if (Number.isNaN(id)) {
          try {
            id = define(slot);
          } catch (err) {
            refuse(metric.keyAt(slot), err);
            return;
          }
          table.storeIds.set(slot, id);
        }
        batch.scalar(id, version);
        done.to = writtenSlots.length + 1;
        writtenSlots.push(slot);
        writtenVersions.push(version);
        writtenCount++;
        // A sum of finite increments can still overflow to Infinity; such a point is not history.
        if (Number.isFinite(version)) batch.point(id, nowMs, version);
      };
    }
    // Walked in steps of CHECK_EVERY series, unchanged and deferred ones counted too: skipping a
    // million of them is itself a block of ~1 s.
    let pos = from;
    while (pos !== WALK_DONE && !wrapped) {
      pos = metric.walk(pos, CHECK_EVERY, visit, generation);
      const now = performance.now();
      if (now - blockStart >= BLOCK_MS) {
        mainThreadMs += now - blockStart;
        longestBlockMs = Math.max(longestBlockMs, now - blockStart);
        await yieldToLoop();
        blockStart = performance.now();
      }
    }
  }
  const built = performance.now();
  mainThreadMs += built - blockStart;
  longestBlockMs = Math.max(longestBlockMs, built - blockStart);
  // The store validates and encodes in its own chunks; its first block runs inside this call.
  let stored: Awaited<ReturnType<MetricStore['flush']>>;
  try {
    stored = await flushColumns(store, batch);
  } catch (err) {
    // Only a store write failure (a full disk) is this; anything else is a bug and propagates as is.
    if (err instanceof MonitorError && err.code === ErrorCode.StoreFailed)
      throw new TableFlushFailed(nowMs, writtenCount, batch.points, err);
    throw err;
  }
  // Only a committed flush moves the cursor: a failed one is retried from where it began.
  if (nextCursor !== undefined) cursors.set(registry, nextCursor);
  const slots = writtenSlots.array;
  const versions = writtenVersions.array;
  for (const { table, from, to } of written) {
    for (let i = from; i < to; i++) table.flushed.set(slots[i]!, versions[i]!);
  }
  if (pending > 0)
    log?.debug(
      { written: writtenCount, pending },
      'changed series left for the next flushes: this one wrote its budget',
    );
  if (deferred > 0)
    log?.info(
      { deferred, definingMs: Math.round(definingMs) },
      'new series left for the next flush: this one spent its time budget defining others',
    );
  return {
    at: nowMs,
    series: writtenCount,
    deferred,
    pending,
    points: batch.points,
    mainThreadMs: mainThreadMs + stored.syncMs,
    longestBlockMs: Math.max(longestBlockMs, stored.longestBlockMs),
    totalMs: performance.now() - start,
  };
}

/**
 * Recreates the series found in the store, with their saved values, before anything else runs.
 * A series that cannot be restored (its metric now has another type or labels) is logged and
 * left out; the rest continue.
 *
 * Each metric is restored by one `restoreMetric` call: a second call is a declaration, which would
 * make the metric the application's and refuse the real declaration that differs (a histogram's
 * own buckets, an owner's `own()`). A histogram's buckets come from a series' saved state; one none
 * of whose series has a state (its definitions committed, its first flush did not) is not
 * recreated, so its first real declaration sets the buckets: there is no value to keep, and that
 * flush finds the stored definitions by key and keeps their ids.
 */
export function restoreTable(
  registry: Registry,
  store: MetricStore,
  log: Logger,
): { restored: number; skipped: number } {
  const current = store.loadCurrent();
  const byName = new Map<string, SeriesDef[]>();
  for (const def of store.seriesDefs()) {
    if (def.name.includes('#')) continue; // derived history series: rebuilt by flushTable
    const defs = byName.get(def.name);
    if (defs === undefined) byName.set(def.name, [def]);
    else defs.push(def);
  }
  let restored = 0;
  let skipped = 0;
  for (const [name, defs] of byName) {
    const first = defs[0]!;
    const buckets = defs
      .map((def) => (current.get(def.id) as { bounds?: number[] } | undefined)?.bounds)
      .find((b) => b !== undefined);
    if (first.type === 'histogram' && buckets === undefined) continue;
    let metric: AnyMetric;
    try {
      metric = registry.restoreMetric(name, first.type, {
        // A help stored before its length was limited must not cost the series its value.
        help: first.help.slice(0, MAX_HELP_LENGTH),
        unit: first.unit,
        labels: Object.keys(first.labels),
        buckets,
      });
    } catch (err) {
      skipped += defs.length;
      log.warn(
        { metric: name, series: defs.length, err: toError(err) },
        'could not restore a stored metric: its series start from zero',
      );
      continue;
    }
    for (const def of defs) {
      try {
        // Series of one metric stored by different deploys may disagree with the first one.
        if (
          def.type !== first.type ||
          def.unit !== first.unit ||
          !sameNames(Object.keys(def.labels), metric.labelNames)
        ) {
          throw new Error(`it was stored as another version of metric "${name}" (type, unit or label names)`);
        }
        const series = metric.bind(def.labels) as Series;
        // Past a (lowered) series limit bind() gives the overflow series: never pour a stored
        // series into it.
        if (!sameLabels(series.labels, def.labels))
          throw new Error(`the metric's series limit (${registry.seriesLimit}) is reached`);
        series.storeId = def.id;
        const state = current.get(def.id);
        if (state !== undefined) series.restore(state);
        restored++;
      } catch (err) {
        skipped++;
        log.warn({ series: def.key, err: toError(err) }, 'could not restore a stored series: it starts from zero');
      }
    }
  }
  return { restored, skipped };
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

function sameLabels(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
}
