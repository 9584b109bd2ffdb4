import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { Registry } from '../../src/metrics/registry.js';
import { Outbox, type OutboxOptions, type OutboxRecord } from '../../src/notify/outbox.js';
import { Redactor } from '../../src/notify/redact.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { activeResources, leakedAfterSettling, memoryLogger, until } from '../helpers.js';
import { expectMonitorRejection, tempStores } from '../store/store-fixture.js';
import { makeNotification, ScriptedChannel } from './notify-fixture.js';

let stores: ReturnType<typeof tempStores>;
let outboxes: Outbox[];

beforeEach(() => {
  stores = tempStores();
  outboxes = [];
});

afterEach(async () => {
  for (const outbox of outboxes.splice(0)) await outbox.close();
  await stores.cleanup();
});

/** Fast, jitter-free backoff: 2, 4, 8, 16, 16 … ms. */
const FAST = { initialMs: 2, maxMs: 16, jitter: 0 };

function open(store: MetricStore, channels: ScriptedChannel[], options: Partial<OutboxOptions> = {}) {
  const logger = memoryLogger();
  const outbox = Outbox.open({ store, channels, logger, backoff: FAST, ...options });
  outboxes.push(outbox);
  return { outbox, logger };
}

describe('Outbox', () => {
  it('persists each (notification, channel) before enqueue resolves, and removes it once delivered', async () => {
    const store = stores.open();
    const slack = new ScriptedChannel('slack', ['hang']);
    const email = new ScriptedChannel('email', ['hang']);
    const { outbox } = open(store, [slack, email]);
    const n = makeNotification();

    await outbox.enqueue(n, ['slack', 'email']);
    const records = store.records<OutboxRecord>('outbox');
    expect(records.get([n.id, 'slack'])?.notification).toEqual(n);
    expect(records.get([n.id, 'email'])?.channel).toBe('email');
    expect(outbox.pending()).toBe(2);

    slack.release();
    email.release();
    await until(() => expect(outbox.pending()).toBe(0));
    await until(() => expect(records.count()).toBe(0));
    expect(slack.accepted).toEqual([n.id]);
    expect(email.accepted).toEqual([n.id]);
  });

  it('delivers a notification enqueued twice (concurrently, and again after delivery) once', async () => {
    const store = stores.open();
    const slack = new ScriptedChannel('slack', ['hang']);
    const { outbox } = open(store, [slack]);
    const n = makeNotification();

    await Promise.all([outbox.enqueue(n, ['slack', 'slack']), outbox.enqueue(n, ['slack'])]);
    expect(outbox.pending()).toBe(1);
    slack.release();
    await until(() => expect(outbox.pending()).toBe(0));
    await outbox.enqueue(n, ['slack']);
    expect(outbox.pending()).toBe(0);
    await outbox.close();

    // And after a restart: the delivered id is remembered in the store.
    const again = open(store, [slack]).outbox;
    await again.enqueue(n, ['slack']);
    expect(again.pending()).toBe(0);
    expect(slack.calls.map((c) => c.id)).toEqual([n.id]);
  });

  it('retries with exponential backoff bounded by maxMs, waiting at least each delay', async () => {
    const store = stores.open();
    const webhook = new ScriptedChannel('webhook', ['fail', 'fail', 'fail', 'fail', 'fail', 'fail']);
    const { outbox, logger } = open(store, [webhook]);
    await outbox.enqueue(makeNotification(), ['webhook']);

    await until(() => expect(webhook.accepted).toHaveLength(1));
    const delays = logger.records.filter((r) => r.msg.includes('retrying')).map((r) => r.fields.delayMs);
    expect(delays).toEqual([2, 4, 8, 16, 16, 16]);
    const gaps = webhook.calls.slice(1).map((call, i) => call.at - webhook.calls[i]!.at);
    gaps.forEach((gap, i) => expect(gap).toBeGreaterThanOrEqual((delays[i] as number) - 1));
    expect(webhook.calls).toHaveLength(7);
  });

  it("honours a 429's Retry-After, but no longer than maxRetryAfterMs", async () => {
    const store = stores.open();
    const slack = new ScriptedChannel('slack', [{ retryAfterMs: 30 }, { retryAfterMs: 60_000 }]);
    const { outbox, logger } = open(store, [slack], { backoff: { ...FAST, maxRetryAfterMs: 40 } });
    await outbox.enqueue(makeNotification(), ['slack']);
    await until(() => expect(slack.accepted).toHaveLength(1));
    expect(logger.records.filter((r) => r.msg.includes('retrying')).map((r) => r.fields.delayMs)).toEqual([30, 40]);
    expect(slack.calls[1]!.at - slack.calls[0]!.at).toBeGreaterThanOrEqual(29);
  });

  it('dead-letters a final failure at once and a retryable one after maxAttempts, and shows them', async () => {
    const store = stores.open();
    const sms = new ScriptedChannel('sms', ['final']);
    const webhook = new ScriptedChannel('webhook', ['fail', 'fail', 'fail', 'ok']);
    const registry = new Registry();
    const { outbox } = open(store, [sms, webhook], { maxAttempts: 3, registry });
    const before = Date.now();
    const n = makeNotification();
    await outbox.enqueue(n, ['sms', 'webhook']);

    await until(() => {
      expect(outbox.deadLetters()).toHaveLength(2);
      expect(outbox.pending()).toBe(0);
    });
    expect(sms.calls).toHaveLength(1);
    expect(webhook.calls).toHaveLength(3);
    const byChannel = Object.fromEntries(outbox.deadLetters().map((d) => [d.channel, d]));
    expect(byChannel.sms).toEqual({
      notificationId: n.id,
      channel: 'sms',
      alertId: n.alert.id,
      reason: 'firing',
      attempts: 1,
      lastError: 'sms: answered 400',
      firstAttemptAt: expect.any(Number),
      deadAt: expect.any(Number),
    });
    expect(byChannel.sms!.firstAttemptAt).toBeGreaterThanOrEqual(before);
    expect(byChannel.sms!.deadAt).toBeGreaterThanOrEqual(byChannel.sms!.firstAttemptAt);
    expect(byChannel.webhook).toMatchObject({ attempts: 3, lastError: 'webhook: answered 500' });
    expect(registry.getMetric('alerts.notifications', { channel: 'webhook', result: 'retried' })?.value).toBe(2);
    expect(registry.getMetric('alerts.notifications', { channel: 'webhook', result: 'dead' })?.value).toBe(1);

    // A dead-lettered delivery is not queued again, and dead letters survive a restart.
    await outbox.enqueue(n, ['webhook']);
    expect(outbox.pending()).toBe(0);
    await outbox.close();
    expect(
      open(store, [sms, webhook])
        .outbox.deadLetters()
        .map((d) => d.channel)
        .sort(),
    ).toEqual(['sms', 'webhook']);
  });

  it('retries with the error text redacted when handed Redactor.redact on its own, as startMonitoring does', async () => {
    const store = stores.open();
    const webhook = new ScriptedChannel('webhook', ['fail']);
    const { outbox, logger } = open(store, [webhook], { redact: new Redactor(['answered']).redact });
    await outbox.enqueue(makeNotification(), ['webhook']);

    await until(() => expect(webhook.accepted).toHaveLength(1));
    const retries = logger.records.filter((r) => r.msg.includes('retrying'));
    expect(retries).toHaveLength(1);
    expect(String(retries[0]!.fields.error)).toContain('[redacted]');
    expect(String(retries[0]!.fields.error)).not.toContain('answered');
  });

  it('keeps retrying, and withholds the error text, when the redact option throws', async () => {
    const store = stores.open();
    const webhook = new ScriptedChannel('webhook', ['fail', 'fail']);
    const redact = (): string => {
      throw new TypeError('redactor lost its this');
    };
    const { outbox, logger } = open(store, [webhook], { redact });
    await outbox.enqueue(makeNotification(), ['webhook']);

    await until(() => expect(webhook.accepted).toHaveLength(1));
    const retries = logger.records.filter((r) => r.msg.includes('retrying'));
    expect(retries.map((r) => r.fields.error)).toEqual([
      '[error text withheld: the redact option threw TypeError]',
      '[error text withheld: the redact option threw TypeError]',
    ]);
    await until(() => expect(outbox.pending()).toBe(0));
  });

  it('keeps only maxDeadLetters, dropping the oldest', async () => {
    const store = stores.open();
    let clock = 1000;
    const sms = new ScriptedChannel('sms', ['final', 'final', 'final']);
    const { outbox } = open(store, [sms], { maxDeadLetters: 2, now: () => clock++ });
    const ids = [makeNotification(), makeNotification(), makeNotification()];
    for (const n of ids) {
      await outbox.enqueue(n, ['sms']);
      await until(() => expect(outbox.pending()).toBe(0));
    }
    await until(() => expect(outbox.deadLetters().map((d) => d.notificationId)).toEqual([ids[2]!.id, ids[1]!.id]));
  });

  it('resumes queued deliveries after close and reopen, keeping the attempt count', async () => {
    const store = stores.open();
    const down = new ScriptedChannel('email', ['fail', 'fail', 'hang']);
    const first = open(store, [down], { closeTimeoutMs: 50 }).outbox;
    const n = makeNotification();
    await first.enqueue(n, ['email']);
    await until(() => expect(down.calls).toHaveLength(3));
    await first.close(); // aborts the hung third attempt after closeTimeoutMs
    await store.close();

    const reopened = stores.open();
    expect(reopened.records<OutboxRecord>('outbox').get([n.id, 'email'])).toMatchObject({ attempts: 2 });
    const up = new ScriptedChannel('email');
    const second = open(reopened, [up]).outbox;
    expect(second.pending()).toBe(1);
    await until(() => expect(up.accepted).toEqual([n.id]));
    await until(() => expect(reopened.records('outbox').count()).toBe(0));
    expect(down.accepted).toEqual([]);
  }, 20_000);

  it('sends an alert’s notifications to a channel in enqueue order, even when the first needs retries', async () => {
    const store = stores.open();
    const slack = new ScriptedChannel('slack', ['fail', 'hang']);
    const { outbox } = open(store, [slack], { concurrency: 4 });
    const firing = makeNotification();
    const resolved = makeNotification({
      reason: 'resolved',
      alert: { ...firing.alert, status: 'resolved', resolvedAt: 1_700_000_060_000 },
    });
    const other = makeNotification();
    await outbox.enqueue(firing, ['slack']);
    // The firing notification fails once, and its retry is held in flight.
    await until(() => expect(slack.calls.map((c) => c.id)).toEqual([firing.id, firing.id]));
    await outbox.enqueue(resolved, ['slack']);
    await outbox.enqueue(other, ['slack']);
    // Another alert does not wait behind the held one; the same alert's resolution does.
    await until(() => expect(slack.accepted).toEqual([other.id]));
    expect(slack.calls.map((c) => c.id)).not.toContain(resolved.id);
    slack.release();
    await until(() => expect(slack.accepted).toEqual([other.id, firing.id, resolved.id]));
  });

  it('drops queued re-notifications that a later notification of the alert overtook, never firing or resolved', async () => {
    const store = stores.open();
    const slack = new ScriptedChannel('slack', ['hang']);
    const { outbox } = open(store, [slack]);
    const firing = makeNotification();
    const again = (n: number) =>
      makeNotification({ id: `${firing.id}-renotify-${n}`, reason: 'renotify', alert: firing.alert });
    await outbox.enqueue(firing, ['slack']);
    await until(() => expect(slack.calls).toHaveLength(1)); // the channel is stuck on it (an outage)
    for (let n = 1; n <= 5; n++) await outbox.enqueue(again(n), ['slack']);
    const resolved = makeNotification({
      reason: 'resolved',
      alert: { ...firing.alert, status: 'resolved', resolvedAt: 2 },
    });
    await outbox.enqueue(resolved, ['slack']);
    slack.release();
    await until(() => expect(outbox.pending()).toBe(0));
    expect(slack.accepted).toEqual([firing.id, resolved.id]);
    // Superseded ids are remembered like delivered ones.
    await outbox.enqueue(again(3), ['slack']);
    expect(outbox.pending()).toBe(0);
  });

  it('sends the last queued re-notification when nothing newer is behind it', async () => {
    const store = stores.open();
    const slack = new ScriptedChannel('slack', ['hang']);
    const { outbox } = open(store, [slack]);
    const firing = makeNotification();
    await outbox.enqueue(firing, ['slack']);
    await until(() => expect(slack.calls).toHaveLength(1));
    const reminders = [1, 2].map((n) =>
      makeNotification({ id: `${firing.id}-r${n}`, reason: 'renotify', alert: firing.alert }),
    );
    for (const r of reminders) await outbox.enqueue(r, ['slack']);
    slack.release();
    await until(() => expect(outbox.pending()).toBe(0));
    expect(slack.accepted).toEqual([firing.id, reminders[1]!.id]);
  });

  it('skips resolved notifications for a channel that does not send them, and channels not configured', async () => {
    const store = stores.open();
    const sms = new ScriptedChannel('sms', [], false);
    const { outbox, logger } = open(store, [sms]);
    const resolved = makeNotification({ reason: 'resolved', alert: { status: 'resolved', resolvedAt: 1 } });
    await outbox.enqueue(resolved, ['sms', 'slack']);
    await outbox.enqueue(makeNotification(), ['slack']);
    expect(outbox.pending()).toBe(0);
    expect(store.records('outbox').count()).toBe(0);
    expect(logger.records.filter((r) => r.level === 'warn').map((r) => r.fields)).toEqual([{ channel: 'slack' }]);
  });

  it('passes receivers already reached back to the channel after a partial failure', async () => {
    const store = stores.open();
    const sms: ScriptedChannel = new ScriptedChannel('sms');
    let attempt = 0;
    sms.send = async (notification, context) => {
      sms.calls.push({ id: notification.id, at: 0, delivered: [...context!.delivered] });
      if (!context!.delivered.has('+15550001')) await context!.markDelivered('+15550001');
      if (attempt++ === 0) throw new Error('second number failed');
    };
    const { outbox } = open(store, [sms]);
    await outbox.enqueue(makeNotification(), ['sms']);
    await until(() => expect(outbox.pending()).toBe(0));
    expect(sms.calls.map((c) => c.delivered)).toEqual([[], ['+15550001']]);
  });

  it('refuses a malformed notification, a bad channel list, and enqueue after close', async () => {
    const store = stores.open();
    const { outbox } = open(store, [new ScriptedChannel('slack')]);
    await expectMonitorRejection(
      outbox.enqueue({ ...makeNotification(), id: '' }, ['slack']),
      ErrorCode.InvalidNotification,
      'invalid notification: id is "" (expected a string of 1-200 characters)',
    );
    await expectMonitorRejection(
      outbox.enqueue(makeNotification({ alert: { severity: 'fatal' as never } }), ['slack']),
      ErrorCode.InvalidNotification,
      'invalid notification: alert.severity is "fatal" (expected "info", "warning", "error", "critical")',
    );
    await expectMonitorRejection(
      outbox.enqueue(makeNotification(), 'slack' as never),
      ErrorCode.InvalidNotification,
      /channels must be an array/,
    );
    await expectMonitorRejection(
      outbox.enqueue(makeNotification(), ['pager' as never]),
      ErrorCode.InvalidNotification,
      'enqueue: unknown channel "pager" (allowed: "email", "slack", "sms", "webhook", "alertmanager")',
    );
    await outbox.close();
    await expectMonitorRejection(
      outbox.enqueue(makeNotification(), ['slack']),
      ErrorCode.OutboxClosed,
      'enqueue: the outbox is closed',
    );
  });

  it('refuses bad options with a message naming them', () => {
    const store = stores.open();
    const make = (options: Partial<OutboxOptions>) => () => Outbox.open({ store, channels: [], ...options });
    expect(make({ maxAttempts: 0 })).toThrow(
      new MonitorError(
        ErrorCode.InvalidOption,
        'invalid outbox option maxAttempts 0 (expected an integer from 1 to 1000)',
      ),
    );
    expect(make({ backoff: { initialMs: 10, maxMs: 5 } })).toThrow(
      'backoff.maxMs (5) must be at least backoff.initialMs (10)',
    );
    expect(make({ channels: [new ScriptedChannel('slack'), new ScriptedChannel('slack')] })).toThrow(
      'outbox option channels has two channels named "slack"',
    );
    expect(make({ store: undefined })).toThrow('outbox option store must be a MetricStore, got undefined');
  });

  it('allows one open outbox per store, and another once it is closed', async () => {
    const store = stores.open();
    const { outbox } = open(store, []);
    expect(() => Outbox.open({ store, channels: [] })).toThrow(
      new MonitorError(
        ErrorCode.InvalidOption,
        `an outbox is already open on the store at ${store.dataDir}; close it first`,
      ),
    );
    await outbox.close();
    expect(open(store, []).outbox.pending()).toBe(0);
  });

  it('closes its channels and leaves no timers or sockets behind', async () => {
    const before = activeResources();
    // Counting active timers cannot show the retry timer reliably (LMDB arms and drops 0 ms timers,
    // an earlier test's may expire meanwhile), so watch the outbox arm it and close clear it.
    const armed = vi.spyOn(globalThis, 'setTimeout');
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    try {
      const store = stores.open();
      const slack = new ScriptedChannel('slack', ['fail']);
      const { outbox, logger } = open(store, [slack], { backoff: { initialMs: 60_000, maxMs: 60_000 } });
      await outbox.enqueue(makeNotification(), ['slack']);
      const retryTimer = () =>
        armed.mock.results[armed.mock.calls.findIndex(([, ms]) => Number(ms) >= 48_000 && Number(ms) <= 60_000)]
          ?.value as unknown;
      await until(() => expect(retryTimer()).toBeDefined());
      expect(logger.records.map((r) => r.msg)).toContain('notification delivery failed; retrying');
      await outbox.close();
      expect(cleared.mock.calls.map(([timer]) => timer)).toContain(retryTimer());
      expect(slack.closed).toBe(true);
      await stores.cleanup();
    } finally {
      armed.mockRestore();
      cleared.mockRestore();
    }
    // A 60 s backoff timer a leaky close left would still be there after settling, and fail this.
    expect(await leakedAfterSettling(before)).toEqual([]);
  });
});
