/**
 * SMS through the Twilio Messages API, one request per recipient (HTTP Basic auth, form body
 * `To`, `From`, `Body`); the base URL is configurable for tests and compatible gateways.
 *
 * One request per recipient means a retry after a partial failure texts only those not reached.
 * Resolved notifications are skipped (`sendsResolved: false`). Status handling and body format:
 * docs/design-notes.md.
 */
import { httpPost } from './http-post.js';
import { headline, truncate } from './notification-text.js';
import { checkHttpUrl, checkList, checkOptionsObject, checkString, checkTimeout } from './option-checks.js';
import { Redactor, safeOrigin } from './redact.js';
import type { DeliveryContext, Notification, NotificationChannel } from './types.js';

/** Options of {@link SmsChannel}. */
export interface SmsChannelOptions {
  /** Twilio account SID (`AC…`). */
  accountSid: string;
  /** Twilio auth token (secret). */
  authToken: string;
  /** Sender number, E.164. */
  from: string;
  /** Recipient numbers, E.164, at least one. */
  to: readonly string[];
  /** API base URL. Default `https://api.twilio.com`. */
  baseUrl?: string;
  /** Deadline per request. Default 10000 ms. */
  timeoutMs?: number;
}

/** Twilio's longest message body. */
const SMS_MAX_CHARS = 1600;

const E164 = /^\+[1-9]\d{1,14}$/;

export class SmsChannel implements NotificationChannel {
  readonly name = 'sms' as const;
  readonly sendsResolved = false;
  readonly #url: URL;
  readonly #authorization: string;
  readonly #from: string;
  readonly #to: readonly string[];
  readonly #timeoutMs: number;
  readonly #redactor: Redactor;
  readonly #target: string;

  /**
   * @param options see {@link SmsChannelOptions}
   * @throws {MonitorError} `EMON_INVALID_OPTION` for a missing SID or token, a number not in E.164
   *   form, no recipients, a non-http(s) base URL or a bad timeout
   */
  constructor(options: SmsChannelOptions) {
    checkOptionsObject('sms channel', options);
    const spec = { baseUrl: 'https://api.twilio.com', timeoutMs: 10_000, ...options };
    const sid = checkString('sms accountSid', spec.accountSid);
    const token = checkString('sms authToken', spec.authToken, true);
    this.#from = checkList('sms from', [spec.from], E164, 'an E.164 phone number')[0]!;
    this.#to = checkList('sms to', spec.to, E164, 'E.164 phone numbers');
    this.#timeoutMs = checkTimeout('sms timeoutMs', spec.timeoutMs);
    const base = checkHttpUrl('sms baseUrl', spec.baseUrl);
    this.#url = new URL(
      `${base.pathname.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(sid)}/Messages.json`,
      base,
    );
    this.#authorization = `Basic ${Buffer.from(`${sid}:${token}`).toString('base64')}`;
    this.#redactor = new Redactor([token], [[sid, token]]);
    this.#target = `sms: POST ${safeOrigin(base)} (Twilio Messages API)`;
  }

  /** Texts every recipient not yet reached. @throws {DeliveryError} (rejects) at the first recipient that fails */
  async send(notification: Notification, context?: DeliveryContext): Promise<void> {
    const body = smsBody(notification);
    for (const to of this.#to) {
      if (context?.delivered.has(to)) continue;
      await httpPost({
        url: this.#url,
        headers: {
          Authorization: this.#authorization,
          'Content-Type': 'application/x-www-form-urlencoded',
          Accept: 'application/json',
          'User-Agent': 'erlmcp-monitor',
        },
        body: new URLSearchParams({ To: to, From: this.#from, Body: body }).toString(),
        timeoutMs: this.#timeoutMs,
        target: `${this.#target} to ${to}`,
        redactor: this.#redactor,
        ...(context === undefined ? {} : { signal: context.signal }),
      });
      await context?.markDelivered(to);
    }
  }
}

/** The SMS text: plain, `[CRITICAL] <title>: <message>`, at most 1600 characters. */
function smsBody(notification: Notification): string {
  return truncate(`${headline(notification)}: ${notification.alert.message}`, SMS_MAX_CHARS);
}
