/**
 * Email through nodemailer's SMTP transport, one session per notification (alert mail is rare;
 * nothing stays open). The notification id is in a deterministic `Message-ID` and a header, so a
 * message sent twice is recognisably the same; later mails of an alert thread to its first. SMTP 5xx
 * is final (dead-lettered); 4xx, connection errors and timeouts are retried. Every wait is bounded
 * (`timeoutMs` per step, `3 × timeoutMs` per send). Details: docs/design-notes.md.
 */
import nodemailer, { type Transporter } from 'nodemailer';
import { escapeHtml, facts, headline, oneLine, safeLink } from './notification-text.js';
import { checkList, checkOptionsObject, checkPort, checkString, checkTimeout } from './option-checks.js';
import { Redactor } from './redact.js';
import { type DeliveryContext, DeliveryError, type Notification, type NotificationChannel } from './types.js';

/** Options of {@link EmailChannel}. */
export interface EmailChannelOptions {
  /** SMTP server host. */
  host: string;
  /** SMTP port. Default 587. */
  port?: number;
  /** TLS from the first byte (port 465). Default false: plain, upgraded by STARTTLS when offered. */
  secure?: boolean;
  /** Refuse to send unless STARTTLS succeeds. Default false. */
  requireTls?: boolean;
  /** Check the server's certificate. Default true. */
  rejectUnauthorized?: boolean;
  /** SMTP user; with `pass`, authenticates. */
  user?: string;
  /** SMTP password (secret). */
  pass?: string;
  /** Sender address. */
  from: string;
  /** Recipients, at least one. */
  to: readonly string[];
  /** Deadline for connecting, for the greeting and for each idle read/write. Default 10000 ms. */
  timeoutMs?: number;
}

const EMAIL = /^[^\s@<>",;]+@[^\s@<>",;]+$/;

export class EmailChannel implements NotificationChannel {
  readonly name = 'email' as const;
  readonly sendsResolved = true;
  readonly #transport: Transporter;
  readonly #from: string;
  readonly #to: readonly string[];
  readonly #domain: string;
  readonly #target: string;
  readonly #sendTimeoutMs: number;
  readonly #redactor: Redactor;

  /**
   * @param options see {@link EmailChannelOptions}
   * @throws {MonitorError} `EMON_INVALID_OPTION` for a bad host, port, address list, timeout, or a
   *   user without a password (or the reverse)
   */
  constructor(options: EmailChannelOptions) {
    checkOptionsObject('email channel', options);
    const spec = {
      port: 587,
      secure: false,
      requireTls: false,
      rejectUnauthorized: true,
      timeoutMs: 10_000,
      ...options,
    };
    const host = checkString('email host', spec.host);
    const port = checkPort('email port', spec.port);
    this.#from = checkList('email from', [spec.from], EMAIL, 'an email address')[0]!;
    this.#to = checkList('email to', spec.to, EMAIL, 'email addresses');
    const timeoutMs = checkTimeout('email timeoutMs', spec.timeoutMs);
    if (spec.user === undefined && spec.pass !== undefined) checkString('email user (pass is set)', spec.user);
    if (spec.user !== undefined && spec.pass === undefined) checkString('email pass (user is set)', spec.pass);
    const auth =
      spec.user === undefined
        ? undefined
        : { user: checkString('email user', spec.user), pass: checkString('email pass', spec.pass, true) };
    this.#transport = nodemailer.createTransport({
      host,
      port,
      secure: spec.secure,
      requireTLS: spec.requireTls,
      tls: { rejectUnauthorized: spec.rejectUnauthorized },
      ...(auth === undefined ? {} : { auth }),
      connectionTimeout: timeoutMs,
      greetingTimeout: timeoutMs,
      socketTimeout: timeoutMs,
      dnsTimeout: timeoutMs,
      logger: false,
    });
    this.#domain = this.#from.slice(this.#from.lastIndexOf('@') + 1);
    this.#target = `email: SMTP ${host}:${port}`;
    this.#sendTimeoutMs = 3 * timeoutMs;
    this.#redactor =
      auth === undefined
        ? new Redactor([])
        : new Redactor(
            [
              auth.pass,
              Buffer.from(auth.pass).toString('base64'),
              Buffer.from(`\u0000${auth.user}\u0000${auth.pass}`).toString('base64'),
            ],
            [[auth.user, auth.pass]],
          );
  }

  /** @throws {DeliveryError} (rejects) retryable unless the server answered 5xx */
  async send(notification: Notification, context?: DeliveryContext): Promise<void> {
    const deadline = AbortSignal.timeout(this.#sendTimeoutMs);
    const signal = context === undefined ? deadline : AbortSignal.any([deadline, context.signal]);
    try {
      await this.#transport.sendMail({
        ...emailMessage(notification, this.#domain),
        from: this.#from,
        to: [...this.#to],
        signal,
      });
    } catch (err) {
      throw this.#deliveryError(err, deadline.aborted);
    }
  }

  /** Closes the transport (and any connection it holds). */
  async close(): Promise<void> {
    this.#transport.close();
  }

  #deliveryError(err: unknown, timedOut: boolean): DeliveryError {
    if (timedOut)
      return new DeliveryError(`${this.#target}: no answer within ${this.#sendTimeoutMs} ms`, { retryable: true });
    const e = err as { code?: unknown; responseCode?: unknown; message?: unknown; name?: unknown };
    const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : 'error';
    const reply = typeof e.responseCode === 'number' ? e.responseCode : undefined;
    const text = this.#redactor.redact(oneLine(typeof e.message === 'string' ? e.message : String(err))).slice(0, 200);
    const permanent = reply !== undefined && reply >= 500 && reply < 600;
    return new DeliveryError(`${this.#target}: ${code}${reply === undefined ? '' : ` ${reply}`}: ${text}`, {
      retryable: !permanent,
    });
  }
}

