import { describe, expect, it } from 'vitest';
import { ALERTS_REFUSED_METRIC, AlertEngine } from '../../src/alerts/alert-engine.js';
import { AlertStore } from '../../src/alerts/alert-store.js';
import type { AlertSignal } from '../../src/alerts/signal.js';
import { loadConfig } from '../../src/config/index.js';
import type { AlertingConfig } from '../../src/config/schema.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { alertingConfig, openStore, RecordingOutbox, tempDir } from './alerting-fixture.js';

const T0 = 1_000_000;

/** An engine on a real temp LMDB store with small alert budgets and a hand-driven clock. */
async function setup(
  limits: { manual?: number; rule?: number; signal?: number },
  options: { store?: MetricStore; config?: Record<string, unknown> } = {},
) {
  const store = options.store ?? openStore(tempDir());
  const config: AlertingConfig = alertingConfig({ alert_limits: limits, ...options.config });
  const outbox = new RecordingOutbox();
  const { registry } = newRegistry();
  const log = memoryLogger();
  const alertStore = new AlertStore(store);
  const clock = { now: T0 };
  const engine = await AlertEngine.open(
    { registry, derived: new DerivedValues(), config, store: alertStore, outbox, log },
    [],
    clock.now,
  );
  const refused = (source: string) => registry.getMetric(ALERTS_REFUSED_METRIC, { source })?.value ?? 0;
  const limitLogs = () => log.records.filter((r) => String(r.msg).includes('alert limit'));
  return { engine, outbox, registry, log, clock, store, alertStore, refused, limitLogs };
}

function signal(key: string, state: AlertSignal['state'] = 'firing'): AlertSignal {
  return {
    source: 'performance_monitor',
    key,
    state,
    severity: 'warning',
    message: `${key} breached`,
    value: 2,
    threshold: 1,
    at: 0,
  };
}

async function refusal(promise: Promise<unknown>): Promise<MonitorError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(MonitorError);
  return err as MonitorError;
}

