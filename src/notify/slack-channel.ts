/**
 * Slack incoming webhook: `POST <webhook URL>` with `Content-Type: application/json` and a body of
 * `{ text, blocks }` (https://api.slack.com/messaging/webhooks). `text` is the notification
 * fallback; `blocks` are Block Kit: a `header` (plain_text, at most 150 characters), a `section`
 * with the message in mrkdwn (at most 3000) and the facts as fields (at most 10, 2000 each), and a
 * `context` with the notification id. Slack answers 200 `ok`; 4xx bodies name the problem
 * (`invalid_payload`, `no_service`, …) and are dead-lettered, 429/5xx are retried.
 *
 * The webhook URL is the credential (anyone holding it can post), so messages name only its origin.
 */
import { httpPost } from './http-post.js';
import { escapedWithin, escapeMrkdwn, facts, headline, safeLink, truncate } from './notification-text.js';
import { checkHttpUrl, checkOptionsObject, checkTimeout } from './option-checks.js';
import { Redactor, safeOrigin } from './redact.js';
import type { DeliveryContext, Notification, NotificationChannel } from './types.js';

/** Options of {@link SlackChannel}. */
export interface SlackChannelOptions {
  /** The incoming-webhook URL (secret). */
  webhookUrl: string;
  /** Deadline per request. Default 10000 ms. */
  timeoutMs?: number;
}

/** Slack Block Kit limits. */
const HEADER_MAX = 150;
const SECTION_MAX = 3000;
const FIELD_MAX = 2000;
const TEXT_MAX = 4000;

export class SlackChannel implements NotificationChannel {
  readonly name = 'slack' as const;
  readonly sendsResolved = true;
  readonly #url: URL;
  /** What messages call the webhook: its origin only. */
  readonly #target: string;
  readonly #timeoutMs: number;
  readonly #redactor: Redactor;

  /**
   * @param options see {@link SlackChannelOptions}
   * @throws {MonitorError} `EMON_INVALID_OPTION` for a missing or non-http(s) webhook URL or a bad timeout
   */
  constructor(options: SlackChannelOptions) {
    checkOptionsObject('slack channel', options);
    const spec = { timeoutMs: 10_000, ...options };
    this.#url = checkHttpUrl('slack webhookUrl', spec.webhookUrl, true);
    this.#timeoutMs = checkTimeout('slack timeoutMs', spec.timeoutMs);
    this.#redactor = new Redactor([
      spec.webhookUrl,
      this.#url.href,
      this.#url.pathname + this.#url.search,
      this.#url.pathname,
      this.#url.search,
    ]);
    this.#target = `slack: POST ${safeOrigin(this.#url)}/[webhook path redacted]`;
  }

  /** @throws {DeliveryError} (rejects) see `httpPost` */
  async send(notification: Notification, context?: DeliveryContext): Promise<void> {
    await httpPost({
      url: this.#url,
      headers: { 'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'erlmcp-monitor' },
      body: JSON.stringify(slackPayload(notification)),
      timeoutMs: this.#timeoutMs,
      target: this.#target,
      redactor: this.#redactor,
      ...(context === undefined ? {} : { signal: context.signal }),
    });
  }
}

/** A Slack Block Kit element (the subset built here). */
interface SlackText {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}
type SlackBlock =
  | { type: 'header'; text: SlackText }
  | { type: 'section'; text: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] };

/** The webhook body for `notification`: `{ text, blocks }`. */
function slackPayload(notification: Notification): { text: string; blocks: SlackBlock[] } {
  const { alert } = notification;
  const title = headline(notification);
  const link = safeLink(alert.generatorUrl);
  // In mrkdwn a link is <url|label>; the URL's own < > | are percent-encoded by URL parsing.
  const linkLine = link === undefined ? '' : `\n<${link.replace(/\|/g, '%7C')}|Open in dashboard>`;
  const blocks: SlackBlock[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(title, HEADER_MAX), emoji: false } },
    {
      type: 'section',
      // Slack refuses an empty section text (invalid_blocks), which would dead-letter the alert.
      text: {
        type: 'mrkdwn',
        text:
          (alert.message.trim() === ''
            ? '_(no message)_'
            : escapedWithin(alert.message, SECTION_MAX - linkLine.length, escapeMrkdwn)) + linkLine,
      },
      fields: facts(notification)
        .slice(0, 10)
        .map(([label, value]) => ({
          type: 'mrkdwn' as const,
          text: `*${label}*\n${escapedWithin(value, FIELD_MAX - label.length - 3, escapeMrkdwn)}`,
        })),
    },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: escapedWithin(`notification ${notification.id} · alert ${alert.id}`, FIELD_MAX, escapeMrkdwn),
        },
      ],
    },
  ];
  return { text: escapedWithin(`${title}: ${alert.message}`, TEXT_MAX, escapeMrkdwn), blocks };
}
