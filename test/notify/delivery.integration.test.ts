/**
 * The outbox with the real channels against real local receivers: outages, restarts, slow and
 * rate-limiting servers, hostile text, and secrets under forced failures.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load-config.js';
import { createLogger } from '../../src/logger.js';
import { channelRedactor, createChannels } from '../../src/notify/create-channels.js';
import { EmailChannel } from '../../src/notify/email-channel.js';
import { Outbox, type OutboxOptions } from '../../src/notify/outbox.js';
import type { NotificationChannel } from '../../src/notify/types.js';
import { WebhookChannel, type WebhookPayload } from '../../src/notify/webhook-channel.js';
import type { MetricStore } from '../../src/store/lmdb-store.js';
import { activeResources, leakedAfterSettling, memoryLogger, until } from '../helpers.js';
import { tempStores } from '../store/store-fixture.js';
import { makeNotification, type Receiver, startReceiver } from './notify-fixture.js';
import { type SmtpStub, startSmtp } from './smtp-fixture.js';

let stores: ReturnType<typeof tempStores>;
const cleanups: (() => Promise<void>)[] = [];

beforeEach(() => {
  stores = tempStores();
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await stores.cleanup();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  cleanups.push(() => r.close());
  return r;
}

async function smtp(options: Parameters<typeof startSmtp>[0] = {}): Promise<SmtpStub> {
  const stub = await startSmtp(options);
  cleanups.push(() => stub.close());
  return stub;
}

/** Fast backoff so an outage of a few hundred ms sees several retries. */
const FAST = { initialMs: 10, maxMs: 80, jitter: 0.2 };

function openOutbox(store: MetricStore, channels: NotificationChannel[], options: Partial<OutboxOptions> = {}) {
  const logger = memoryLogger();
  const outbox = Outbox.open({ store, channels, logger, backoff: FAST, maxAttempts: 1000, ...options });
  cleanups.push(() => outbox.close());
  return { outbox, logger };
}

const retries = (logger: ReturnType<typeof memoryLogger>, channel: string) =>
  logger.records.filter((r) => r.msg.includes('retrying') && r.fields.channel === channel).length;

/** Notification ids as the receivers saw them in accepted deliveries. */
const mailIds = (server: SmtpStub) => server.mails.map((m) => m.headers.get('x-erlmcp-notification-id'));
const hookIds = (r: Receiver) =>
  r.requests.filter((q) => q.status === 200).map((q) => (JSON.parse(q.body) as WebhookPayload).groupKey);

