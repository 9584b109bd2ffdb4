import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { EmailChannel, type EmailChannelOptions } from '../../src/notify/email-channel.js';
import { DeliveryError } from '../../src/notify/types.js';
import { activeResources, leakedAfterSettling } from '../helpers.js';
import { makeNotification } from './notify-fixture.js';
import { type SmtpStub, startSmtp } from './smtp-fixture.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function smtp(options: Parameters<typeof startSmtp>[0] = {}): Promise<SmtpStub> {
  const stub = await startSmtp(options);
  cleanups.push(() => stub.close());
  return stub;
}

function channel(port: number, options: Partial<EmailChannelOptions> = {}): EmailChannel {
  const email = new EmailChannel({
    host: '127.0.0.1',
    port,
    from: 'alerts@erlmcp.test',
    to: ['ops@example.com', 'oncall@example.com'],
    timeoutMs: 2000,
    ...options,
  });
  cleanups.push(() => email.close());
  return email;
}

async function sendError(promise: Promise<unknown>): Promise<DeliveryError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

/** A TCP server that accepts and never says anything (no SMTP greeting). */
async function silentServer(): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  return (server.address() as net.AddressInfo).port;
}

describe('EmailChannel', () => {
  it('delivers to a real SMTP server with auth: subject, text, HTML, id header and Message-ID', async () => {
    const server = await smtp({ auth: { user: 'alerts', pass: 'smtp-S3cret-pw' } });
    const email = channel(server.port, { user: 'alerts', pass: 'smtp-S3cret-pw' });
    const n = makeNotification({
      id: 'notif-42',
      alert: { title: 'High latency', message: 'p95 is 250 ms', labels: { service: 'api' } },
    });

    await email.send(n);

    expect(server.mails).toHaveLength(1);
    const mail = server.mails[0]!;
    expect(mail.user).toBe('alerts');
    expect(mail.from).toBe('alerts@erlmcp.test');
    expect(mail.to).toEqual(['ops@example.com', 'oncall@example.com']);
    expect(mail.headers.get('subject')).toBe('[CRITICAL] High latency');
    expect(mail.headers.get('from')).toBe('alerts@erlmcp.test');
    expect(mail.headers.get('to')).toBe('ops@example.com, oncall@example.com');
    expect(mail.headers.get('message-id')).toBe('<notif-42@erlmcp.test>');
    expect(mail.headers.get('x-erlmcp-notification-id')).toBe('notif-42');
    expect(mail.headers.get('x-erlmcp-alert-id')).toBe(n.alert.id);
    expect(mail.text).toContain('[CRITICAL] High latency\n\np95 is 250 ms\n');
    expect(mail.text).toContain('Labels: service=api');
    expect(mail.text).toContain('notification notif-42');
    expect(mail.html).toContain('<h2>[CRITICAL] High latency</h2>');
    expect(mail.html).toContain('<p style="white-space:pre-wrap">p95 is 250 ms</p>');
  });

  it('escapes <script>, quotes and newlines in the HTML part and keeps them plain in the text part', async () => {
    const server = await smtp();
    const email = channel(server.port);
    const evil = `<script>alert("x")</script> & 'q'\nline2`;
    await email.send(
      makeNotification({
        alert: {
          title: `T <b>"x"</b>\nInjected: header`,
          message: evil,
          labels: { path: '<img src=x>' },
          generatorUrl: 'javascript:alert(1)',
        },
      }),
    );

    const mail = server.mails[0]!;
    expect(mail.headers.get('subject')).toBe('[CRITICAL] T <b>"x"</b> Injected: header');
    expect(mail.headers.has('injected')).toBe(false);
    expect(mail.html).not.toContain('<script>');
    expect(mail.html).not.toContain('<img');
    expect(mail.html).not.toContain('javascript:');
    expect(mail.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;\nline2');
    expect(mail.html).toContain('path=&lt;img src=x&gt;');
    expect(mail.text).toContain(evil);
  });

  it('marks an SMTP 5xx as final and a 4xx as retryable', async () => {
    const server = await smtp();
    const email = channel(server.port);
    server.script = [
      { code: 550, message: 'mailbox unavailable' },
      { code: 451, message: 'try again later' },
    ];
    const final = await sendError(email.send(makeNotification()));
    expect(final.retryable).toBe(false);
    expect(final.message).toMatch(/^email: SMTP 127\.0\.0\.1:\d+: EMESSAGE 550: .*mailbox unavailable/);
    const transient = await sendError(email.send(makeNotification()));
    expect(transient.retryable).toBe(true);
    expect(transient.message).toContain('451');
  });

  it('retries when the server refuses the connection, never greets, or drops the connection mid-message', async () => {
    const closed = await smtp();
    const port = closed.port;
    await closed.close();
    const refused = await sendError(channel(port).send(makeNotification()));
    expect(refused.retryable).toBe(true);
    expect(refused.message).toMatch(/ECONNECTION|ECONNREFUSED/);

    const silent = await silentServer();
    const started = performance.now();
    const timedOut = await sendError(channel(silent, { timeoutMs: 150 }).send(makeNotification()));
    expect(timedOut.retryable).toBe(true);
    expect(timedOut.message).toMatch(/ETIMEDOUT|no answer/);
    expect(performance.now() - started).toBeLessThan(2000);

    const dropping = await smtp();
    dropping.script = ['drop'];
    const email = channel(dropping.port);
    const dropped = await sendError(email.send(makeNotification()));
    expect(dropped.retryable).toBe(true);
    expect(dropping.mails).toHaveLength(0);
    await email.send(makeNotification());
    expect(dropping.mails).toHaveLength(1);
  });

  it('refuses wrong credentials as final, without the password in the error', async () => {
    const server = await smtp({ auth: { user: 'alerts', pass: 'right-password' } });
    const err = await sendError(
      channel(server.port, { user: 'alerts', pass: 'wrong-Pa55word' }).send(makeNotification()),
    );
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('EAUTH 535');
    expect(err.message).not.toContain('wrong-Pa55word');
    expect(err.message).not.toContain(Buffer.from('\u0000alerts\u0000wrong-Pa55word').toString('base64'));
  });

  it('refuses bad options, naming them', () => {
    const make = (options: Partial<EmailChannelOptions>) => () =>
      new EmailChannel({ host: '127.0.0.1', from: 'a@b.c', to: ['x@y.z'], ...options });
    expect(make({ port: 0 })).toThrow(
      new MonitorError(ErrorCode.InvalidOption, 'invalid email port 0 (expected an integer from 1 to 65535)'),
    );
    expect(make({ to: [] })).toThrow('invalid email to an array of 0 (expected a non-empty list of email addresses)');
    expect(make({ to: ['not an address'] })).toThrow('invalid email to[0] "not an address" (expected email addresses)');
    expect(make({ user: 'u' })).toThrow('invalid email pass (user is set) undefined (expected a non-empty string)');
  });

  it('leaves no sockets or timers behind after sends and close', async () => {
    const server = await smtp();
    const before = activeResources();
    const email = new EmailChannel({
      host: '127.0.0.1',
      port: server.port,
      from: 'a@b.test',
      to: ['x@y.test'],
      timeoutMs: 2000,
    });
    await email.send(makeNotification());
    await email.send(makeNotification());
    await email.close();
    expect(await leakedAfterSettling(before)).toEqual([]);
  });
});
