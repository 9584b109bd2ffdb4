/**
 * Wall-clock steps under the whole tree, with an injected clock: the test owns both the wall and
 * the monotonic clock and moves them (`advance` moves both, `step` only the wall clock). The
 * tree's timers run on short real intervals and read the injected clock; every figure asserted is
 * taken from an explicit `check`/`evaluate`/`flush` call at a known injected time, so nothing
 * depends on how fast the machine is.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { COLLECTOR_NAME } from '../../actors/collector.js';
import { ALERTING_NAME, type AlertingProtocol } from '../../actors/alerting.js';
import type { ClockSource } from '../../src/clock.js';
import { HTTP_METRICS } from '../../src/sources/http-instrument.js';
import type { Pid } from '../../src/otp/index.js';
import type { PerformanceReport } from '../../src/performance/report.js';
import type { RealtimeResponse } from '../../src/server/protocol.js';
import { MetricStore } from '../../src/store/lmdb-store.js';
import { until } from '../helpers.js';
import { startFaultReceiver } from './notification-faults-fixture.js';
import { runCleanups, startTree, tempDir, type Tree } from './tree-fixture.js';

const H = 3_600_000;
const DAY = 24 * H;
/** A whole minute, so retention cutoffs fall on known points. */
const W0 = 1_800_000_000_000;

/** A clock the test moves by hand. */
class SteppedClock implements ClockSource {
  wall: number;
  mono: number;
  constructor(wall: number, mono = 10_000) {
    this.wall = wall;
    this.mono = mono;
  }
  wallMs(): number {
    return this.wall;
  }
  monoMs(): number {
    return this.mono;
  }
  /** Real time passes. */
  advance(ms: number): void {
    this.wall += ms;
    this.mono += ms;
  }
  /** Only the wall clock moves (NTP step, an operator's `date -s`). */
  step(ms: number): void {
    this.wall += ms;
  }
}

const TREE_CONFIG = {
  // Checks are called explicitly; the timers still run (every 50 ms) and must not disturb them.
  performance_monitor: { window: 10_000, slas: [] },
  dashboard: { dashboard_enabled: false },
};

afterEach(runCleanups);

/** Request metrics as `instrument.http` registers them, and a load helper. */
function traffic(tree: Tree) {
  const total = tree.mon.metrics.counter(HTTP_METRICS.requests, { labels: ['server', 'method', 'route', 'code'] });
  const errors = tree.mon.metrics.counter(HTTP_METRICS.errors, { labels: ['server', 'method', 'route', 'code'] });
  const latency = tree.mon.metrics.histogram(HTTP_METRICS.duration, {
    unit: 'ms',
    labels: ['server', 'method', 'route'],
  });
  return {
    /** `n` requests of `ms` each, `failed` of them 500s. */
    serve(n: number, ms = 40, failed = 0) {
      total.inc({ server: 'api', method: 'GET', route: '/', code: '200' }, n - failed);
      if (failed > 0) {
        total.inc({ server: 'api', method: 'GET', route: '/', code: '500' }, failed);
        errors.inc({ server: 'api', method: 'GET', route: '/', code: '500' }, failed);
      }
      for (let i = 0; i < n; i++) latency.observe(ms, { server: 'api', method: 'GET', route: '/' });
    },
  };
}

async function check(tree: Tree): Promise<PerformanceReport> {
  return (await tree.mon.performance.call({ type: 'check' })).report;
}

/** Every history point in the store under `dataDir` (the tree must be stopped). */
async function storedPoints(
  dataDir: string,
): Promise<{ name: string; labels: Record<string, string>; ts: number; value: number }[]> {
  const store = MetricStore.open({ dataDir });
  try {
    return store
      .seriesDefs()
      .flatMap((d) =>
        store
          .queryRange(d.id, 0, Number.MAX_SAFE_INTEGER, 1_000_000)
          .map(([ts, value]) => ({ name: d.name, labels: d.labels ?? {}, ts, value })),
      );
  } finally {
    await store.close();
  }
}

