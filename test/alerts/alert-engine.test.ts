import { describe, expect, it } from 'vitest';
import { AlertEngine } from '../../src/alerts/alert-engine.js';
import { AlertStore } from '../../src/alerts/alert-store.js';
import type { RuleInput } from '../../src/alerts/rule.js';
import type { AlertSignal } from '../../src/alerts/signal.js';
import type { AlertingConfig } from '../../src/config/schema.js';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { memoryLogger } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';
import { alertingConfig, openStore, RecordingOutbox, tempDir } from './alerting-fixture.js';

/** An engine on a real temp LMDB store with a recording outbox and a hand-driven clock. */
async function setup(
  options: { config?: AlertingConfig; rules?: RuleInput[]; store?: MetricStore; dir?: string } = {},
) {
  const dir = options.dir ?? tempDir();
  const store = options.store ?? openStore(dir);
  const outbox = new RecordingOutbox();
  const { registry } = newRegistry();
  const derived = new DerivedValues();
  const log = memoryLogger();
  const clock = { now: 1_000_000 };
  const engine = await AlertEngine.open(
    {
      registry,
      derived,
      config: options.config ?? alertingConfig(),
      store: new AlertStore(store),
      outbox,
      log,
      dashboardUrl: 'http://127.0.0.1:8080/',
    },
    options.rules ?? [],
    clock.now,
  );
  /** Moves the clock to `t` ms after the start and runs the periodic pass. */
  const tickAt = (t: number) => {
    clock.now = 1_000_000 + t;
    return engine.tick(clock.now);
  };
  return { engine, outbox, registry, derived, log, clock, store, dir, tickAt };
}

function signal(fields: Partial<AlertSignal> = {}): AlertSignal {
  return {
    source: 'performance_monitor',
    key: 'latency.p95',
    state: 'firing',
    severity: 'warning',
    message: 'latency p95 182 ms > 100 ms',
    value: 182,
    threshold: 100,
    at: 0,
    ...fields,
  };
}

