/**
 * Issue 9, item 2: SIGKILL a child process running the whole monitoring tree at a random moment
 * while it records and flushes, then reopen its data dir.
 *
 * The child (`fixtures/tree-child.mjs`) reports each completed flush with the values it holds (see
 * its header for why they are exactly these). After each kill: `MetricStore.open` and
 * `startMonitoring` on the dir succeed; every reported flush is in the history with its values
 * (`latestAt(id, at)`); each series' current value is its newest history point (one transaction);
 * the counters the tree restores continue from the persisted value and an `inc()` adds on top,
 * across three kills in a row on one dir; reported alerts are in the store with their notification
 * queued or delivered. Some trials flush 10,000 series per flush; some kill the store alone during
 * prune (retention) and record trims, and check that every old point is either raw or in a rollup,
 * never both and never neither.
 *
 * Kill moments come from a seeded PRNG (mulberry32): for half the tree kills a uniform delay after
 * the first reported flush, for the other half 0-3 ms after the k-th report (where a flush
 * acknowledged before it is durable would be lost: a 10 ms ack-before-commit mutation of the
 * writer thread failed 4 of 5 chains); for the big and retention trials a uniform delay after the
 * first report. 21 kills in all. Set DURABILITY_REPORT=1 to print the per-trial numbers.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { mulberry32 } from '../helpers.js';
import {
  assertBuilt,
  type ChildLine,
  killChildren,
  killSpares,
  rawPointsByBucket,
  takeTreeChild,
  type TreeChild,
} from './sigkill-fixture.js';
import { runCleanups, startTree, tempDir } from './tree-fixture.js';

const SEED = 0x5167_c111;
const CHAINS = 5;
const GENERATIONS = 3;
const BIG_TRIALS = 2;
const BIG_SERIES = 10_000;
const RETENTION_TRIALS = 4;
/**
 * Tree kills: half land a uniform [0, TREE_MAX_DELAY_MS) after the first reported flush, half
 * within ON_REPORT_MAX_MS of the k-th report (k in 1..ON_REPORT_MAX_K), right where a flush
 * acknowledged before its commit is durable would lose it.
 */
const TREE_MAX_DELAY_MS = 700;
const ON_REPORT_MAX_MS = 3;
const ON_REPORT_MAX_K = 6;
const BIG_MAX_DELAY_MS = 1500;
const RETENTION_MAX_DELAY_MS = 600;
const CHILD_TIMEOUT_MS = 25_000;
const TRIAL_TIMEOUT_MS = 60_000;
const BUCKET_MS = 60_000;

const random = mulberry32(SEED);
/** Kill `ms` after the `afterFlush`-th reported flush. */
interface KillPlan {
  kind: 'tree' | 'tree-on-report';
  afterFlush: number;
  ms: number;
}
const delay = (max: number): number => Math.floor(random() * max);
const INTERVALS = [20, 35, 50];
const chains = Array.from({ length: CHAINS }, (_, i) => ({
  chain: i + 1,
  interval: INTERVALS[i % INTERVALS.length]!,
  processMetrics: i % 2 === 0,
  kills: Array.from({ length: GENERATIONS }, (): KillPlan =>
    random() < 0.5
      ? { kind: 'tree', afterFlush: 1, ms: delay(TREE_MAX_DELAY_MS) }
      : { kind: 'tree-on-report', afterFlush: 1 + delay(ON_REPORT_MAX_K), ms: delay(ON_REPORT_MAX_MS + 1) },
  ),
}));
const bigTrials = Array.from({ length: BIG_TRIALS }, (_, i) => ({ trial: i + 1, delay: delay(BIG_MAX_DELAY_MS) }));
const retentionTrials = Array.from({ length: RETENTION_TRIALS }, (_, i) => ({
  trial: i + 1,
  delay: delay(RETENTION_MAX_DELAY_MS),
}));

interface FlushLine {
  type: 'flush';
  step: number;
  n: number;
  at: number;
  counter: number;
  gauge: number;
  hcount: number;
  big: number;
}