describe('delivery through the outbox', () => {
  it('rides out SMTP down and a webhook answering 500, then delivers each notification exactly once', async () => {
    const down = await smtp();
    const smtpPort = down.port;
    await down.close();
    const hook = await receiver({ status: 500, body: 'internal error' });
    const store = stores.open();
    const email = new EmailChannel({
      host: '127.0.0.1',
      port: smtpPort,
      from: 'alerts@erlmcp.test',
      to: ['ops@example.com'],
      timeoutMs: 1000,
    });
    const { outbox, logger } = openOutbox(store, [email, new WebhookChannel({ url: `${hook.url}/hook` })]);

    const sent = Array.from({ length: 5 }, () => makeNotification());
    for (const n of sent) await outbox.enqueue(n, ['email', 'webhook']);
    await until(() => {
      expect(retries(logger, 'email')).toBeGreaterThanOrEqual(10);
      expect(retries(logger, 'webhook')).toBeGreaterThanOrEqual(10);
    });
    expect(outbox.pending()).toBe(10);

    const up = await smtp({ port: smtpPort });
    hook.fallback = { status: 200, body: 'ok' };
    await until(() => expect(outbox.pending()).toBe(0), 10_000);
    await until(() => expect(store.records('outbox').count()).toBe(0));

    const ids = sent.map((n) => n.id).sort();
    expect(mailIds(up).sort()).toEqual(ids);
    expect(hookIds(hook).sort()).toEqual(ids);
    expect(outbox.deadLetters()).toEqual([]);
    // The backoff was bounded: no logged wait beyond maxMs.
    const delays = logger.records.filter((r) => r.msg.includes('retrying')).map((r) => r.fields.delayMs as number);
    expect(Math.max(...delays)).toBeLessThanOrEqual(80);
  }, 30_000);

  it('delivers notifications queued before a restart during the outage, from the LMDB outbox', async () => {
    const down = await smtp();
    const smtpPort = down.port;
    await down.close();
    const hook = await receiver({ status: 500 });
    const makeChannels = () => [
      new EmailChannel({
        host: '127.0.0.1',
        port: smtpPort,
        from: 'alerts@erlmcp.test',
        to: ['ops@example.com'],
        timeoutMs: 1000,
      }),
      new WebhookChannel({ url: hook.url }),
    ];

    const store = stores.open();
    const first = openOutbox(store, makeChannels());
    const sent = [makeNotification(), makeNotification(), makeNotification()];
    for (const n of sent) await first.outbox.enqueue(n, ['email', 'webhook']);
    await until(() =>
      expect(retries(first.logger, 'email') + retries(first.logger, 'webhook')).toBeGreaterThanOrEqual(6),
    );
    await first.outbox.close();
    await store.close();

    const reopened = stores.open();
    const up = await smtp({ port: smtpPort });
    hook.fallback = { status: 200, body: 'ok' };
    const second = openOutbox(reopened, makeChannels());
    expect(second.outbox.pending()).toBe(6);
    await until(() => expect(second.outbox.pending()).toBe(0), 10_000);
    await until(() => expect(reopened.records('outbox').count()).toBe(0));

    const ids = sent.map((n) => n.id).sort();
    expect(mailIds(up).sort()).toEqual(ids);
    expect(hookIds(hook).sort()).toEqual(ids);
  }, 30_000);

  it('retries an SMTP server that drops the connection mid-message, then answers 451, and delivers once', async () => {
    const server = await smtp();
    server.script = ['drop', { code: 451, message: 'try again later' }];
    const store = stores.open();
    const email = new EmailChannel({
      host: '127.0.0.1',
      port: server.port,
      from: 'alerts@erlmcp.test',
      to: ['ops@example.com'],
      timeoutMs: 1000,
    });
    const { outbox, logger } = openOutbox(store, [email]);
    const n = makeNotification();
    await outbox.enqueue(n, ['email']);
    await until(() => expect(outbox.pending()).toBe(0), 10_000);
    expect(server.attempts()).toBe(3);
    expect(mailIds(server)).toEqual([n.id]);
    expect(retries(logger, 'email')).toBe(2);
  }, 20_000);

  it('honours a 429 Retry-After within its bound, and retries a webhook that answers too slowly', async () => {
    const hook = await receiver();
    hook.script.push({ status: 429, headers: { 'Retry-After': '1' } }, 'hang', { status: 200 });
    const store = stores.open();
    const { outbox, logger } = openOutbox(store, [new WebhookChannel({ url: hook.url, timeoutMs: 200 })], {
      backoff: { ...FAST, jitter: 0, maxRetryAfterMs: 150 },
    });
    const n = makeNotification();
    await outbox.enqueue(n, ['webhook']);
    await until(() => expect(outbox.pending()).toBe(0), 10_000);

    expect(
      logger.records.filter((r) => r.msg.includes('retrying')).map((r) => [r.fields.delayMs, r.fields.error]),
    ).toEqual([
      [150, `webhook: POST ${hook.url}: answered 429 (Retry-After 1 s)`],
      [20, `webhook: POST ${hook.url}: no complete answer within 200 ms`],
    ]);
    // The slow answer may have been processed by the receiver: it sees the same groupKey again and
    // can drop the repeat; only one request was answered 200.
    expect(hook.requests.map((q) => (JSON.parse(q.body) as WebhookPayload).groupKey)).toEqual([n.id, n.id, n.id]);
    expect(hookIds(hook)).toEqual([n.id]);
  }, 20_000);

  it('carries <script>, quotes and newlines safely into every channel', async () => {
    const mail = await smtp();
    const slack = await receiver();
    const twilio = await receiver({ status: 201, body: '{}' });
    const hook = await receiver();
    const config = loadConfig({
      env: {
        ERLMCP_SLACK_WEBHOOK: `${slack.url}/services/T1/B1/abc`,
        ERLMCP_WEBHOOK_URL: `${hook.url}/in`,
        ERLMCP_TWILIO_ACCOUNT_SID: 'AC1',
        ERLMCP_TWILIO_AUTH_TOKEN: 'tok-0123',
      },
      overrides: {
        alerting: {
          channels: {
            email: { enabled: true, port: mail.port, from: 'alerts@erlmcp.test', to: ['ops@example.com'] },
            sms: { enabled: true, to: ['+15550001111'], base_url: twilio.url },
          },
        },
      },
    });
    const channels = createChannels(config.alerting);
    expect([...channels.keys()].sort()).toEqual(['email', 'slack', 'sms', 'webhook']);
    const store = stores.open();
    const { outbox } = openOutbox(store, [...channels.values()]);
    const message = `<script>alert("pwn")</script> & "double" 'single'\nsecond line`;
    await outbox.enqueue(makeNotification({ alert: { title: 'Evil <b>', message } }), [
      'email',
      'slack',
      'sms',
      'webhook',
    ]);
    await until(() => expect(outbox.pending()).toBe(0), 10_000);

    const html = mail.mails[0]!.html;
    expect(html).not.toContain('<script>');
    expect(html).toContain(
      '&lt;script&gt;alert(&quot;pwn&quot;)&lt;/script&gt; &amp; &quot;double&quot; &#39;single&#39;\nsecond line',
    );
    expect(html).toContain('<h2>[CRITICAL] Evil &lt;b&gt;</h2>');
    expect(mail.mails[0]!.text).toContain(message);

    const blocks = (JSON.parse(slack.requests[0]!.body) as { blocks: { text?: { text: string } }[] }).blocks;
    expect(blocks[1]!.text!.text).toBe(
      `&lt;script&gt;alert("pwn")&lt;/script&gt; &amp; "double" 'single'\nsecond line`,
    );

    expect(new URLSearchParams(twilio.requests[0]!.body).get('Body')).toBe(`[CRITICAL] Evil <b>: ${message}`);

    const payload = JSON.parse(hook.requests[0]!.body) as WebhookPayload;
    expect(payload.alerts[0]!.annotations.description).toBe(message);
    expect(hook.requests[0]!.body).toContain(JSON.stringify(message));
  }, 20_000);

  it('leaves no timers or sockets behind once the outbox is closed mid-retry', async () => {
    const hook = await receiver({ status: 500 });
    const server = await smtp();
    const store = stores.open();
    const before = activeResources();
    const email = new EmailChannel({
      host: '127.0.0.1',
      port: server.port,
      from: 'alerts@erlmcp.test',
      to: ['ops@example.com'],
      timeoutMs: 1000,
    });
    const { outbox, logger } = openOutbox(store, [email, new WebhookChannel({ url: hook.url })], {
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    await outbox.enqueue(makeNotification(), ['email', 'webhook']);
    await until(() => {
      expect(server.mails).toHaveLength(1);
      expect(retries(logger, 'webhook')).toBe(1);
    });
    await outbox.close();
    expect(await leakedAfterSettling(before)).toEqual([]);
  });

  it('keeps every secret out of logs, errors and dead letters while every channel fails', async () => {
    const secrets = {
      smtpPass: 'smtp-Pa55-SECRET',
      slackPath: '/services/T0SECRET/B0SECRET/slackSECRETtoken',
      twilioToken: 'twilio-TOKEN-SECRET-42',
      webhookToken: 'hookSECRETtoken',
    };
    const mail = await smtp({ auth: { user: 'alerts', pass: 'another-password' } });
    // Each HTTP receiver fails and echoes what it got (URL, Authorization, body) back in its answer.
    const echo = (status: number) => ({
      status,
      body: (q: { url: string; headers: Record<string, unknown>; body: string }) =>
        `${q.url} ${String(q.headers.authorization)} ${q.body}`,
    });
    const slack = await receiver(echo(500));
    const twilio = await receiver(echo(401));
    const hook = await receiver(echo(503));
    const env = {
      ERLMCP_SMTP_USER: 'alerts',
      ERLMCP_SMTP_PASS: secrets.smtpPass,
      ERLMCP_SLACK_WEBHOOK: `${slack.url}${secrets.slackPath}`,
      ERLMCP_TWILIO_ACCOUNT_SID: 'AC0123',
      ERLMCP_TWILIO_AUTH_TOKEN: secrets.twilioToken,
      ERLMCP_WEBHOOK_URL: `${hook.url}/in?token=${secrets.webhookToken}`,
    };
    const config = loadConfig({
      env,
      overrides: {
        alerting: {
          channels: {
            email: { enabled: true, port: mail.port, from: 'alerts@erlmcp.test', to: ['ops@example.com'] },
            sms: { enabled: true, to: ['+15550001111'], base_url: twilio.url },
          },
        },
      },
    });
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => void lines.push(line) });
    const store = stores.open();
    const redactor = channelRedactor(config.alerting);
    const outbox = Outbox.open({
      store,
      channels: createChannels(config.alerting),
      logger,
      backoff: FAST,
      maxAttempts: 2,
      redact: (text) => redactor.redact(text),
    });
    cleanups.push(() => outbox.close());
    await outbox.enqueue(makeNotification(), ['email', 'slack', 'sms', 'webhook']);
    await until(() => expect(outbox.deadLetters()).toHaveLength(4), 10_000);

    const forbidden = [
      secrets.smtpPass,
      Buffer.from(`\u0000alerts\u0000${secrets.smtpPass}`).toString('base64'),
      secrets.slackPath,
      'slackSECRETtoken',
      secrets.twilioToken,
      Buffer.from(`AC0123:${secrets.twilioToken}`).toString('base64'),
      secrets.webhookToken,
    ];
    const seen = [...lines, ...outbox.deadLetters().map((d) => JSON.stringify(d))];
    // One retry each for the 5xx channels, then a dead letter for all four (EAUTH 535 and 401 are final).
    const logged = lines.map((line) => JSON.parse(line) as { msg: string; channel: string });
    expect(logged.map((l) => `${l.channel} ${l.msg}`).sort()).toEqual([
      'email notification dead-lettered',
      'slack notification dead-lettered',
      'slack notification delivery failed; retrying',
      'sms notification dead-lettered',
      'webhook notification dead-lettered',
      'webhook notification delivery failed; retrying',
    ]);
    // The receivers did get the secrets (so the echo had something to leak) ...
    expect(twilio.requests[0]!.headers.authorization).toBe(
      `Basic ${Buffer.from(`AC0123:${secrets.twilioToken}`).toString('base64')}`,
    );
    expect(slack.requests[0]!.url).toBe(secrets.slackPath);
    // ... and none of it reached a log line or a dead letter.
    for (const text of seen) for (const secret of forbidden) expect(text).not.toContain(secret);
    expect(seen.join('\n')).toContain('[redacted]');
  }, 20_000);
});