describe('alert limits', () => {
  it('refuses a manual alert past alert_limits.manual at once, naming the limit, the active count and the key, and counts it', async () => {
    const { engine, clock, refused, alertStore } = await setup({ manual: 3 });
    for (let i = 0; i < 3; i++) await engine.sendAlert('info', `disk ${i} full`, undefined, clock.now);
    const err = await refusal(engine.sendAlert('info', 'disk 3 full', undefined, clock.now));
    expect(err.code).toBe(ErrorCode.AlertLimit);
    expect(err.message).toBe(
      'manual alert limit reached: 3 manual alerts are active, the limit is 3; resolve or clear some (clearAlert(id): a cleared alert frees its place at once), or raise alert_limits.manual in alerting.json',
    );
    expect(() => engine.stageAlert('info', 'disk 4 full', undefined, clock.now)).toThrow(
      expect.objectContaining({ code: ErrorCode.AlertLimit }),
    );
    expect(refused('manual')).toBe(2);
    // A repeat of a firing alert is not a new alert: still answered.
    expect((await engine.sendAlert('info', 'disk 0 full', undefined, clock.now)).message).toBe('disk 0 full');
    expect(
      alertStore
        .load()
        .alerts.map((a) => a.message)
        .sort(),
    ).toEqual(['disk 0 full', 'disk 1 full', 'disk 2 full']);
  });

  it('keeps rule and signal alerts raised while the manual budget is full', async () => {
    const { engine, registry, clock, refused } = await setup({ manual: 2 });
    for (let i = 0; i < 2; i++) await engine.sendAlert('info', `m${i}`, undefined, clock.now);
    await expect(engine.sendAlert('info', 'm2', undefined, clock.now)).rejects.toMatchObject({
      code: ErrorCode.AlertLimit,
    });
    registry.gauge('queue.depth').set(50);
    await engine.addRule({ name: 'deep', metric: 'queue.depth', condition: 'gt', threshold: 10, severity: 'info' });
    await engine.evaluate(clock.now);
    await engine.signal(signal('latency.p95'), clock.now);
    expect(
      engine
        .activeAlerts()
        .map((a) => a.source)
        .sort(),
    ).toEqual(['api', 'api', 'performance_monitor', 'rule:deep']);
    expect([refused('manual'), refused('rule'), refused('signal')]).toEqual([1, 0, 0]);
  });

  it('refuses signal alerts past alert_limits.signal, logging once per full/room change, without touching manual alerts', async () => {
    const { engine, clock, refused, limitLogs } = await setup({ signal: 2 });
    for (const key of ['a', 'b', 'c', 'd']) await engine.signal(signal(key), clock.now);
    expect(engine.activeAlerts().map((a) => a.title)).toEqual(['WARNING Alert: a', 'WARNING Alert: b']);
    expect(refused('signal')).toBe(2);
    expect(limitLogs().map((r) => r.msg)).toEqual([
      'signal alert limit reached: 2 signal alerts are active, the limit is 2; resolve some, or raise alert_limits.signal in alerting.json',
    ]);
    await engine.sendAlert('info', 'manual still fits', undefined, clock.now);
    await engine.signal(signal('a', 'resolved'), clock.now);
    await engine.signal(signal('c'), clock.now);
    expect(engine.activeAlerts().map((a) => a.title)).toContain('WARNING Alert: c');
    expect(limitLogs().map((r) => r.msg)).toHaveLength(2);
    expect(limitLogs()[1]!.msg).toBe('alert limit: room again for signal alerts');
  });

  it('raises a rule alert refused at alert_limits.rule at a later evaluation, once there is room', async () => {
    const { engine, registry, clock, refused } = await setup({ rule: 1 });
    const depth = registry.gauge('queue.depth', { labels: ['queue'] });
    depth.set({ queue: 'a' }, 50);
    depth.set({ queue: 'b' }, 50);
    await engine.addRule({ name: 'deep', metric: 'queue.depth', condition: 'gt', threshold: 10, severity: 'info' });
    await engine.evaluate(clock.now);
    expect(engine.activeAlerts().map((a) => a.labels.queue)).toEqual(['a']);
    expect(refused('rule')).toBe(1);
    clock.now += 1000;
    await engine.evaluate(clock.now);
    expect(refused('rule')).toBe(1); // the retry while still full is not another refusal
    depth.set({ queue: 'a' }, 0);
    clock.now += 1000;
    await engine.evaluate(clock.now);
    expect(engine.activeAlerts().map((a) => a.labels.queue)).toEqual(['b']);
  });

  it('frees a place when an alert is cleared, unless its resolved notification is still to be queued', async () => {
    const { engine, outbox, clock } = await setup({ manual: 1 });
    const first = await engine.sendAlert('critical', 'db down', undefined, clock.now);
    await engine.clearAlert(first.id, clock.now);
    // The resolved notification was queued, so the resolved alert gives up its place at once.
    const second = await engine.sendAlert('critical', 'db still down', undefined, clock.now);
    expect(engine.allAlerts().map((a) => a.id)).toEqual([second.id]);
    outbox.failures = 1000;
    await engine.clearAlert(second.id, clock.now);
    const err = await refusal(engine.sendAlert('critical', 'db down again', undefined, clock.now));
    expect(err.message).toMatch(
      /^manual alert limit reached: 0 manual alerts are active and 1 resolved ones still wait to send their resolved notification, the limit is 1;/,
    );
  });

  it('frees the place of a resolved alert removed after alert_timeout', async () => {
    const { engine, outbox, clock, alertStore } = await setup({ manual: 1 }, { config: { alert_timeout: 60_000 } });
    const first = await engine.sendAlert('critical', 'db down', undefined, clock.now);
    outbox.failures = 1000;
    await engine.clearAlert(first.id, clock.now);
    await expect(engine.sendAlert('info', 'next', undefined, clock.now)).rejects.toMatchObject({
      code: ErrorCode.AlertLimit,
    });
    clock.now += 60_001;
    await engine.tick(clock.now);
    const next = await engine.sendAlert('info', 'next', undefined, clock.now);
    expect(alertStore.load().alerts.map((a) => a.id)).toEqual([next.id]);
  });

  it('counts the alerts loaded at start against their budget, also when it was lowered below them', async () => {
    const store = openStore(tempDir());
    const a = await setup({ manual: 3 }, { store });
    const ids: string[] = [];
    for (const m of ['one', 'two', 'three']) ids.push((await a.engine.sendAlert('info', m, undefined, a.clock.now)).id);
    const b = await setup({ manual: 1 }, { store });
    const refused = await refusal(b.engine.sendAlert('info', 'four', undefined, b.clock.now));
    expect(refused.message).toMatch(/^manual alert limit reached: 3 manual alerts are active, the limit is 1;/);
    await b.engine.clearAlert(ids[0], b.clock.now);
    await b.engine.clearAlert(ids[1], b.clock.now);
    await expect(b.engine.sendAlert('info', 'four', undefined, b.clock.now)).rejects.toMatchObject({
      code: ErrorCode.AlertLimit,
    });
    await b.engine.clearAlert(ids[2], b.clock.now);
    const four = await b.engine.sendAlert('info', 'four', undefined, b.clock.now);
    expect(b.engine.allAlerts().map((x) => x.id)).toEqual([four.id]);
  });

  it('writes the alerts staged before a commit in one transaction and settles committed() when they are durable', async () => {
    const { engine, clock, alertStore } = await setup({});
    const before = alertStore.commits;
    const staged = Array.from({ length: 500 }, (_, i) =>
      engine.stageAlert('info', `burst ${i}`, { n: String(i) }, clock.now),
    );
    const committed = engine.committed();
    expect(alertStore.load().alerts).toHaveLength(0);
    await engine.commit();
    await committed;
    expect(alertStore.commits - before).toBe(1);
    expect(new Set(alertStore.load().alerts.map((a) => a.id))).toEqual(new Set(staged.map((a) => a.id)));
    expect(engine.staged).toBe(false);
  });

  it('queues the notifications of a staged batch together and records them in the same commit pass', async () => {
    const { engine, outbox, clock, alertStore } = await setup({});
    const before = alertStore.commits;
    for (let i = 0; i < 50; i++) engine.stageAlert('critical', `burst ${i}`, undefined, clock.now);
    await engine.commit();
    expect(outbox.queued).toHaveLength(50);
    // One transaction for the alerts, one for the bookkeeping of what was notified.
    expect(alertStore.commits - before).toBe(2);
    expect(alertStore.load().alerts.every((a) => a.notifiedAt === clock.now && a.notifications === 1)).toBe(true);
  });

  it('rejects committed() with EMON_STORE_FAILED when the commit fails', async () => {
    const { engine, clock, store } = await setup({});
    engine.stageAlert('info', 'never written', undefined, clock.now);
    const committed = engine.committed().catch((e: unknown) => e);
    await store.close();
    await expect(engine.commit()).rejects.toMatchObject({ code: ErrorCode.StoreFailed });
    expect(await committed).toMatchObject({ code: ErrorCode.StoreFailed });
  });

  it('reads alert_limits from alerting.json with defaults, and refuses a budget below 1', () => {
    expect(loadConfig({ env: {} }).alerting.alert_limits).toEqual({ manual: 10_000, rule: 10_000, signal: 1000 });
    expect(() => loadConfig({ env: {}, overrides: { alerting: { alert_limits: { manual: 0 } } } })).toThrow(
      /alerting\.alert_limits\.manual.*expected an integer from 1 to 1000000 \(alerts\)/,
    );
  });
});