interface TrialRecord {
  kind: 'tree' | 'tree-on-report' | 'big' | 'retention';
  delayMs: number;
  /** The kill came `delayMs` after this reported flush. */
  afterFlush?: number;
  /** Retention: prune passes and trims the child had completed when killed, and the share of old buckets folded by then. */
  prunes?: number;
  folded?: string;
  trims?: number;
  reported: number;
  pointsChecked: number;
  /** ms per phase: start (options sent -> first report), run (-> killed), check, restart. */
  phases: Record<string, number>;
}
const trials: TrialRecord[] = [];

/** Laps of one trial, for the report. */
function stopwatch(): { lap(name: string): void; laps: Record<string, number> } {
  let last = performance.now();
  const laps: Record<string, number> = {};
  return {
    laps,
    lap(name) {
      const now = performance.now();
      laps[name] = Math.round(now - last);
      last = now;
    },
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;

beforeAll(() => assertBuilt());

afterEach(async () => {
  await killChildren();
  await runCleanups();
});

afterAll(async () => {
  await killSpares();
  if (process.env.DURABILITY_REPORT === undefined) return;
  for (const kind of ['tree', 'tree-on-report', 'big', 'retention'] as const) {
    const of = trials.filter((t) => t.kind === kind);
    if (of.length === 0) continue;
    const delays = of.map((t) => t.delayMs).sort((a, b) => a - b);
    const phases = Object.keys(of[0]!.phases).map((name) => `${name} ${median(of.map((t) => t.phases[name] ?? 0))}`);
    console.log(
      `${kind}: ${of.length} kills; after flush report #${of.map((t) => t.afterFlush ?? 1).join(',')}; delay ms min ${delays[0]} median ${median(delays)} max ${delays.at(-1)}; ` +
        `reported flushes per kill ${of.map((t) => t.reported).join(',')}; ` +
        (kind === 'retention'
          ? `prune passes done ${of.map((t) => t.prunes).join(',')}; old buckets folded ${of.map((t) => t.folded).join(',')}; trims done ${of.map((t) => t.trims).join(',')}; `
          : '') +
        `points checked ${of.reduce((n, t) => n + t.pointsChecked, 0)}; ` +
        `median ms per phase: ${phases.join(', ')}`,
    );
  }
});

/** Waits `ms` after the `nth` line of `type`, then SIGKILLs the child; every line it wrote is read by then. */
async function killAfter(child: TreeChild, type: string, nth: number, ms: number): Promise<void> {
  await child.waitFor(type, nth);
  await sleep(ms);
  const { signal } = await child.kill();
  expect(signal, `child stderr: ${child.stderr()}`).toBe('SIGKILL');
}

const ofType = <T>(lines: ChildLine[], type: string): T[] =>
  lines.filter((line) => line.type === type) as unknown as T[];

interface Persisted {
  counter: number;
  hcount: number;
  alerts: string[];
  pointsChecked: number;
}

/**
 * Opens the killed child's store and checks it against what the child reported.
 * @returns the persisted counter and histogram count, for the restart checks
 */
async function checkTreeStore(dataDir: string, lines: ChildLine[], bigSeries: number): Promise<Persisted> {
  const store = MetricStore.open({ dataDir });
  try {
    const flushes = ofType<FlushLine>(lines, 'flush');
    expect(flushes.length).toBeGreaterThan(0);
    const counterId = store.seriesId('dur.requests{route="a"}')!;
    const gaugeId = store.seriesId('dur.level')!;
    const histId = store.seriesId('dur.latency')!;
    const countId = store.seriesId('dur.latency#count')!;
    expect([counterId, gaugeId, histId, countId].every((id) => id !== undefined)).toBe(true);

    // Every reported flush: as of its timestamp the history holds exactly the reported values.
    const wrong: string[] = [];
    let checked = 0;
    for (const f of flushes) {
      for (const [name, id, want] of [
        ['counter', counterId, f.counter],
        ['gauge', gaugeId, f.gauge],
        ['histogram count', countId, f.hcount],
      ] as const) {
        checked++;
        const got = store.latestAt(id, f.at);
        if (got?.[1] !== want)
          wrong.push(`flush ${f.n} (step ${f.step}, at ${f.at}): ${name} is ${JSON.stringify(got)}, reported ${want}`);
      }
    }
    const last = flushes.at(-1)!;
    if (bigSeries > 0) {
      for (let k = 0; k < bigSeries; k++) {
        checked++;
        const id = store.seriesId(`dur.big{k="${k}"}`);
        const got = id === undefined ? undefined : store.latestAt(id, last.at);
        if (got?.[1] !== last.big)
          wrong.push(`dur.big{k="${k}"} at ${last.at} is ${JSON.stringify(got)}, reported ${last.big}`);
      }
    }
    expect(wrong).toEqual([]);

    // Current values and history points commit together: each current value is its newest point.
    const current = store.loadCurrent();
    const torn: string[] = [];
    for (const def of store.seriesDefs()) {
      if (def.key.includes('#')) continue;
      const state = current.get(def.id) as { v?: number; c?: number } | undefined; // histogram state: c = count
      const pointId = def.type === 'histogram' ? store.seriesId(`${def.key}#count`) : def.id;
      const newest = pointId === undefined ? undefined : store.latest(pointId);
      if (newest === undefined) continue;
      const value = def.type === 'histogram' ? state?.c : state?.v;
      if (value !== newest[1])
        torn.push(`${def.key}: current ${JSON.stringify(state)}, newest point ${JSON.stringify(newest)}`);
    }
    expect(torn).toEqual([]);

    const counter = (current.get(counterId) as { v: number }).v;
    const hcount = (current.get(histId) as { c: number }).c;
    expect(counter).toBeGreaterThanOrEqual(last.counter);
    expect(hcount).toBeGreaterThanOrEqual(last.hcount);

    // Alerts the child saw raised are stored, their notification queued or already delivered.
    const alertLines = ofType<{ id: string; notification: string }>(lines, 'alert');
    const alerts = store.records<{ id: string; status: string }>('alerts');
    const outbox = store.records('outbox');
    const done = store.records('outbox_done');
    const lost = alertLines.filter(
      (a) =>
        alerts.get(a.id)?.status !== 'firing' ||
        (outbox.get([a.notification, 'webhook']) === undefined && done.get([a.notification, 'webhook']) === undefined),
    );
    expect(lost).toEqual([]);
    return { counter, hcount, alerts: alertLines.map((a) => a.id), pointsChecked: checked };
  } finally {
    await store.close();
  }
}

/**
 * Starts the whole tree on the dir in this process: the counter continues from the persisted
 * value, an `inc()` adds on top, the reported alerts are firing again, and stopping writes the new value.
 */
async function restartTree(dataDir: string, persisted: Persisted): Promise<void> {
  const { mon } = await startTree({ dataDir });
  const counter = mon.metrics.counter('dur.requests', { help: 'requests', labels: ['route'] });
  expect(counter.get({ route: 'a' })).toBe(persisted.counter);
  expect(mon.metrics.histogram('dur.latency', { help: 'latency', unit: 'ms' }).get()?.count).toBe(persisted.hcount);
  counter.inc({ route: 'a' });
  expect(counter.get({ route: 'a' })).toBe(persisted.counter + 1);
  const firing = new Set((await mon.alerting.getActiveAlerts()).map((a) => a.id));
  expect(persisted.alerts.filter((id) => !firing.has(id))).toEqual([]);
  await mon.stop();
  const store = MetricStore.open({ dataDir });
  try {
    expect(store.loadCurrent().get(store.seriesId('dur.requests{route="a"}')!)).toEqual({ v: persisted.counter + 1 });
  } finally {
    await store.close();
  }
}

describe('SIGKILL durability of the monitoring tree', () => {
  it.each(chains)(
    'chain $chain (aggregation $interval ms, processMetrics $processMetrics): three kills in a row on one dir lose no reported flush and counters continue',
    async ({ interval, processMetrics, kills }) => {
      const dataDir = tempDir('erlmcp-sigkill-');
      let expected = { counter: 0, hcount: 0 };
      const alerts: string[] = [];
      for (let gen = 1; gen <= GENERATIONS; gen++) {
        const watch = stopwatch();
        const child = takeTreeChild();
        child.start({ mode: 'tree', dataDir, gen, interval, processMetrics, bigSeries: 0 }, CHILD_TIMEOUT_MS);
        // The next run's tree restores exactly what the killed one persisted; its first step's
        // inc() lands on top of that (checked against the store with the rest of its flushes).
        const ready = await child.waitFor('ready');
        expect(ready.restored, `generation ${gen}: ${child.stderr()}`).toEqual({
          counter: expected.counter,
          hcount: expected.hcount,
          big: 0,
        });
        await child.waitFor('flush');
        watch.lap('start');
        const plan = kills[gen - 1]!;
        await killAfter(child, 'flush', plan.afterFlush, plan.ms);
        watch.lap('run');
        const persisted = await checkTreeStore(dataDir, child.lines, 0);
        expect(ofType<FlushLine>(child.lines, 'flush')[0]!.counter).toBe(expected.counter + 1);
        alerts.push(...persisted.alerts);
        expected = { counter: persisted.counter, hcount: persisted.hcount };
        watch.lap('check');
        trials.push({
          kind: plan.kind,
          delayMs: plan.ms,
          afterFlush: plan.afterFlush,
          reported: ofType(child.lines, 'flush').length,
          pointsChecked: persisted.pointsChecked,
          phases: watch.laps,
        });
      }
      await restartTree(dataDir, { ...expected, alerts, pointsChecked: 0 });
    },
    TRIAL_TIMEOUT_MS,
  );

  it.each(bigTrials)(
    'big flush trial $trial: killed $delay ms after the first flush of 10,000 counter series, every series has the last reported value',
    async ({ delay: ms }) => {
      const dataDir = tempDir('erlmcp-sigkill-big-');
      const watch = stopwatch();
      const child = takeTreeChild();
      child.start(
        { mode: 'tree', dataDir, gen: 1, interval: 50, processMetrics: false, bigSeries: BIG_SERIES },
        CHILD_TIMEOUT_MS,
      );
      await child.waitFor('flush');
      watch.lap('start');
      await killAfter(child, 'flush', 1, ms);
      watch.lap('run');
      const persisted = await checkTreeStore(dataDir, child.lines, BIG_SERIES);
      watch.lap('check');

      const last = ofType<FlushLine>(child.lines, 'flush').at(-1)!;
      const { mon } = await startTree({ dataDir, config: { monitoring: { series_limit: BIG_SERIES + 1 } } });
      const big = mon.metrics.counter('dur.big', { help: 'many series', labels: ['k'] });
      const behind = Array.from({ length: BIG_SERIES }, (_, k) => big.get({ k: String(k) }) ?? -1).filter(
        (v) => v < last.big,
      );
      expect(behind).toEqual([]);
      const before = big.get({ k: '9999' })!;
      big.inc({ k: '9999' });
      expect(big.get({ k: '9999' })).toBe(before + 1);
      await mon.stop();
      watch.lap('restart');
      trials.push({
        kind: 'big',
        delayMs: ms,
        reported: ofType(child.lines, 'flush').length,
        pointsChecked: persisted.pointsChecked,
        phases: watch.laps,
      });
    },
    TRIAL_TIMEOUT_MS,
  );

  it.each(retentionTrials)(
    'retention trial $trial: killed $delay ms into prune, flushes and record trims, no old point is lost or counted twice',
    async ({ delay: ms }) => {
      const dataDir = tempDir('erlmcp-sigkill-prune-');
      const watch = stopwatch();
      const child = takeTreeChild();
      child.start({ mode: 'retention', dataDir }, CHILD_TIMEOUT_MS);
      await child.waitFor('seeded');
      watch.lap('start');
      await killAfter(child, 'seeded', 1, ms);
      watch.lap('run');
      const seeded = (await child.waitFor('seeded')) as unknown as {
        buckets: Record<string, Record<string, [number, number]>>;
        newBase: number;
        trimKeep: number;
      };
      const flushed = ofType<{ seq: number }>(child.lines, 'flush').map((f) => f.seq);
      const puts = ofType<{ key: number }>(child.lines, 'put').map((p) => p.key);
      const prunes = ofType<{ pass: number }>(child.lines, 'prune');
      let checked = 0;

      const store = MetricStore.open({ dataDir });
      const rollups = new Map<number, Map<number, { count: number; sum: number }>>();
      const ids = new Map<string, number>();
      try {
        // Every reported flush is in the history.
        const fresh = store.seriesId('fresh')!;
        const lastSeq = Math.max(0, ...flushed);
        if (lastSeq > 0) {
          const history = store.queryRange(fresh, seeded.newBase + 1, seeded.newBase + lastSeq, 1_000_000);
          checked += lastSeq;
          expect(history).toEqual(Array.from({ length: lastSeq }, (_, i) => [seeded.newBase + i + 1, i + 1]));
          expect((store.loadCurrent().get(fresh) as { v: number }).v).toBeGreaterThanOrEqual(lastSeq);
        }

        for (const key of Object.keys(seeded.buckets)) {
          const id = store.seriesId(key)!;
          ids.set(key, id);
          rollups.set(
            id,
            new Map(
              store
                .rollups(id, 0, Number.MAX_SAFE_INTEGER)
                .map((r) => [r.start, { count: r.count, sum: r.avg * r.count }]),
            ),
          );
        }

        // A trim is one transaction: what is left is a run of consecutive keys, ending at the newest put.
        const keys = store
          .records('dur_trim')
          .range()
          .map(([key]) => key as number);
        if (puts.length > 0) {
          expect(keys.at(-1)).toBeGreaterThanOrEqual(Math.max(...puts));
          expect(keys.length).toBeGreaterThanOrEqual(Math.min(seeded.trimKeep, puts.length));
        }
        expect(keys).toEqual(Array.from({ length: keys.length }, (_, i) => keys[0]! + i));
      } finally {
        await store.close();
      }

      // Prune folds raw points into rollups and deletes them in one transaction per step.
      const raw = await rawPointsByBucket(dataDir, BUCKET_MS);
      const wrong: string[] = [];
      let foldedBuckets = 0;
      let seededBuckets = 0;
      for (const [key, buckets] of Object.entries(seeded.buckets)) {
        const id = ids.get(key)!;
        for (const [start, [count, sum]] of Object.entries(buckets)) {
          checked += count;
          const r = raw.get(id)?.get(Number(start)) ?? [0, 0];
          const folded = rollups.get(id)?.get(Number(start)) ?? { count: 0, sum: 0 };
          seededBuckets++;
          if (folded.count > 0) foldedBuckets++;
          if (r[0] + folded.count !== count || Math.abs(r[1] + folded.sum - sum) > 1e-6 * Math.max(1, sum)) {
            wrong.push(
              `${key} bucket ${start}: raw ${r[0]} + rolled up ${folded.count} of ${count} points (sum ${r[1] + folded.sum} of ${sum})`,
            );
          }
          if (prunes.length > 0 && r[0] !== 0)
            wrong.push(`${key} bucket ${start}: ${r[0]} raw points left after a completed prune pass`);
        }
      }
      expect(wrong).toEqual([]);
      watch.lap('check');

      const { mon } = await startTree({ dataDir });
      await mon.stop();
      watch.lap('restart');
      const trims = ofType(child.lines, 'trim').length;
      trials.push({
        kind: 'retention',
        delayMs: ms,
        reported: flushed.length,
        prunes: prunes.length,
        trims,
        folded: `${foldedBuckets}/${seededBuckets}`,
        pointsChecked: checked,
        phases: watch.laps,
      });
    },
    TRIAL_TIMEOUT_MS,
  );
});