/** The message fields for `notification` (without from/to). */
function emailMessage(
  notification: Notification,
  domain: string,
): {
  subject: string;
  text: string;
  html: string;
  messageId: string;
  inReplyTo?: string;
  references?: string;
  headers: Record<string, string>;
} {
  const { alert } = notification;
  const subject = headline(notification);
  const link = safeLink(alert.generatorUrl);
  const rows = facts(notification);
  const annotations = Object.entries(alert.annotations);
  const text = [
    subject,
    '',
    alert.message,
    '',
    ...rows.map(([label, value]) => `${label}: ${value}`),
    ...annotations.map(([key, value]) => `${key}: ${value}`),
    ...(link === undefined ? [] : ['', link]),
    '',
    `Alert ${alert.id}, notification ${notification.id}`,
  ].join('\n');
  const cell = (value: string) => `<td style="padding:2px 8px">${escapeHtml(value)}</td>`;
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif">',
    `<h2>${escapeHtml(subject)}</h2>`,
    `<p style="white-space:pre-wrap">${escapeHtml(alert.message)}</p>`,
    '<table>',
    ...[...rows, ...annotations].map(([label, value]) => `<tr>${cell(label)}${cell(value)}</tr>`),
    '</table>',
    link === undefined ? '' : `<p><a href="${escapeHtml(link)}">Open in dashboard</a></p>`,
    `<p style="color:#888">Alert ${escapeHtml(alert.id)}, notification ${escapeHtml(notification.id)}</p>`,
    '</body></html>',
  ].join('\n');
  const messageId = `<${messageIdLocal(notification.id)}@${domain}>`;
  const first = `<${messageIdLocal(`${alert.id}:firing`)}@${domain}>`;
  return {
    subject,
    text,
    html,
    messageId,
    ...(messageId === first ? {} : { inReplyTo: first, references: first }),
    headers: { 'X-Erlmcp-Notification-Id': oneLine(notification.id), 'X-Erlmcp-Alert-Id': oneLine(alert.id) },
  };
}

/** The id as a Message-ID local part: as is when it is a plain dot-atom, else its UTF-8 bytes in hex. */
function messageIdLocal(id: string): string {
  return /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(id) ? id : `x-${Buffer.from(id, 'utf8').toString('hex')}`;
}
