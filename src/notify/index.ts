/**
 * Notifications: the channels (email, Slack, SMS, webhook) and the persistent outbox that
 * delivers through them with retry, backoff and dead letters.
 */
export { backoffDelay, resolveBackoff } from './backoff.js';
export { checkNotification } from './check-notification.js';
export { channelRedactor, createChannels } from './create-channels.js';
export { EmailChannel, emailMessage } from './email-channel.js';
export { httpPost, parseRetryAfter } from './http-post.js';
export { Outbox, OUTBOX_COLLECTIONS } from './outbox.js';
export { Redactor, safeOrigin } from './redact.js';
export { SlackChannel, slackPayload } from './slack-channel.js';
export { SMS_MAX_CHARS, SmsChannel, smsBody } from './sms-channel.js';
export { DeliveryError } from './types.js';
export { WebhookChannel, webhookPayload, ZERO_TIME } from './webhook-channel.js';

export type { BackoffOptions, BackoffPolicy } from './backoff.js';
export type { CreateChannelsOptions } from './create-channels.js';
export type { EmailChannelOptions } from './email-channel.js';
export type { HttpPostRequest, HttpPostResponse } from './http-post.js';
export type { OutboxOptions, OutboxRecord } from './outbox.js';
export type { SlackChannelOptions } from './slack-channel.js';
export type { SmsChannelOptions } from './sms-channel.js';
export type { ChannelName, DeadLetter, DeliveryContext, Notification, NotificationChannel, NotifiedAlert, OutboxPort } from './types.js';
export type { WebhookAlert, WebhookChannelOptions, WebhookPayload } from './webhook-channel.js';
