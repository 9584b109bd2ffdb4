/**
 * The notification protocol between the alerting actor and the channels. Alerting decides what to
 * say to whom (routing, suppression, silences, escalation) and hands each `Notification` to the
 * outbox with the channel names; the outbox persists it, and delivers it through each
 * `NotificationChannel` with retry and backoff until it succeeds or is dead-lettered.
 */
import type { ChannelName, Severity } from '../config/schema.js';

export type { ChannelName };

/** The alert as a channel sees it: plain data, safe to persist. Text fields are untrusted. */
export interface NotifiedAlert {
  id: string;
  fingerprint: string;
  severity: Severity;
  /** `firing` or `resolved` (a resolved notification carries `resolvedAt`). */
  status: 'firing' | 'resolved';
  title: string;
  message: string;
  /** e.g. `'rule:high_latency'`, `'performance_monitor'`, `'api'`. */
  source: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startedAt: number;
  resolvedAt?: number;
  /** Link back to the dashboard, when one is known. */
  generatorUrl?: string;
}

/** One notification: an alert state to tell one or more channels about. */
export interface Notification {
  /** Unique, stable across restarts: the outbox and the receivers deduplicate by it. */
  id: string;
  /** Why it is sent: first firing, an escalation re-notify, or resolution. */
  reason: 'firing' | 'renotify' | 'resolved';
  alert: NotifiedAlert;
  createdAt: number;
}

/** A delivery failure a channel reports; `retryable: false` dead-letters at once (e.g. HTTP 400). */
export class DeliveryError extends Error {
  readonly retryable: boolean;
  /** Suggested earliest retry (ms from now), e.g. from a 429's Retry-After. */
  readonly retryAfterMs: number | undefined;
  constructor(message: string, options: { retryable: boolean; retryAfterMs?: number; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.name = 'DeliveryError';
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * A channel speaks one real protocol. `send` resolves once the receiver accepted the message and
 * throws a {@link DeliveryError} (or anything, treated as retryable) otherwise. Error messages
 * must never contain secrets (passwords, tokens, webhook URLs).
 */
export interface NotificationChannel {
  readonly name: ChannelName;
  /** Whether this channel sends resolved notifications (Alertmanager and webhooks do; SMS does not). */
  readonly sendsResolved: boolean;
  /**
   * Delivers one notification. `context` (always given by the outbox) lets a channel with several
   * receivers (SMS numbers, Alertmanager replicas) skip the ones an earlier attempt reached, and
   * stop early when the outbox closes.
   */
  send(notification: Notification, context?: DeliveryContext): Promise<void>;
  /** Releases sockets/pools. */
  close?(): Promise<void>;
}

/**
 * What the outbox tells a channel about one delivery attempt. A channel that sends to several
 * receivers in separate requests marks each receiver (`part`, e.g. a phone number) delivered as it
 * goes, so a retry after a partial failure, even after a restart, reaches only the rest.
 */
export interface DeliveryContext {
  /** Parts delivered by earlier attempts of this (notification, channel). */
  readonly delivered: ReadonlySet<string>;
  /** Records `part` as delivered; resolves once that is durable. */
  markDelivered(part: string): Promise<void>;
  /** Aborted when the outbox closes: give up the attempt (it is retried after a restart). */
  readonly signal: AbortSignal;
}

/** A notification that exhausted its retries (or failed for good), as the API shows it. */
export interface DeadLetter {
  notificationId: string;
  channel: ChannelName;
  alertId: string;
  reason: Notification['reason'];
  attempts: number;
  /** The last error's message (never contains secrets). */
  lastError: string;
  firstAttemptAt: number;
  deadAt: number;
}

/**
 * What alerting needs from the outbox. `enqueue` resolves once the notification is durably queued
 * for each channel (it survives a crash or restart from then on); delivery happens in the background.
 */
export interface OutboxPort {
  enqueue(notification: Notification, channels: readonly ChannelName[]): Promise<void>;
  /** Queued deliveries not yet done (per notification and channel). */
  pending(): number;
  deadLetters(): DeadLetter[];
}
