import { describe, expect, it } from 'vitest';
import {
  alerting,
  ALERTING_NAME,
  type AlertingArgs,
  type AlertingProtocol,
  toAlertView,
} from '../../actors/alerting.js';
import { alertingClient } from '../../actors/alerting-client.js';
import { SignalRelay } from '../../src/alerts/signal-relay.js';
import type { AlertSignal } from '../../src/alerts/signal.js';
import type { AlertingConfig } from '../../src/config/schema.js';
import { ErrorCode } from '../../src/errors.js';
import { DerivedValues } from '../../src/metrics/derived-values.js';
import { OtpSystem, startServer, startSupervisor, workerChild } from '../../src/otp/index.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { alertingConfig, onCleanup, openStore, RecordingOutbox, tempDir } from '../alerts/alerting-fixture.js';
import { activeResources, flushImmediates, leakedAfterSettling, memoryLogger, until } from '../helpers.js';
import { newRegistry } from '../metrics/table-fixture.js';

function newSystem() {
  const log = memoryLogger();
  const system = new OtpSystem({ logger: log });
  onCleanup(() => system.close());
  return { system, log };
}

function args(
  store: MetricStore,
  outbox: RecordingOutbox,
  overrides: Partial<AlertingArgs> & { config?: AlertingConfig } = {},
): AlertingArgs {
  return {
    registry: newRegistry().registry,
    store,
    config: alertingConfig(),
    derived: new DerivedValues(),
    outbox,
    ...overrides,
  };
}

