/**
 * Builds the notification channels the alerting config enables. Secrets reach the config from the
 * environment (`loadConfig`: `ERLMCP_SMTP_USER`/`ERLMCP_SMTP_PASS`, `ERLMCP_SLACK_WEBHOOK`,
 * `ERLMCP_TWILIO_ACCOUNT_SID`/`ERLMCP_TWILIO_AUTH_TOKEN`, `ERLMCP_WEBHOOK_URL`), so this reads
 * only the loaded config.
 *
 * Built here: email, slack, sms, webhook. The Alertmanager channel (`/api/v2/alerts`) is built by
 * its own module and handed in through `extra`, as is any custom channel.
 */
import { ErrorCode, MonitorError } from '../errors.js';
import type { AlertingConfig } from '../config/schema.js';
import { EmailChannel } from './email-channel.js';
import { Redactor } from './redact.js';
import { SlackChannel } from './slack-channel.js';
import { SmsChannel } from './sms-channel.js';
import type { ChannelName, NotificationChannel } from './types.js';
import { WebhookChannel } from './webhook-channel.js';

/** Options of {@link createChannels}. */
export interface CreateChannelsOptions {
  /** Channels built elsewhere (the Alertmanager channel, a custom one), added as they are. Default none. */
  extra?: readonly NotificationChannel[];
  /** The webhook payload's `externalURL` (where the dashboard is), or a function giving it once known. Default `''`. */
  externalUrl?: string | (() => string | undefined);
}

/**
 * The enabled channels of `alerting.channels`, plus `options.extra`, by name; hand the map to
 * `Outbox.open`.
 *
 * @param alerting the loaded `alerting` config section
 * @param options see {@link CreateChannelsOptions}
 * @throws {MonitorError} `EMON_INVALID_OPTION` if an enabled channel's settings are unusable (see
 *   each channel's constructor) or an extra channel's name is taken
 */
export function createChannels(
  alerting: AlertingConfig,
  options: CreateChannelsOptions = {},
): Map<ChannelName, NotificationChannel> {
  const { email, slack, sms, webhook } = alerting.channels;
  const channels = new Map<ChannelName, NotificationChannel>();
  if (email.enabled) {
    channels.set(
      'email',
      new EmailChannel({
        host: email.host,
        port: email.port,
        secure: email.secure,
        requireTls: email.require_tls,
        from: email.from,
        to: email.to,
        timeoutMs: email.timeout,
        ...(email.user === undefined ? {} : { user: email.user }),
        ...(email.pass === undefined ? {} : { pass: email.pass }),
      }),
    );
  }
  if (slack.enabled) channels.set('slack', new SlackChannel({ webhookUrl: slack.webhook, timeoutMs: slack.timeout }));
  if (sms.enabled) {
    channels.set(
      'sms',
      new SmsChannel({
        accountSid: sms.account_sid ?? '',
        authToken: sms.auth_token ?? '',
        from: sms.number,
        to: sms.to,
        baseUrl: sms.base_url,
        timeoutMs: sms.timeout,
      }),
    );
  }
  if (webhook.enabled) {
    channels.set(
      'webhook',
      new WebhookChannel({ url: webhook.url, timeoutMs: webhook.timeout, externalUrl: options.externalUrl ?? '' }),
    );
  }
  for (const channel of options.extra ?? []) {
    if (channels.has(channel.name)) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `createChannels: an extra channel is named "${channel.name}", which the config already enables`,
      );
    }
    channels.set(channel.name, channel);
  }
  return channels;
}

/**
 * A Redactor for every channel secret in `alerting` (SMTP password, Twilio token, Slack and
 * webhook URLs, passwords in Alertmanager URLs), for the outbox's `redact` option.
 * @param alerting the loaded `alerting` config section
 */
export function channelRedactor(alerting: AlertingConfig): Redactor {
  const { email, slack, sms, webhook, alertmanager } = alerting.channels;
  const secrets = [email.pass, sms.auth_token, slack.webhook, webhook.url];
  const pairs: [string, string][] = [];
  if (email.user !== undefined && email.pass !== undefined) pairs.push([email.user, email.pass]);
  if (sms.account_sid !== undefined && sms.auth_token !== undefined) pairs.push([sms.account_sid, sms.auth_token]);
  for (const url of [webhook.url, ...alertmanager.urls]) {
    try {
      const parsed = new URL(url);
      if (parsed.password !== '') {
        secrets.push(decodeURIComponent(parsed.password));
        pairs.push([decodeURIComponent(parsed.username), decodeURIComponent(parsed.password)]);
      }
    } catch {
      // not a URL: nothing embedded to find
    }
  }
  return new Redactor(secrets, pairs);
}