describe('AlertEngine', () => {
  describe('send_alert and routing', () => {
    it('routes by severity with the source table: critical → email, sms, slack; error → email, slack; warning → slack; info → none', async () => {
      const { engine, outbox, clock } = await setup();
      for (const severity of ['critical', 'error', 'warning', 'info'] as const)
        await engine.sendAlert(severity, `${severity} happened`, undefined, clock.now);
      expect(outbox.summary()).toEqual(['firing email,sms,slack', 'firing email,slack', 'firing slack']);
      expect(engine.activeAlerts().map((a) => a.severity)).toEqual(['critical', 'error', 'warning', 'info']);
    });

    it('uses only channels enabled in config, and the routing overrides', async () => {
      const config = alertingConfig({
        channels: { slack: { enabled: true, webhook: 'http://127.0.0.1:9/s' } },
        routing: { info: ['webhook', 'slack'] },
      });
      const { engine, outbox, clock } = await setup({ config });
      await engine.sendAlert('critical', 'disk full', undefined, clock.now);
      await engine.sendAlert('info', 'deploy done', undefined, clock.now);
      expect(outbox.summary()).toEqual(['firing slack', 'firing slack']);
    });

    it('deduplicates: the same alert sent again while firing is the same alert, notified once', async () => {
      const { engine, outbox, clock } = await setup();
      const first = await engine.sendAlert('error', 'db down', { db: 'main' }, clock.now);
      clock.now += 5000;
      const again = await engine.sendAlert('error', 'db down', { db: 'main' }, clock.now);
      expect(again.id).toBe(first.id);
      expect(again.lastSeenAt).toBe(clock.now);
      expect(engine.activeAlerts()).toHaveLength(1);
      expect(outbox.queued).toHaveLength(1);
      const other = await engine.sendAlert('error', 'db down', { db: 'replica' }, clock.now);
      expect(other.id).not.toBe(first.id);
      expect(other.fingerprint).not.toBe(first.fingerprint);
    });

    it('carries a message with <script>, quotes and newlines unchanged, as data, into the Notification', async () => {
      const { engine, outbox, clock } = await setup();
      const message = `<script>alert("x")</script> it's "quoted"\nsecond line\r\n\t& more`;
      const alert = await engine.sendAlert('critical', message, { route: '</td><img src=x onerror=1>' }, clock.now);
      const n = outbox.queued[0]!.notification;
      expect(n.alert.message).toBe(message);
      expect(n.alert.labels).toEqual({ route: '</td><img src=x onerror=1>' });
      expect(n.alert.title).toBe('CRITICAL Alert: <script>alert("x")</script> it\'s "quoted"');
      expect(n).toEqual({
        id: `${alert.id}:firing`,
        reason: 'firing',
        createdAt: clock.now,
        alert: {
          id: alert.id,
          fingerprint: alert.fingerprint,
          severity: 'critical',
          status: 'firing',
          title: alert.title,
          message,
          source: 'api',
          labels: { route: '</td><img src=x onerror=1>' },
          annotations: {},
          startedAt: clock.now,
          generatorUrl: `http://127.0.0.1:8080/#alert=${alert.id}`,
        },
      });
    });

    it('refuses a bad severity, message or labels with a clear error', async () => {
      const { engine, clock } = await setup({
        config: alertingConfig({ severity_levels: ['warning', 'error', 'critical'] }),
      });
      await expect(engine.sendAlert('info', 'x', undefined, clock.now)).rejects.toMatchObject({
        code: ErrorCode.InvalidAlert,
        message: 'send_alert: invalid severity "info" (allowed: "warning", "error", "critical")',
      });
      await expect(engine.sendAlert('error', '', undefined, clock.now)).rejects.toMatchObject({
        code: ErrorCode.InvalidAlert,
        message: 'send_alert: message must be a non-empty string of at most 10000 characters, got ""',
      });
      await expect(engine.sendAlert('error', 'x', { 'bad-name': 'v' }, clock.now)).rejects.toMatchObject({
        code: ErrorCode.InvalidAlert,
      });
      expect(engine.activeAlerts()).toEqual([]);
    });

    it('clears an alert: resolved, a resolved notification to the channels it went to, and an error for an unknown id', async () => {
      const { engine, outbox, clock } = await setup();
      const alert = await engine.sendAlert('error', 'queue stuck', undefined, clock.now);
      clock.now += 1000;
      const cleared = await engine.clearAlert(alert.id, clock.now);
      expect(cleared).toMatchObject({ status: 'resolved', resolvedAt: clock.now });
      expect(engine.activeAlerts()).toEqual([]);
      expect(outbox.summary()).toEqual(['firing email,slack', 'resolved email,slack']);
      expect(outbox.queued[1]!.notification).toMatchObject({
        id: `${alert.id}:resolved`,
        alert: { status: 'resolved', resolvedAt: clock.now },
      });
      await expect(engine.clearAlert('nope', clock.now)).rejects.toMatchObject({
        code: ErrorCode.NotFound,
        message: 'no alert with id "nope" (it may have been cleaned up after alert_timeout)',
      });
    });

    it('does not notify at all while alert_enabled is false', async () => {
      const { engine, outbox, clock, tickAt } = await setup({ config: alertingConfig({ alert_enabled: false }) });
      const alert = await engine.sendAlert('critical', 'x', undefined, clock.now);
      await engine.signal(signal({ severity: 'warning' }), clock.now);
      await engine.signal(signal({ severity: 'critical' }), clock.now);
      await tickAt(120_000);
      await engine.clearAlert(alert.id, clock.now);
      expect(outbox.queued).toEqual([]);
    });

    it('retries a notification the outbox refused at the next tick, with the same id', async () => {
      const { engine, outbox, clock, log, tickAt } = await setup();
      outbox.failures = 1;
      const alert = await engine.sendAlert('warning', 'x', undefined, clock.now);
      expect(outbox.queued).toEqual([]);
      expect(
        log.records.some((r) => r.level === 'error' && r.msg.startsWith('could not queue an alert notification')),
      ).toBe(true);
      await tickAt(1000);
      expect(outbox.queued.map((q) => q.notification.id)).toEqual([`${alert.id}:firing`]);
    });
  });

  describe('suppression window', () => {
    it('holds back a repeat of the same fingerprint inside the window, and sends it once the window has passed', async () => {
      const { engine, outbox, clock, tickAt } = await setup({
        config: alertingConfig({ suppression_window: 600_000 }),
      });
      const first = await engine.sendAlert('warning', 'cache miss storm', undefined, clock.now);
      await tickAt(10_000);
      await engine.clearAlert(first.id, clock.now);
      await tickAt(20_000);
      const repeat = await engine.sendAlert('warning', 'cache miss storm', undefined, clock.now);
      expect(repeat.id).not.toBe(first.id);
      expect(repeat.fingerprint).toBe(first.fingerprint);
      await tickAt(599_999);
      expect(outbox.summary()).toEqual(['firing slack', 'resolved slack']);
      await tickAt(600_000);
      expect(outbox.queued.map((q) => q.notification.id)).toEqual([
        `${first.id}:firing`,
        `${first.id}:resolved`,
        `${repeat.id}:firing`,
      ]);
    });

    it('notifies every repeat when suppression is disabled', async () => {
      const { engine, outbox, clock } = await setup({ config: alertingConfig({ suppression_enabled: false }) });
      for (let i = 0; i < 3; i++) {
        const alert = await engine.sendAlert('warning', 'flap', undefined, clock.now);
        await engine.clearAlert(alert.id, clock.now);
      }
      expect(outbox.summary()).toEqual([
        'firing slack',
        'resolved slack',
        'firing slack',
        'resolved slack',
        'firing slack',
        'resolved slack',
      ]);
    });

    it('stops a flapping signal from spamming: one firing and one resolved notification per window', async () => {
      const { engine, outbox, tickAt, clock } = await setup();
      for (let t = 0; t < 300_000; t += 20_000) {
        await tickAt(t);
        await engine.signal(signal({ state: t % 40_000 === 0 ? 'firing' : 'resolved', at: t }), clock.now);
      }
      expect(outbox.summary()).toEqual(['firing slack', 'resolved slack']);
      expect(engine.allAlerts().length).toBeGreaterThan(5);
    });
  });

  describe('silences', () => {
    it('stop notifications of matching alerts only, and let them out when the silence is expired', async () => {
      const { engine, outbox, clock, tickAt } = await setup();
      const silence = await engine.addSilence(
        {
          matchers: [{ name: 'team', op: '=', value: 'db' }],
          endsAt: clock.now + 3_600_000,
          createdBy: 'ana',
          comment: 'migration',
        },
        clock.now,
      );
      const silenced = await engine.sendAlert('critical', 'replication lag', { team: 'db' }, clock.now);
      await engine.sendAlert('critical', 'api down', { team: 'api' }, clock.now);
      await tickAt(120_000);
      expect(outbox.queued.map((q) => q.notification.alert.message)).toEqual(['api down', 'api down']);
      expect(engine.activeAlerts().map((a) => a.id)).toContain(silenced.id);
      expect(engine.listSilences(clock.now)).toEqual([{ ...silence, state: 'active' }]);

      const expired = await engine.expireSilence(silence.id, clock.now);
      expect(expired.endsAt).toBe(clock.now);
      expect(engine.listSilences(clock.now)[0]!.state).toBe('expired');
      expect(outbox.queued.at(-1)).toMatchObject({
        notification: { id: `${silenced.id}:firing` },
        channels: ['email', 'sms', 'slack'],
      });
    });

    it('match severity and source as well as labels, and stop repeats of a firing alert', async () => {
      const { engine, outbox, clock, tickAt } = await setup();
      await engine.sendAlert('critical', 'x', undefined, clock.now);
      await engine.addSilence(
        {
          matchers: [
            { name: 'severity', op: '=~', value: 'crit.*' },
            { name: 'source', op: '=', value: 'api' },
          ],
          endsAt: clock.now + 600_000,
          createdBy: 'bo',
          comment: 'known',
        },
        clock.now,
      );
      for (let t = 60_000; t <= 300_000; t += 60_000) await tickAt(t);
      expect(outbox.summary()).toEqual(['firing email,sms,slack']);
    });

    it('do not hold back the resolution of an alert that was notified before the silence', async () => {
      const { engine, outbox, clock } = await setup();
      const alert = await engine.sendAlert('warning', 'x', { team: 'db' }, clock.now);
      await engine.addSilence(
        {
          matchers: [{ name: 'team', op: '=', value: 'db' }],
          endsAt: clock.now + 600_000,
          createdBy: 'a',
          comment: 'b',
        },
        clock.now,
      );
      await engine.clearAlert(alert.id, clock.now);
      expect(outbox.summary()).toEqual(['firing slack', 'resolved slack']);
    });

    it('take effect from startsAt, and end by themselves at endsAt', async () => {
      const { engine, outbox, clock, tickAt } = await setup({ config: alertingConfig({ escalation_policy: {} }) });
      await engine.addSilence(
        {
          matchers: [{ name: 'source', op: '=', value: 'api' }],
          startsAt: clock.now + 60_000,
          endsAt: clock.now + 120_000,
          createdBy: 'c',
          comment: 'window',
        },
        clock.now,
      );
      expect(engine.listSilences(clock.now)[0]!.state).toBe('pending');
      await engine.sendAlert('warning', 'before', undefined, clock.now);
      await tickAt(60_000);
      await engine.sendAlert('warning', 'during', undefined, clock.now);
      await tickAt(119_999);
      expect(outbox.queued.map((q) => q.notification.alert.message)).toEqual(['before']);
      await tickAt(120_000);
      expect(outbox.queued.map((q) => q.notification.alert.message)).toEqual(['before', 'during']);
    });

    it('refuse bad input with EMON_INVALID_SILENCE', async () => {
      const { engine, clock } = await setup();
      const ok = {
        matchers: [{ name: 'a', op: '=', value: 'b' }],
        endsAt: clock.now + 1000,
        createdBy: 'x',
        comment: 'y',
      };
      await expect(engine.addSilence({ ...ok, endsAt: clock.now - 1 }, clock.now)).rejects.toMatchObject({
        code: ErrorCode.InvalidSilence,
        message: `silence: endsAt (${clock.now - 1}) is not in the future (now is ${clock.now})`,
      });
      await expect(engine.addSilence({ ...ok, createdBy: ' ' }, clock.now)).rejects.toMatchObject({
        code: ErrorCode.InvalidSilence,
        message: 'silence: createdBy must be a non-empty string of at most 1000 characters, got " "',
      });
      await expect(engine.addSilence({ ...ok, startsAt: clock.now + 2000 }, clock.now)).rejects.toMatchObject({
        message: `silence: endsAt (${clock.now + 1000}) must be after startsAt (${clock.now + 2000})`,
      });
      await expect(engine.expireSilence('nope', clock.now)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    });
  });

  describe('escalation', () => {
    it('re-notifies on the configured interval while firing, widening the channel set, and resolves to every channel notified', async () => {
      const config = alertingConfig({
        routing: { warning: ['slack'] },
        escalation_policy: { warning: { channels: ['email', 'slack'], interval: 60 } },
      });
      const { engine, outbox, clock, tickAt } = await setup({ config });
      const alert = await engine.sendAlert('warning', 'slow', undefined, clock.now);
      await tickAt(59_000);
      expect(outbox.summary()).toEqual(['firing slack']);
      await tickAt(60_000);
      await tickAt(90_000);
      await tickAt(119_999);
      expect(outbox.summary()).toEqual(['firing slack', 'renotify slack,email']);
      await tickAt(120_000);
      await engine.clearAlert(alert.id, clock.now);
      await tickAt(240_000);
      expect(outbox.summary()).toEqual([
        'firing slack',
        'renotify slack,email',
        'renotify slack,email',
        'resolved slack,email',
      ]);
      expect(outbox.queued.map((q) => q.notification.id)).toEqual([
        `${alert.id}:firing`,
        `${alert.id}:renotify:1`,
        `${alert.id}:renotify:2`,
        `${alert.id}:resolved`,
      ]);
    });

    it("follows the policy: critical every 60 s, error every 300 s, warning every 600 s (the source design's intervals)", async () => {
      const { engine, outbox, clock, tickAt } = await setup({ config: alertingConfig({ suppression_enabled: false }) });
      await engine.sendAlert('critical', 'c', undefined, clock.now);
      await engine.sendAlert('error', 'e', undefined, clock.now);
      await engine.sendAlert('warning', 'w', undefined, clock.now);
      await engine.sendAlert('info', 'i', undefined, clock.now);
      for (let t = 10_000; t <= 600_000; t += 10_000) await tickAt(t);
      const count = (message: string) =>
        outbox.queued.filter((q) => q.notification.alert.message === message && q.notification.reason === 'renotify')
          .length;
      expect([count('c'), count('e'), count('w'), count('i')]).toEqual([10, 2, 1, 0]);
    });
  });

  describe('cleanup', () => {
    it('removes resolved alerts once they are older than alert_timeout, from memory and the store', async () => {
      const { engine, clock, tickAt, store } = await setup({ config: alertingConfig({ alert_timeout: 300_000 }) });
      const alert = await engine.sendAlert('warning', 'x', undefined, clock.now);
      const firing = await engine.sendAlert('warning', 'still firing', undefined, clock.now);
      await tickAt(1000);
      await engine.clearAlert(alert.id, clock.now);
      await tickAt(301_000);
      expect(
        engine
          .allAlerts()
          .map((a) => a.id)
          .sort(),
      ).toEqual([alert.id, firing.id].sort());
      await tickAt(301_001);
      expect(engine.allAlerts().map((a) => a.id)).toEqual([firing.id]);
      expect(store.records('alerts').get(alert.id)).toBeUndefined();
      expect(store.records('alerts').get(firing.id)).toMatchObject({ status: 'firing' });
    });
  });

  describe('rules', () => {
    it('read a gauge per matching series: pending for duration, firing with its labels and annotations, resolved when it ends', async () => {
      const { engine, outbox, registry, tickAt, clock } = await setup();
      const queue = registry.gauge('queue.depth', { labels: ['queue'] });
      await engine.addRule({
        name: 'queue_backlog',
        metric: 'queue.depth',
        matchers: [{ name: 'queue', op: '=~', value: 'orders|mail' }],
        condition: 'gt',
        threshold: 100,
        duration: 20_000,
        severity: 'error',
        labels: { team: 'shop' },
        annotations: {
          summary: 'Backlog on {{ $labels.queue }}',
          description: '{{$labels.queue}} has {{ $value }} items (> {{ $threshold }})',
          runbook_url: 'https://runbooks.example/queue',
        },
      });
      queue.set(500, { queue: 'orders' });
      queue.set(900, { queue: 'audit' });
      const steps: string[] = [];
      for (const t of [0, 10_000, 20_000]) {
        if (t === 10_000) {
          expect(engine.alertViews()).toEqual([
            {
              id: expect.stringMatching(/^pending:[0-9a-f]{16}$/),
              severity: 'error',
              status: 'pending',
              title: 'Backlog on orders',
              message: 'orders has 500 items (> 100)',
              source: 'rule:queue_backlog',
              labels: { alertname: 'queue_backlog', queue: 'orders', team: 'shop' },
              startedAt: 1_000_000,
            },
          ]);
        }
        await tickAt(t);
        const s = await engine.evaluate(clock.now);
        steps.push(`${s.pending}p${s.firing}f`);
      }
      expect(steps).toEqual(['1p0f', '0p0f', '0p1f']);
      expect(engine.alertViews().map((v) => [v.status, v.title])).toEqual([['firing', 'Backlog on orders']]);
      const [alert] = engine.activeAlerts();
      expect(alert).toMatchObject({
        severity: 'error',
        source: 'rule:queue_backlog',
        title: 'Backlog on orders',
        message: 'orders has 500 items (> 100)',
        labels: { alertname: 'queue_backlog', queue: 'orders', team: 'shop' },
        annotations: { runbook_url: 'https://runbooks.example/queue' },
        startedAt: clock.now,
        value: 500,
        threshold: 100,
      });
      expect(outbox.summary()).toEqual(['firing email,slack']);
      queue.set(10, { queue: 'orders' });
      await tickAt(30_000);
      expect(await engine.evaluate(clock.now)).toMatchObject({ resolved: 1 });
      expect(engine.activeAlerts()).toEqual([]);
      expect(outbox.summary()).toEqual(['firing email,slack', 'resolved email,slack']);
    });

    it("render their text again with the value of each evaluation; firingNotified gives it with the alert's link", async () => {
      const { engine, outbox, registry, clock } = await setup();
      const depth = registry.gauge('jobs.waiting');
      await engine.addRule({
        name: 'jobs_backlog',
        metric: 'jobs.waiting',
        condition: 'gt',
        threshold: 10,
        severity: 'warning',
        annotations: { description: 'waiting: {{ $value }}' },
      });
      depth.set(42);
      await engine.evaluate(clock.now);
      const [alert] = engine.activeAlerts();
      expect(outbox.queued[0]!.notification.alert.annotations.description).toBe('waiting: 42');
      depth.set(57);
      clock.now += 1000;
      await engine.evaluate(clock.now);
      expect(engine.firingNotified(alert!.fingerprint)).toMatchObject({
        id: alert!.id,
        labels: { alertname: 'jobs_backlog' },
        annotations: { description: 'waiting: 57' },
        message: 'waiting: 57',
        generatorUrl: `http://127.0.0.1:8080/#alert=${alert!.id}`,
      });
      expect(engine.firingNotified('no-such-fingerprint')).toBeUndefined();
    });

    it('read a histogram statistic over its window, and a derived value', async () => {
      const { engine, registry, derived, clock } = await setup();
      const h = registry.histogram('http.latency', { labels: ['route'] });
      for (let i = 1; i <= 100; i++) h.observe(i * 10, { route: '/api' });
      await engine.addRule({
        name: 'p99_slow',
        metric: 'http.latency',
        stat: 'p99',
        condition: 'gt',
        threshold: 900,
        severity: 'warning',
      });
      await engine.addRule({
        name: 'few_requests',
        metric: 'http.latency',
        stat: 'count',
        condition: 'lt',
        threshold: 200,
        severity: 'info',
      });
      await engine.addRule({
        name: 'p95_derived',
        metric: 'latency.p95',
        condition: 'ge',
        threshold: 100,
        severity: 'critical',
      });
      derived.set('latency.p95', { value: 182.4, at: clock.now });
      await engine.evaluate(clock.now);
      const byRule = Object.fromEntries(engine.activeAlerts().map((a) => [a.source, a.value]));
      expect(byRule['rule:few_requests']).toBe(100);
      expect(byRule['rule:p95_derived']).toBe(182.4);
      expect(byRule['rule:p99_slow']).toBeGreaterThan(980);
      expect(byRule['rule:p99_slow']).toBeLessThan(1010);
    });

    it('are unique by name, and removing one resolves its alerts', async () => {
      const { engine, derived, outbox, clock } = await setup();
      const rule = { name: 'r', metric: 'error_rate', condition: 'gt', threshold: 0.01, severity: 'critical' } as const;
      await engine.addRule(rule);
      await expect(engine.addRule(rule)).rejects.toMatchObject({
        code: ErrorCode.InvalidRule,
        message: 'rule "r" already exists (remove it first to replace it)',
      });
      derived.set('error_rate', { value: 0.2, at: clock.now });
      await engine.evaluate(clock.now);
      expect(engine.activeAlerts()).toHaveLength(1);
      await engine.removeRule('r', clock.now);
      expect(engine.activeAlerts()).toEqual([]);
      expect(engine.listRules()).toEqual([]);
      expect(outbox.summary()).toEqual(['firing email,sms,slack', 'resolved email,sms,slack']);
      await expect(engine.removeRule('r', clock.now)).rejects.toMatchObject({
        code: ErrorCode.NotFound,
        message: 'no rule named "r"',
      });
    });

    it('start over after a rule alert is cleared by hand: pending again for the duration', async () => {
      const { engine, derived, clock, tickAt } = await setup();
      await engine.addRule({
        name: 'r',
        metric: 'cpu',
        condition: 'gt',
        threshold: 80,
        duration: 30_000,
        severity: 'warning',
      });
      derived.set('cpu', { value: 95, at: 0 });
      await engine.evaluate(clock.now);
      await tickAt(30_000);
      await engine.evaluate(clock.now);
      const [alert] = engine.activeAlerts();
      await engine.clearAlert(alert!.id, clock.now);
      await tickAt(40_000);
      await engine.evaluate(clock.now);
      expect(engine.listRules()[0]!.instances.map((i) => i.state)).toEqual(['pending']);
      await tickAt(70_000);
      await engine.evaluate(clock.now);
      expect(engine.activeAlerts()).toHaveLength(1);
      expect(engine.activeAlerts()[0]!.id).not.toBe(alert!.id);
    });

    it('refuse a start-argument rule given twice, failing the open', async () => {
      const rule: RuleInput = { name: 'dup', metric: 'cpu', condition: 'gt', threshold: 1, severity: 'info' };
      await expect(setup({ rules: [rule, rule] })).rejects.toThrow(
        new MonitorError(ErrorCode.InvalidRule, 'rule "dup" is given twice'),
      );
    });
  });

  describe('signals', () => {
    it('raise once, refresh on repeats, resolve on resolved', async () => {
      const { engine, outbox, clock } = await setup();
      await engine.signal(signal(), clock.now);
      clock.now += 5000;
      await engine.signal(signal({ message: 'latency p95 250 ms > 100 ms', value: 250 }), clock.now);
      const [alert] = engine.activeAlerts();
      expect(alert).toMatchObject({
        source: 'performance_monitor',
        title: 'WARNING Alert: latency.p95',
        message: 'latency p95 250 ms > 100 ms',
        value: 250,
        threshold: 100,
        lastSeenAt: clock.now,
      });
      // Named by what is watched (the threshold/SLA key), not by the severity and text of its title.
      expect(alert!.labels).toEqual({ alertname: 'latency.p95' });
      await engine.signal(signal({ state: 'resolved' }), clock.now);
      expect(engine.activeAlerts()).toEqual([]);
      expect(outbox.summary()).toEqual(['firing slack', 'resolved slack']);
    });

    it('re-notify at once, to the wider channel set, when a firing signal becomes more severe', async () => {
      const { engine, outbox, clock } = await setup();
      await engine.signal(signal({ severity: 'warning' }), clock.now);
      clock.now += 5000;
      await engine.signal(signal({ severity: 'critical', message: 'latency p95 2 s' }), clock.now);
      clock.now += 5000;
      await engine.signal(signal({ severity: 'error', message: 'latency p95 400 ms' }), clock.now);
      expect(outbox.summary()).toEqual(['firing slack', 'renotify email,sms,slack']);
      expect(engine.activeAlerts()[0]).toMatchObject({ severity: 'error', channels: ['slack', 'email', 'sms'] });
    });

    it('retitle a firing alert whose severity changed (its title names the severity)', async () => {
      const { engine, clock } = await setup();
      await engine.signal(signal({ severity: 'warning' }), clock.now);
      expect(engine.activeAlerts()[0]!.title).toBe('WARNING Alert: latency.p95');
      clock.now += 5000;
      await engine.signal(signal({ severity: 'error' }), clock.now);
      expect(engine.activeAlerts()[0]).toMatchObject({ severity: 'error', title: 'ERROR Alert: latency.p95' });
      expect(engine.alertViews().find((v) => v.status !== 'pending')).toMatchObject({
        severity: 'error',
        title: 'ERROR Alert: latency.p95',
      });
    });

    it('keep different keys and labels apart', async () => {
      const { engine, clock } = await setup();
      await engine.signal(signal(), clock.now);
      await engine.signal(signal({ key: 'error_rate' }), clock.now);
      await engine.signal(signal({ labels: { sla: 'uptime' } }), clock.now);
      expect(new Set(engine.activeAlerts().map((a) => a.fingerprint)).size).toBe(3);
    });

    it('refuse a malformed signal', async () => {
      const { engine, clock } = await setup();
      await expect(engine.signal({ ...signal(), state: 'on' }, clock.now)).rejects.toMatchObject({
        code: ErrorCode.InvalidAlert,
        message: 'signal performance_monitor/latency.p95: state must be "firing" or "resolved", got "on"',
      });
      await expect(engine.signal({ ...signal(), value: Number.POSITIVE_INFINITY }, clock.now)).rejects.toMatchObject({
        message: 'signal performance_monitor/latency.p95: value must be a finite number, got Infinity',
      });
    });
  });

  describe('persistence', () => {
    it('reopens with alerts, silences, added rules, pending durations and suppression marks as they were', async () => {
      const dir = tempDir();
      const store = openStore(dir);
      const a = await setup({ store });
      await a.engine.addRule({
        name: 'slow',
        metric: 'latency.p95',
        condition: 'gt',
        threshold: 100,
        duration: 60_000,
        severity: 'error',
      });
      a.derived.set('latency.p95', { value: 300, at: 0 });
      await a.engine.evaluate(a.clock.now);
      const alert = await a.engine.sendAlert('critical', 'disk full', { host: 'db1' }, a.clock.now);
      const cleared = await a.engine.sendAlert('warning', 'flappy', undefined, a.clock.now);
      await a.engine.clearAlert(cleared.id, a.clock.now);
      const silence = await a.engine.addSilence(
        {
          matchers: [{ name: 'host', op: '=', value: 'db2' }],
          endsAt: a.clock.now + 3_600_000,
          createdBy: 'ana',
          comment: 'maintenance',
        },
        a.clock.now,
      );

      const b = await setup({ store });
      expect(b.engine.activeAlerts()).toEqual(a.engine.activeAlerts());
      expect(b.engine.allAlerts().find((x) => x.id === cleared.id)).toMatchObject({ status: 'resolved' });
      expect(b.engine.listSilences(b.clock.now)).toEqual([{ ...silence, state: 'active' }]);
      expect(b.engine.listRules()).toEqual(a.engine.listRules());
      // The pending duration continues from the first run: firing 60 s after it began, not after the reopen.
      b.derived.set('latency.p95', { value: 300, at: 0 });
      await b.tickAt(60_000);
      await b.engine.evaluate(b.clock.now);
      expect(b.engine.activeAlerts().map((x) => x.source)).toContain('rule:slow');
      // The suppression mark of "flappy" survived: sending it again inside the window notifies nothing.
      await b.engine.sendAlert('warning', 'flappy', undefined, b.clock.now);
      expect(b.outbox.queued.filter((q) => q.notification.alert.message === 'flappy')).toEqual([]);
      // The reopen notified nothing again: the critical alert only got its escalation re-notify (60 s).
      expect(b.outbox.queued.filter((q) => q.notification.alert.id === alert.id).map((q) => q.notification.id)).toEqual(
        [`${alert.id}:renotify:1`],
      );
    });

    it('resolves, on reopen, the alerts of rules that are no longer given', async () => {
      const dir = tempDir();
      const store = openStore(dir);
      const rule: RuleInput = {
        name: 'from_config',
        metric: 'cpu',
        condition: 'gt',
        threshold: 80,
        severity: 'critical',
      };
      const a = await setup({ store, rules: [rule] });
      a.derived.set('cpu', { value: 99, at: 0 });
      await a.engine.evaluate(a.clock.now);
      expect(a.engine.activeAlerts()).toHaveLength(1);
      const b = await setup({ store, rules: [] });
      expect(b.engine.activeAlerts()).toEqual([]);
      expect(b.outbox.summary()).toEqual(['resolved email,sms,slack']);
      expect(store.records('alert_rule_states').count()).toBe(0);
    });
  });
});