describe('alerting actor', () => {
  it('answers the source API through the client: sendAlert, getActiveAlerts, clearAlert', async () => {
    const { system } = newSystem();
    const outbox = new RecordingOutbox();
    const pid = await startServer(system, alerting, args(openStore(tempDir()), outbox), { name: ALERTING_NAME });
    const client = alertingClient(system.ref<AlertingProtocol>(ALERTING_NAME));
    const alert = await client.sendAlert('critical', 'System CPU usage exceeds 90%');
    expect(alert).toMatchObject({
      severity: 'critical',
      title: 'CRITICAL Alert: System CPU usage exceeds 90%',
      status: 'firing',
      source: 'api',
    });
    expect((await client.getActiveAlerts()).map(toAlertView)).toEqual([
      {
        id: alert.id,
        severity: 'critical',
        status: 'firing',
        title: alert.title,
        message: 'System CPU usage exceeds 90%',
        source: 'api',
        labels: {},
        startedAt: alert.startedAt,
      },
    ]);
    expect(await client.clearAlert(alert.id)).toMatchObject({ status: 'resolved' });
    expect(await client.getActiveAlerts()).toEqual([]);
    await expect(client.clearAlert('missing')).rejects.toMatchObject({ code: ErrorCode.NotFound });
    expect(outbox.summary()).toEqual(['firing email,sms,slack', 'resolved email,sms,slack']);
    outbox.dead.push({
      notificationId: 'n',
      channel: 'sms',
      alertId: alert.id,
      reason: 'firing',
      attempts: 5,
      lastError: 'HTTP 400',
      firstAttemptAt: 1,
      deadAt: 2,
    });
    expect(await client.deadLetters()).toEqual(outbox.dead);
    await pid.stop();
  });

  it('evaluates rules every check_interval by itself and takes signals as casts', async () => {
    const { system } = newSystem();
    const outbox = new RecordingOutbox();
    const derived = new DerivedValues();
    const config = alertingConfig({ check_interval: 20 });
    const pid = await startServer(
      system,
      alerting,
      args(openStore(tempDir()), outbox, {
        derived,
        config,
        rules: [{ name: 'errors', metric: 'error_rate', condition: 'gt', threshold: 0.05, severity: 'error' }],
      }),
    );
    const client = alertingClient(pid);
    derived.set('error_rate', { value: 0.3, at: Date.now() });
    await until(async () => expect((await client.getActiveAlerts()).map((a) => a.source)).toEqual(['rule:errors']));
    pid.cast({
      type: 'signal',
      signal: {
        source: 'performance_monitor',
        key: 'cpu',
        state: 'firing',
        severity: 'critical',
        message: 'cpu 97% > 80%',
        at: Date.now(),
      },
    });
    await until(async () =>
      expect((await client.getActiveAlerts()).map((a) => a.source)).toEqual(['performance_monitor', 'rule:errors']),
    );
    derived.set('error_rate', { value: 0, at: Date.now() });
    await until(async () =>
      expect((await client.getActiveAlerts()).map((a) => a.source)).toEqual(['performance_monitor']),
    );
    await pid.stop();
  });

  it('gets the signals sent while it was down from the relay: a firing one fires, a resolved one resolves', async () => {
    const { system } = newSystem();
    const store = openStore(tempDir());
    const relay = new SignalRelay();
    const signal = (key: string, state: AlertSignal['state']): AlertSignal => ({
      source: 'performance_monitor',
      key,
      state,
      severity: 'warning',
      message: `${key} ${state}`,
      at: Date.now(),
    });
    // Nothing attached yet (alerting not started): the relay keeps the newest state of each condition.
    relay.send(signal('cpu', 'firing'));
    relay.send(signal('memory', 'firing'));
    const first = await startServer(system, alerting, args(store, new RecordingOutbox(), { signals: relay }));
    const client = alertingClient(first);
    await until(async () =>
      expect((await client.getActiveAlerts()).map((a) => a.message).sort()).toEqual(['cpu firing', 'memory firing']),
    );
    await first.stop();
    // While alerting is down, memory recovers and latency breaches: both transitions are kept.
    relay.send(signal('memory', 'resolved'));
    relay.send(signal('latency.p95', 'firing'));
    const second = await startServer(system, alerting, args(store, new RecordingOutbox(), { signals: relay }));
    const again = alertingClient(second);
    await until(async () =>
      expect((await again.getActiveAlerts()).map((a) => a.message).sort()).toEqual([
        'cpu firing',
        'latency.p95 firing',
      ]),
    );
    // Live signals go straight through to the attached incarnation.
    relay.send(signal('cpu', 'resolved'));
    await until(async () =>
      expect((await again.getActiveAlerts()).map((a) => a.message)).toEqual(['latency.p95 firing']),
    );
    await second.stop();
  });

  it('logs and drops a bad cast, and rejects the same request as a call, carrying on either way', async () => {
    const { system, log } = newSystem();
    const pid = await startServer(system, alerting, args(openStore(tempDir()), new RecordingOutbox()));
    pid.cast({ type: 'signal', signal: { nonsense: true } as never });
    pid.cast({ type: 'launch_missiles' } as never);
    await expect(pid.call({ type: 'send_alert', severity: 'fatal' as never, message: 'x' })).rejects.toMatchObject({
      code: ErrorCode.InvalidAlert,
      message: 'send_alert: invalid severity "fatal" (allowed: "info", "warning", "error", "critical")',
    });
    await expect(pid.call({ type: 'add_rule', rule: { name: 'r' } as never })).rejects.toMatchObject({
      code: ErrorCode.InvalidRule,
    });
    expect(
      log.records.filter((r) => r.msg === 'alerting message refused').map((r) => (r.fields.err as Error).message),
    ).toEqual([
      'signal: source must be a non-empty string of at most 200 characters, got undefined',
      expect.stringMatching(/^alerting#\d+: unknown cast type "launch_missiles" \(allowed: signal, send_alert\)$/),
    ]);
    expect(pid.alive).toBe(true);
    await pid.stop();
  });

  it('comes back after a restart with its active alerts, silences and added rules from LMDB', async () => {
    const dir = tempDir();
    const store = openStore(dir);
    const { system } = newSystem();
    const first = new RecordingOutbox();
    const pid = await startServer(system, alerting, args(store, first), { name: ALERTING_NAME });
    const client = alertingClient(system.ref<AlertingProtocol>(ALERTING_NAME));
    const alert = await client.sendAlert('error', 'payments failing', { service: 'payments' });
    const silence = await client.addSilence({
      matchers: [{ name: 'service', op: '=', value: 'search' }],
      endsAt: Date.now() + 3_600_000,
      createdBy: 'ana',
      comment: 'reindex',
    });
    await client.addRule({
      name: 'slow',
      metric: 'latency.p95',
      condition: 'gt',
      threshold: 100,
      duration: 600_000,
      severity: 'warning',
    });
    await pid.stop();

    // A new incarnation on the same store, with a new outbox: it must not notify again what was notified.
    const second = new RecordingOutbox();
    const again = await startServer(system, alerting, args(store, second), { name: ALERTING_NAME });
    expect(await client.getActiveAlerts()).toEqual([alert]);
    expect(await client.listSilences()).toEqual([{ ...silence, state: 'active' }]);
    expect((await client.listRules()).map((r) => [r.rule.name, r.origin])).toEqual([['slow', 'api']]);
    // The silence still works: a matching alert is held back; the duplicate of the restored alert is deduplicated.
    await client.sendAlert('critical', 'search slow', { service: 'search' });
    expect(await client.sendAlert('error', 'payments failing', { service: 'payments' })).toMatchObject({
      id: alert.id,
    });
    expect(second.queued).toEqual([]);
    await again.stop();
  });

  it('is restarted by its supervisor after a crash with its alerts and silences, under the same name', async () => {
    const { system } = newSystem();
    const store = openStore(tempDir());
    const outbox = new RecordingOutbox();
    const sup = await startSupervisor(system, {
      children: [workerChild('alerting', alerting, args(store, outbox), { name: ALERTING_NAME })],
    });
    const client = alertingClient(system.ref<AlertingProtocol>(ALERTING_NAME));
    const alert = await client.sendAlert('critical', 'node down', { node: 'n1' });
    const silence = await client.addSilence({
      matchers: [{ name: 'node', op: '=', value: 'n2' }],
      endsAt: Date.now() + 60_000,
      createdBy: 'ops',
      comment: 'reboot',
    });
    const first = system.whereis(ALERTING_NAME)!;
    first.kill();
    await until(() =>
      expect(system.whereis(ALERTING_NAME)?.alive && system.whereis(ALERTING_NAME) !== first).toBe(true),
    );
    expect(await client.getActiveAlerts()).toEqual([alert]);
    expect((await client.listSilences()).map((s) => s.id)).toEqual([silence.id]);
    expect(outbox.queued.map((q) => q.notification.id)).toEqual([`${alert.id}:firing`]);
    await sup.stop();
  });

  it('comes back after a whole store close and reopen (as after a process restart)', async () => {
    const dir = tempDir();
    const { system } = newSystem();
    const store = openStore(dir);
    const pid = await startServer(system, alerting, args(store, new RecordingOutbox()));
    const alert = await alertingClient(pid).sendAlert('warning', 'disk 85%');
    await pid.stop();
    await store.close();
    const reopened = openStore(dir);
    const again = await startServer(system, alerting, args(reopened, new RecordingOutbox()));
    expect(await alertingClient(again).getActiveAlerts()).toEqual([alert]);
    await again.stop();
  });

  it('fails to start with a clear error for a bad rule in its arguments', async () => {
    const { system } = newSystem();
    await expect(
      startServer(
        system,
        alerting,
        args(openStore(tempDir()), new RecordingOutbox(), {
          rules: [{ name: 'r', metric: 'cpu', condition: 'gt', threshold: Number.POSITIVE_INFINITY, severity: 'info' }],
        }),
      ),
    ).rejects.toThrow(/^alerting#\d+: init failed: rule "r": threshold must be a finite number, got Infinity$/);
  });

  it('leaves no timer behind when it stops', async () => {
    const { system } = newSystem();
    const store = openStore(tempDir());
    const before = activeResources();
    const pid = await startServer(
      system,
      alerting,
      args(store, new RecordingOutbox(), { config: alertingConfig({ check_interval: 10 }) }),
    );
    await alertingClient(pid).sendAlert('info', 'x');
    await pid.stop();
    await flushImmediates();
    expect(await leakedAfterSettling(before)).toEqual([]);
  });
});
