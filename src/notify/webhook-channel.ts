/**
 * Generic webhook speaking Alertmanager's webhook format, version 4, so any receiver written for
 * Alertmanager takes it unchanged. `groupKey` is the notification id, stable across retries, which is
 * what a receiver dedupes by (also the `X-Erlmcp-Notification-Id` header). Credentials in the URL are
 * sent as HTTP Basic auth; messages name only the URL's origin, since its path or query may carry a
 * token. Payload and label mapping: docs/design-notes.md.
 */
import { httpPost } from './http-post.js';
import { isoTime } from './notification-text.js';
import { checkHttpUrl, checkOptionsObject, checkString, checkTimeout } from './option-checks.js';
import { Redactor, safeOrigin } from './redact.js';
import type { DeliveryContext, Notification, NotificationChannel } from './types.js';

/** Options of {@link WebhookChannel}. */
export interface WebhookChannelOptions {
  /** Receiver URL; user-info becomes Basic auth. Treated as a secret. */
  url: string;
  /** The `receiver` field. Default `'erlmcp-monitor'`. */
  receiver?: string;
  /**
   * The `externalURL` field: where the alerts can be seen (the dashboard), or a function giving it
   * at each send (the dashboard's bound address once it listens; undefined = `''`). Default `''`.
   */
  externalUrl?: string | (() => string | undefined);
  /** Deadline per request. Default 10000 ms. */
  timeoutMs?: number;
}

/** Alertmanager's "no end time" for a firing alert. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

/** One alert in a version-4 webhook payload. */
export interface WebhookAlert {
  status: 'firing' | 'resolved';
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL: string;
  fingerprint: string;
}

/** Alertmanager's webhook payload, version 4. */
export interface WebhookPayload {
  version: '4';
  groupKey: string;
  truncatedAlerts: number;
  status: 'firing' | 'resolved';
  receiver: string;
  groupLabels: Record<string, string>;
  commonLabels: Record<string, string>;
  commonAnnotations: Record<string, string>;
  externalURL: string;
  alerts: WebhookAlert[];
}

export class WebhookChannel implements NotificationChannel {
  readonly name = 'webhook' as const;
  readonly sendsResolved = true;
  readonly #url: URL;
  readonly #headers: Record<string, string>;
  readonly #receiver: string;
  readonly #externalUrl: string | (() => string | undefined);
  readonly #timeoutMs: number;
  readonly #redactor: Redactor;
  readonly #target: string;

  /**
   * @param options see {@link WebhookChannelOptions}
   * @throws {MonitorError} `EMON_INVALID_OPTION` for a missing or non-http(s) URL, an empty receiver or a bad timeout
   */
  constructor(options: WebhookChannelOptions) {
    checkOptionsObject('webhook channel', options);
    const spec = { receiver: 'erlmcp-monitor', externalUrl: '', timeoutMs: 10_000, ...options };
    const url = checkHttpUrl('webhook url', spec.url, true);
    this.#receiver = checkString('webhook receiver', spec.receiver);
    if (typeof spec.externalUrl !== 'string' && typeof spec.externalUrl !== 'function')
      checkString('webhook externalUrl', spec.externalUrl);
    this.#externalUrl = spec.externalUrl;
    this.#timeoutMs = checkTimeout('webhook timeoutMs', spec.timeoutMs);
    this.#headers = { 'Content-Type': 'application/json', 'User-Agent': 'erlmcp-monitor' };
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    if (url.username !== '' || url.password !== '') {
      this.#headers.Authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.#url = url;
    this.#redactor = new Redactor(
      [spec.url, url.href, url.pathname + url.search, url.pathname, url.search, password],
      [[user, password]],
    );
    this.#target = `webhook: POST ${safeOrigin(url)}`;
  }

  /** @throws {DeliveryError} (rejects) see `httpPost` */
  async send(notification: Notification, context?: DeliveryContext): Promise<void> {
    await httpPost({
      url: this.#url,
      headers: { ...this.#headers, 'X-Erlmcp-Notification-Id': encodeURIComponent(notification.id) },
      body: JSON.stringify(
        webhookPayload(
          notification,
          this.#receiver,
          typeof this.#externalUrl === 'string' ? this.#externalUrl : (this.#externalUrl() ?? ''),
        ),
      ),
      timeoutMs: this.#timeoutMs,
      target: this.#target,
      redactor: this.#redactor,
      ...(context === undefined ? {} : { signal: context.signal }),
    });
  }
}

/**
 * The version-4 payload for one notification (one alert per notification).
 * @param receiver the `receiver` field
 * @param externalUrl the `externalURL` field
 */
function webhookPayload(notification: Notification, receiver: string, externalUrl: string): WebhookPayload {
  const { alert } = notification;
  const status = notification.reason === 'resolved' ? 'resolved' : 'firing';
  const labels = { alertname: alert.title, ...alert.labels, severity: alert.severity };
  const annotations = { summary: alert.title, description: alert.message, ...alert.annotations };
  return {
    version: '4',
    groupKey: notification.id,
    truncatedAlerts: 0,
    status,
    receiver,
    groupLabels: { alertname: labels.alertname },
    commonLabels: labels,
    commonAnnotations: annotations,
    externalURL: externalUrl,
    alerts: [
      {
        status,
        labels,
        annotations,
        startsAt: isoTime(alert.startedAt),
        endsAt: alert.resolvedAt === undefined ? ZERO_TIME : isoTime(alert.resolvedAt),
        generatorURL: alert.generatorUrl ?? '',
        fingerprint: alert.fingerprint,
      },
    ],
  };
}