describe('clock steps', () => {
  it('+1 day then back: rates and latency windows empty when load stops, a cleared rule alert resolves, no point is stamped ahead', async () => {
    const clock = new SteppedClock(W0);
    const tree = await startTree({
      clock,
      config: TREE_CONFIG,
      alertRules: [
        { name: 'hot', metric: 'test.temp', condition: 'gt', threshold: 50, keepFiringFor: 5000, severity: 'warning' },
      ],
    });
    const load = traffic(tree);
    const temp = tree.mon.metrics.gauge('test.temp');
    const alerting = tree.mon.system.ref<AlertingProtocol>(ALERTING_NAME);
    const ruleAlert = async () => (await tree.mon.alerting.getActiveAlerts()).find((a) => a.source === 'rule:hot');

    temp.set(90);
    for (let s = 0; s < 15; s++) {
      load.serve(100);
      clock.advance(1000);
      await check(tree);
    }
    await alerting.call({ type: 'evaluate' });
    expect(await ruleAlert()).toBeDefined();
    expect((await check(tree)).metrics.throughput.value).toBeCloseTo(100, 6);

    // The wall clock jumps a day ahead; load goes on for 5 s; the condition clears there.
    clock.step(DAY);
    for (let s = 0; s < 5; s++) {
      load.serve(100);
      clock.advance(1000);
      const report = await check(tree);
      expect(report.metrics.throughput.value).toBeCloseTo(100, 6);
    }
    await tree.mon.collector.call({ type: 'flush' }); // history points written under +1 day
    await alerting.call({ type: 'evaluate' }); // still true, seen at +1 day
    temp.set(10);
    await alerting.call({ type: 'evaluate' });
    expect(await ruleAlert()).toBeDefined(); // keep_firing_for holds it for 5 s

    // Corrected: the wall clock comes back. Load stops.
    clock.step(-DAY);
    let last: PerformanceReport | undefined;
    for (let s = 0; s < 12; s++) {
      clock.advance(1000);
      last = await check(tree);
    }
    // 12 s without a request: the 10 s window holds none (it decayed 39.97 → 32.98 req/s over 20 s before).
    expect(last!.metrics.throughput).toMatchObject({ value: 0, samples: 0 });
    expect(last!.metrics['latency.p95'].value).toBeNull(); // froze at its old value before
    await alerting.call({ type: 'evaluate' });
    expect(await ruleAlert()).toBeUndefined(); // stayed firing for ~24 h before

    expect(
      tree.logger.records.some(
        (r) => r.level === 'warn' && r.msg.startsWith('wall clock stepped ahead of monotonic time'),
      ),
    ).toBe(true);
    const reports = await tree.mon.performance.call({
      type: 'history',
      kind: 'report',
      from: 0,
      to: Number.MAX_SAFE_INTEGER,
    });
    expect(Math.max(...reports.entries.map((r) => r.at))).toBeLessThanOrEqual(clock.wall);
    await tree.mon.stop();
    const points = await storedPoints(tree.dataDir);
    expect(points.filter((p) => p.name === HTTP_METRICS.requests).length).toBeGreaterThan(0);
    // 141 points stamped a day ahead stayed in the store before.
    expect(points.filter((p) => p.ts > clock.wall + 1000)).toEqual([]);
  });

  it('+8 h step: alerts carry wall stamps (not steady time), a silence ends at the wall time the user gave', async () => {
    const clock = new SteppedClock(W0);
    const am = await startFaultReceiver(() => 'am');
    const tree = await startTree({
      clock,
      config: {
        ...TREE_CONFIG,
        alerting: {
          channels: { alertmanager: { enabled: true, urls: [am.url] } },
          routing: { info: [], warning: ['alertmanager'], error: [], critical: [] },
          escalation_policy: {},
        },
      },
    });
    const alerting = tree.mon.system.ref<AlertingProtocol>(ALERTING_NAME);
    /** `startsAt` of every alert Alertmanager was sent, in order. */
    const startsAt = () =>
      am.hits.flatMap((h) =>
        (JSON.parse(h.body) as { startsAt: string }[]).map((a) => ({ at: Date.parse(a.startsAt) })),
      );

    // The wall clock is corrected 8 h forward; a user silences team x until an hour from now, as they read the time.
    clock.step(8 * H);
    const endsAt = clock.wall + H;
    await tree.mon.alerting.addSilence({
      matchers: [{ name: 'team', op: '=', value: 'x' }],
      endsAt,
      createdBy: 'ops',
      comment: 'maintenance',
    });
    const first = await tree.mon.alerting.sendAlert('warning', 'disk full', { team: 'x' });
    // Stamps keep to monotonic progress until the step has lasted ACCEPT_FORWARD_STEP_MS: never in the future.
    expect(first.startedAt).toBeGreaterThanOrEqual(W0);
    expect(first.startedAt).toBeLessThanOrEqual(clock.wall);

    clock.advance(H - 1000);
    await alerting.call({ type: 'evaluate' });
    expect((await tree.mon.alerting.listSilences())[0]!.state).toBe('active');
    expect(am.hits).toEqual([]);

    // The silence's hour is over: it had stayed active for 9 h (its wall end compared with steady time).
    clock.advance(2000);
    await alerting.call({ type: 'evaluate' });
    expect((await tree.mon.alerting.listSilences())[0]!.state).toBe('expired');
    await until(() => expect(startsAt().length).toBe(1));

    // The step has held for an hour: stamps follow it, and a new alert starts at the wall time
    // (it was 8 h in the past, in the API and in Alertmanager's startsAt).
    const second = await tree.mon.alerting.sendAlert('warning', 'cpu hot', { team: 'y' });
    expect(Math.abs(second.startedAt - clock.wall)).toBeLessThanOrEqual(1000);
    await until(() => expect(startsAt().length).toBe(2));
    expect(Math.abs(startsAt()[1]!.at - clock.wall)).toBeLessThanOrEqual(1000);
    const resolved = await tree.mon.alerting.clearAlert(second.id);
    expect(Math.abs(resolved.resolvedAt! - clock.wall)).toBeLessThanOrEqual(1000);
  });

  it('alerts stored after an accepted +8 h step hold wall times: after a restart they keep their retention (alert_timeout)', async () => {
    const dataDir = tempDir();
    const config = { ...TREE_CONFIG, alerting: { alert_timeout: 300_000 } };
    const first = new SteppedClock(W0);
    const tree = await startTree({ clock: first, dataDir, config });
    first.step(8 * H);
    await check(tree);
    first.advance(H);
    await check(tree); // the step has held for an hour: stamps follow it
    const alert = await tree.mon.alerting.sendAlert('warning', 'disk full');
    const resolved = await tree.mon.alerting.clearAlert(alert.id);
    expect(Math.abs(resolved.resolvedAt! - first.wall)).toBeLessThanOrEqual(1000);
    await tree.mon.stop();

    // A minute later a new process starts (a new monotonic origin): the alert resolved a minute ago is kept.
    const second = new SteppedClock(first.wall + 60_000, 500);
    const again = await startTree({ clock: second, dataDir, config });
    const alerting = again.mon.system.ref<AlertingProtocol>(ALERTING_NAME);
    await alerting.call({ type: 'evaluate' });
    // Forgotten at once before: its resolve time was steady time, 8 h behind the new process's clock.
    expect((await alerting.call({ type: 'get_alerts' })).map((a) => [a.id, a.resolvedAt])).toEqual([
      [alert.id, resolved.resolvedAt],
    ]);
    second.advance(300_000);
    await alerting.call({ type: 'evaluate' });
    expect(await alerting.call({ type: 'get_alerts' })).toEqual([]);
  });

  it('-1 hour: throughput and error rate keep their values, stamps never go back', async () => {
    const clock = new SteppedClock(W0);
    const tree = await startTree({ clock, config: TREE_CONFIG });
    const load = traffic(tree);
    for (let s = 0; s < 12; s++) {
      load.serve(100, 40, 5);
      clock.advance(1000);
      await check(tree);
    }
    const before = await check(tree);
    expect(before.metrics.throughput.value).toBeCloseTo(100, 6);

    clock.step(-H);
    const stampsAfter: number[] = [];
    for (let s = 0; s < 15; s++) {
      load.serve(100, 40, 5);
      clock.advance(1000);
      const report = await check(tree);
      stampsAfter.push(report.at);
      // Both read no_data for the whole hour before.
      expect(report.metrics.throughput.value).toBeCloseTo(100, 6);
      expect(report.metrics.error_rate.value).toBeCloseTo(0.05, 6);
    }
    expect(Math.min(...stampsAfter)).toBeGreaterThanOrEqual(before.at);
    await tree.mon.collector.call({ type: 'flush' });
    expect(tree.logger.records.some((r) => r.level === 'warn' && r.msg.startsWith('wall clock stepped back'))).toBe(
      true,
    );
    await tree.mon.stop();
    // The newest point of the request counter is the final total (held at the last stamp, not
    // written an hour back under older points).
    const total = (await storedPoints(tree.dataDir)).filter(
      (p) => p.name === HTTP_METRICS.requests && p.labels.code === '200',
    );
    const newest = total.reduce((a, b) => (b.ts >= a.ts ? b : a));
    expect(newest.value).toBe(27 * 95);
    expect(newest.ts).toBeGreaterThanOrEqual(before.at);
  });

  it('-1 hour: the dashboard live request rate keeps following the counter, its points never go back', async () => {
    const clock = new SteppedClock(W0);
    const tree = await startTree({ clock, config: { ...TREE_CONFIG, dashboard: { dashboard_enabled: true } } });
    const load = traffic(tree);
    const { url } = await tree.mon.dashboardAddress();
    const status = async () =>
      ((await (await fetch(`${url}/api/realtime?dashboard=main`)).json()) as RealtimeResponse).charts.status_codes![
        '2xx'
      ]!;
    load.serve(10);
    await status();
    clock.step(-H);
    let lastAt = 0;
    for (let s = 1; s <= 3; s++) {
      load.serve(20 * s);
      clock.advance(2000);
      const [at, rate] = await status();
      // Froze at its last value, then read null, for the hour before (rates ran on stamps, which hold).
      expect(rate).toBe(10 * s);
      expect(at).toBeGreaterThanOrEqual(Math.max(lastAt, W0));
      lastAt = at;
    }
  });

  it('retention pruning never folds or deletes history because the wall clock jumped (+1 day, +8 days), and still prunes as time really passes', async () => {
    const dataDir = tempDir();
    const seeded = MetricStore.open({ dataDir });
    const id = seeded.defineSeries('history.test', { name: 'history.test', type: 'gauge' });
    const points = [];
    for (let ts = W0 - 6 * H; ts <= W0; ts += 10_000) points.push({ id, ts, value: ts / 1000 });
    await seeded.flush({ points });
    await seeded.close();
    expect(points.length).toBe(2161);

    const clock = new SteppedClock(W0);
    const tree = await startTree({ clock, dataDir, config: TREE_CONFIG });
    const collector = tree.mon.system.whereis(COLLECTOR_NAME) as Pid<{
      call: never;
      replies: never;
      cast: never;
      info: { type: 'prune' };
    }>;
    const prune = async () => {
      collector.send({ type: 'prune' });
      await tree.mon.collector.call({ type: 'flush' }); // answered after the prune (one mailbox)
    };

    clock.advance(1000);
    clock.step(DAY);
    await prune(); // folded 6 h of raw history into rollups before (2,161 → 362)
    clock.step(-DAY);
    clock.advance(1000);
    clock.step(8 * DAY);
    await prune(); // deleted everything before
    expect(tree.logger.records.filter((r) => r.msg.startsWith('retention pruning skipped')).length).toBe(1);
    clock.step(-8 * DAY);

    // 20 h really pass: raw points older than 24 h before now (W0 − 4 h) are rolled up.
    clock.advance(20 * H);
    await prune();
    expect(tree.logger.records.some((r) => r.msg.startsWith('retention pruning resumed'))).toBe(true);
    await tree.mon.stop();

    const store = MetricStore.open({ dataDir });
    try {
      // (queryRange fills pruned spans from the rollups, so it is read from the cutoff.)
      const raw = store.queryRange(id, W0 - 4 * H, W0, 10_000);
      expect(raw.length).toBe(1441);
      expect(raw[0]![0]).toBe(W0 - 4 * H);
      const rollups = store.rollups(id, 0, Number.MAX_SAFE_INTEGER);
      expect(rollups.length).toBe(120);
      expect(rollups.reduce((n, r) => n + r.count, 0)).toBe(720);
    } finally {
      await store.close();
    }
  });

  it('restart after 60 s of downtime: throughput 15 s after the restart is the real rate (downtime is not averaged in)', async () => {
    const dataDir = tempDir();
    const config = { ...TREE_CONFIG, performance_monitor: { window: 60_000, slas: [] } };
    const first = new SteppedClock(W0);
    const tree = await startTree({ clock: first, dataDir, config });
    let load = traffic(tree);
    for (let s = 0; s < 120; s++) {
      load.serve(20);
      first.advance(1000);
      if (s % 5 === 4) await tree.mon.collector.call({ type: 'flush' });
      await check(tree);
    }
    await tree.mon.stop();

    // 60 s later a new process starts: a new monotonic origin, the wall clock 60 s on.
    const second = new SteppedClock(first.wall + 60_000, 500);
    const again = await startTree({ clock: second, dataDir, config });
    load = traffic(again);
    let report: PerformanceReport | undefined;
    for (let s = 0; s < 15; s++) {
      load.serve(20);
      second.advance(1000);
      if (s % 5 === 4) await again.mon.collector.call({ type: 'flush' });
      report = await check(again);
    }
    // 0.14 req/s (window 722 s) for a real ~20 req/s before.
    expect(report!.metrics.throughput.value).toBeGreaterThan(20 * 0.7);
    expect(report!.metrics.throughput.value).toBeLessThan(20 * 1.3);
    expect(report!.metrics.throughput.window_ms).toBeLessThanOrEqual(16_000);
    await until(() =>
      expect(
        again.logger.records.some((r) => r.msg.startsWith('request history has a gap while the process was down')),
      ).toBe(true),
    );
  });
});
