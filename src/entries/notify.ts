/**
 * `erlmcp-monitor/notify`: the notification channels and the durable outbox that delivers to
 * them. Every export here is public API.
 */
export { Outbox } from '../notify/outbox.js';
export { createChannels } from '../notify/create-channels.js';
export { EmailChannel } from '../notify/email-channel.js';
export { SlackChannel } from '../notify/slack-channel.js';
export { SmsChannel } from '../notify/sms-channel.js';
export { WebhookChannel } from '../notify/webhook-channel.js';
export { AlertmanagerChannel } from '../notify/alertmanager-channel.js';
export { DeliveryError } from '../notify/types.js';

export type {
  ChannelName,
  DeadLetter,
  DeliveryContext,
  Notification,
  NotificationChannel,
  NotifiedAlert,
  OutboxPort,
} from '../notify/types.js';
export type { EmailChannelOptions } from '../notify/email-channel.js';
export type { SlackChannelOptions } from '../notify/slack-channel.js';
export type { SmsChannelOptions } from '../notify/sms-channel.js';
export type { WebhookChannelOptions } from '../notify/webhook-channel.js';
export type { AlertmanagerChannelOptions } from '../notify/alertmanager-channel.js';
export type { OutboxOptions } from '../notify/outbox.js';
