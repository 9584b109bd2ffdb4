import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { AlertmanagerChannel, type AlertmanagerChannelOptions } from '../../src/notify/alertmanager-channel.js';
import { DeliveryError } from '../../src/notify/types.js';
import { type Receiver, startReceiver } from '../export/receiver-fixture.js';
import { activeResources, expectMonitorError, leakedAfterSettling, leakedResources, until } from '../helpers.js';
import { freePort } from '../system-servers.js';
import { notification } from './alert-fixture.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function receiver(replies: Parameters<typeof startReceiver>[0] = [{ status: 200 }]): Promise<Receiver> {
  const r = await startReceiver(replies);
  cleanups.push(() => r.close());
  return r;
}

function channel(options: AlertmanagerChannelOptions): AlertmanagerChannel {
  const c = new AlertmanagerChannel(options);
  cleanups.push(() => c.close());
  return c;
}

async function rejection(p: Promise<unknown>): Promise<DeliveryError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(DeliveryError);
    return err as DeliveryError;
  }
  throw new Error('expected a DeliveryError');
}

const posted = (r: Receiver, i = 0) => JSON.parse(r.requests[i]!.body.toString('utf8')) as Record<string, unknown>[];

describe('AlertmanagerChannel', () => {
  it('posts the alert to /api/v2/alerts of every Alertmanager, in the API v2 shape', async () => {
    const a = await receiver();
    const b = await receiver();
    const ch = channel({ urls: [a.url, `${b.url}/prefix/`] });
    expect(ch.sendsResolved).toBe(true);
    const n = notification('firing');
    await ch.send(n);
    expect(a.requests.map((r) => r.path)).toEqual(['/api/v2/alerts']);
    expect(b.requests.map((r) => r.path)).toEqual(['/prefix/api/v2/alerts']);
    expect(a.requests[0]!.headers['content-type']).toBe('application/json');
    const [alert] = posted(a);
    expect(alert).toEqual({
      labels: { alertname: 'HighLatency', service: 'api', severity: 'critical' },
      annotations: {
        summary: 'High latency',
        description: 'p95 response time 950 ms > 500 ms',
        source: 'rule:high_latency',
        runbook: 'https://runbooks.example/latency',
      },
      startsAt: new Date(n.alert.startedAt).toISOString(),
      endsAt: expect.any(String),
      generatorURL: 'http://127.0.0.1:8080/alerts/alert-1',
    });
    // A firing alert ends in the future (4 re-send intervals ahead), so Alertmanager keeps it active.
    expect(Date.parse(alert!.endsAt as string)).toBeGreaterThan(Date.now() + 3 * 60_000);
    expect(posted(b)).toEqual(posted(a));
  });

  it('sends endsAt = the resolution time on resolved, with the same labels as the firing alert', async () => {
    const a = await receiver();
    const ch = channel({ urls: [a.url] });
    await ch.send(notification('firing'));
    const resolved = notification('resolved');
    await ch.send(resolved);
    expect(posted(a, 1)[0]!.endsAt).toBe(new Date(resolved.alert.resolvedAt!).toISOString());
    expect(posted(a, 1)[0]!.labels).toEqual(posted(a, 0)[0]!.labels);
    expect(ch.firing).toBe(0);
  });

  it('uses the title as alertname when the alert has none, and drops label names Alertmanager refuses', async () => {
    const a = await receiver();
    const ch = channel({ urls: [a.url] });
    await ch.send(notification('firing', { labels: { 'bad-name': 'x', ok: 'y', empty: '' } }));
    expect(posted(a)[0]!.labels).toEqual({ alertname: 'High latency', ok: 'y', severity: 'critical' });
  });

  it('names an alert without an alertname label by its title without the severity prefix, so critical and warning can match', async () => {
    const a = await receiver();
    const ch = channel({ urls: [a.url] });
    await ch.send(notification('firing', { source: 'api', title: 'CRITICAL Alert: disk full on db-1', labels: {} }));
    await ch.send(
      notification(
        'firing',
        {
          id: 'alert-2',
          fingerprint: 'fp-2',
          severity: 'warning',
          source: 'api',
          title: 'WARNING Alert: disk full on db-1',
          labels: {},
        },
        'n-2',
      ),
    );
    expect([posted(a, 0)[0]!.labels, posted(a, 1)[0]!.labels]).toEqual([
      { alertname: 'disk full on db-1', severity: 'critical' },
      { alertname: 'disk full on db-1', severity: 'warning' },
    ]);
  });

  it("adds instance and external labels under the alert's own labels", async () => {
    const a = await receiver();
    const ch = channel({
      urls: [a.url],
      instance: 'web-1:8080',
      externalLabels: { cluster: 'eu-1', service: 'overridden' },
    });
    await ch.send(notification('firing'));
    expect(posted(a)[0]!.labels).toEqual({
      alertname: 'HighLatency',
      cluster: 'eu-1',
      instance: 'web-1:8080',
      service: 'api',
      severity: 'critical',
    });
    await ch.send(notification('firing', { labels: { alertname: 'HighLatency', instance: 'db-7:5432' } }, 'n-2'));
    expect(posted(a, 1)[0]!.labels).toMatchObject({ instance: 'db-7:5432', cluster: 'eu-1' });
  });

  it('holds alerts back (retryable) until the instance is known, then keeps the first one it got', async () => {
    const a = await receiver();
    let port: number | undefined;
    const ch = channel({ urls: [a.url], instance: () => (port === undefined ? undefined : `host:${port}`) });
    const err = await rejection(ch.send(notification('firing')));
    expect(err.retryable).toBe(true);
    expect(err.message).toContain('instance label is not known yet');
    expect(a.requests).toHaveLength(0);
    port = 4000;
    await ch.send(notification('firing'));
    port = 5000;
    await ch.send(notification('resolved'));
    expect(
      [posted(a, 0)[0]!.labels, posted(a, 1)[0]!.labels].map((l) => (l as Record<string, string>).instance),
    ).toEqual(['host:4000', 'host:4000']);
  });

  it("re-sends the alert's latest state when current() knows it, the notified one otherwise", async () => {
    const r = await receiver();
    const latest = new Map<string, ReturnType<typeof notification>['alert']>();
    const ch = channel({ urls: [r.url], resendIntervalMs: 20, current: (fp) => latest.get(fp) });
    await ch.send(notification('firing'));
    await until(() => expect(r.requests.length).toBeGreaterThanOrEqual(2));
    expect((posted(r, 1)[0]!.annotations as Record<string, string>).description).toBe(
      'p95 response time 950 ms > 500 ms',
    );
    latest.set('fp-1', notification('firing', { message: 'p95 response time 1200 ms > 500 ms' }).alert);
    await until(() =>
      expect((posted(r, r.requests.length - 1)[0]!.annotations as Record<string, string>).description).toBe(
        'p95 response time 1200 ms > 500 ms',
      ),
    );
    // A different alert (another id) under the same fingerprint is not this one: not substituted.
    latest.set('fp-1', notification('firing', { id: 'alert-2', message: 'other' }).alert);
    const from = r.requests.length;
    await until(() => expect(r.requests.length).toBeGreaterThan(from + 1));
    expect((posted(r, r.requests.length - 1)[0]!.annotations as Record<string, string>).description).toBe(
      'p95 response time 950 ms > 500 ms',
    );
  });

  it('on a partial failure throws naming the failed one, and the retry goes only to it', async () => {
    const good = await receiver();
    const flaky = await receiver([{ status: 503, body: 'busy' }, { status: 200 }]);
    const ch = channel({ urls: [good.url, flaky.url] });
    const n = notification('firing');
    const err = await rejection(ch.send(n));
    expect(err.retryable).toBe(true);
    expect(err.message).toBe(
      `alertmanager: 1 of 2 did not accept the alert: ${flaky.url}/api/v2/alerts: HTTP 503 busy`,
    );
    await ch.send(n);
    expect(good.requests).toHaveLength(1);
    expect(flaky.requests).toHaveLength(2);
    // A new notification goes to both again.
    await ch.send(notification('renotify', {}, 'n-2'));
    expect(good.requests).toHaveLength(2);
  });

  it('is not retryable when every failure is a 4xx, and is when an Alertmanager is unreachable', async () => {
    const bad = await receiver([{ status: 400, body: '{"message":"bad alert"}' }]);
    const err = await rejection(channel({ urls: [bad.url] }).send(notification('firing')));
    expect(err.retryable).toBe(false);
    const port = await freePort();
    const down = await rejection(
      channel({ urls: [`http://127.0.0.1:${port}`], timeoutMs: 2000 }).send(notification('firing')),
    );
    expect(down.retryable).toBe(true);
    expect(down.message).toMatch(
      new RegExp(
        `^alertmanager: 1 of 1 did not accept the alert: POST http://127.0.0.1:${port}/api/v2/alerts: ECONNREFUSED`,
      ),
    );
  });

  it('never puts credentials from the URL in an error, and sends them as Basic auth', async () => {
    const r = await receiver([{ status: 500 }]);
    const ch = channel({ urls: [r.url.replace('http://', 'http://am:hunter2@')] });
    const err = await rejection(ch.send(notification('firing')));
    expect(err.message).not.toMatch(/hunter2|am:/);
    expect(r.requests[0]!.headers.authorization).toBe(`Basic ${Buffer.from('am:hunter2').toString('base64')}`);
  });

  it('re-sends firing alerts every interval until resolved, then stops; close leaves no timer or socket', async () => {
    const before = activeResources();
    const r = await receiver();
    const ch = new AlertmanagerChannel({ urls: [r.url], resendIntervalMs: 20 });
    await ch.send(notification('firing'));
    await until(() => expect(r.requests.length).toBeGreaterThanOrEqual(3));
    expect(posted(r, 2)[0]!.labels).toEqual(posted(r, 0)[0]!.labels);
    await ch.send(notification('resolved'));
    const after = r.requests.length;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(r.requests.length).toBe(after);
    await ch.close();
    await r.close();
    for (let i = 0; i < 100 && leakedResources(before).length > 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await leakedAfterSettling(before)).toEqual([]);
  });

  it('refuses bad options with a typed error', () => {
    expectMonitorError(
      () => new AlertmanagerChannel({ urls: [] }),
      ErrorCode.InvalidOption,
      'alertmanager channel: urls must list at least one http(s) URL',
    );
    expectMonitorError(
      () => new AlertmanagerChannel({ urls: ['nope'] }),
      ErrorCode.InvalidOption,
      'alertmanager channel: urls[0] is not an absolute http(s) URL',
    );
    expectMonitorError(
      () => new AlertmanagerChannel({ urls: ['ftp://x'] }),
      ErrorCode.InvalidOption,
      'alertmanager channel: urls[0] must be http(s), got ftp:',
    );
    expectMonitorError(
      () => new AlertmanagerChannel({ urls: ['http://x'], resendIntervalMs: 0 }),
      ErrorCode.InvalidOption,
      'alertmanager channel: resendIntervalMs must be a positive integer (ms), got 0',
    );
    expectMonitorError(
      () => new AlertmanagerChannel({ urls: ['http://x'], externalLabels: { 'bad-name': 'x' } }),
      ErrorCode.InvalidOption,
      'alertmanager channel: externalLabels.bad-name must be a label name (letters, digits, "_") with a non-empty string value',
    );
  });
});
