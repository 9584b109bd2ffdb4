import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryError } from '../../src/notify/types.js';
import { WebhookChannel, type WebhookPayload } from '../../src/notify/webhook-channel.js';
import { makeNotification, type Receiver, startReceiver } from './notify-fixture.js';

const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(): Promise<Receiver> {
  const r = await startReceiver();
  receivers.push(r);
  return r;
}

describe('WebhookChannel', () => {
  it('POSTs the Alertmanager version-4 webhook payload, field by field', async () => {
    const r = await receiver();
    const hook = new WebhookChannel({
      url: `${r.url}/alerts?token=abc123`,
      receiver: 'ops',
      externalUrl: 'http://127.0.0.1:8080',
    });
    const n = makeNotification({
      id: 'n-web-1',
      alert: {
        fingerprint: 'fp-9',
        title: 'High latency',
        message: 'p95 250 ms',
        labels: { service: 'api' },
        annotations: { runbook: 'https://runbooks/latency' },
        startedAt: Date.parse('2026-01-01T10:00:00Z'),
        generatorUrl: 'http://127.0.0.1:8080/#alerts',
      },
    });
    await hook.send(n);

    const req = r.requests[0]!;
    expect(req.method).toBe('POST');
    expect(req.url).toBe('/alerts?token=abc123');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-erlmcp-notification-id']).toBe('n-web-1');
    expect(req.headers.authorization).toBeUndefined();
    const labels = { alertname: 'High latency', service: 'api', severity: 'critical' };
    const annotations = { summary: 'High latency', description: 'p95 250 ms', runbook: 'https://runbooks/latency' };
    expect(JSON.parse(req.body)).toEqual({
      version: '4',
      groupKey: 'n-web-1',
      truncatedAlerts: 0,
      status: 'firing',
      receiver: 'ops',
      groupLabels: { alertname: 'High latency' },
      commonLabels: labels,
      commonAnnotations: annotations,
      externalURL: 'http://127.0.0.1:8080',
      alerts: [
        {
          status: 'firing',
          labels,
          annotations,
          startsAt: '2026-01-01T10:00:00.000Z',
          endsAt: '0001-01-01T00:00:00Z',
          generatorURL: 'http://127.0.0.1:8080/#alerts',
          fingerprint: 'fp-9',
        },
      ],
    });
  });

  it("asks a function externalUrl at each send (the dashboard's bound address once known)", async () => {
    const r = await receiver();
    let address: string | undefined;
    const hook = new WebhookChannel({ url: r.url, externalUrl: () => address });
    await hook.send(makeNotification({ id: 'n-1' }));
    address = 'http://127.0.0.1:41234';
    await hook.send(makeNotification({ id: 'n-2' }));
    expect(r.requests.map((q) => (JSON.parse(q.body) as WebhookPayload).externalURL)).toEqual([
      '',
      'http://127.0.0.1:41234',
    ]);
  });

  it('sends a resolved notification with its end time, and URL credentials as Basic auth', async () => {
    const r = await receiver();
    const hook = new WebhookChannel({ url: `http://hook-user:hook%20pass@127.0.0.1:${r.port}/in` });
    const resolvedAt = Date.parse('2026-01-01T10:05:00Z');
    await hook.send(makeNotification({ reason: 'resolved', alert: { status: 'resolved', resolvedAt } }));
    const req = r.requests[0]!;
    expect(req.url).toBe('/in');
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from('hook-user:hook pass').toString('base64')}`);
    const payload = JSON.parse(req.body) as WebhookPayload;
    expect(payload.status).toBe('resolved');
    expect(payload.alerts[0]).toMatchObject({ status: 'resolved', endsAt: '2026-01-01T10:05:00.000Z' });
  });

  it('encodes <script>, quotes and newlines as JSON, carrying them unchanged', async () => {
    const r = await receiver();
    const message = `<script>alert("x")</script> & 'q'\nline2\u2028`;
    await new WebhookChannel({ url: r.url }).send(
      makeNotification({ alert: { title: 'a"b', message, labels: { k: '</script>' } } }),
    );
    const payload = JSON.parse(r.requests[0]!.body) as WebhookPayload;
    expect(payload.alerts[0]!.annotations.description).toBe(message);
    expect(payload.alerts[0]!.labels).toMatchObject({ alertname: 'a"b', k: '</script>' });
    expect(r.requests[0]!.body).toContain('\\"x\\"');
    expect(r.requests[0]!.body).toContain('\\n');
  });

  it('names only the origin in errors, never the path, query or credentials', async () => {
    const r = await receiver();
    r.script.push({ status: 500, body: 'boom at /alerts?token=abc123' }, { status: 400, body: 'bad' });
    const hook = new WebhookChannel({ url: `http://u:pw-SECRET@127.0.0.1:${r.port}/alerts?token=abc123` });
    const e500 = (await hook.send(makeNotification()).catch((e: unknown) => e)) as DeliveryError;
    const e400 = (await hook.send(makeNotification()).catch((e: unknown) => e)) as DeliveryError;
    expect([e500.retryable, e400.retryable]).toEqual([true, false]);
    expect(e500.message).toBe(`webhook: POST http://127.0.0.1:${r.port}: answered 500: boom at [redacted]`);
    for (const message of [e500.message, e400.message]) {
      expect(message).not.toContain('abc123');
      expect(message).not.toContain('pw-SECRET');
    }
  });
});
