/**
 * An alert: one condition that fired, identified by its fingerprint while it is firing, and by its
 * `id` for good (a condition that fires again after resolving is a new alert with a new id).
 * Plain data: alerts are persisted as they are, and shown through {@link toAlertView} and
 * {@link toNotifiedAlert}. `title`, `message`, labels and annotations are untrusted text, carried
 * unchanged; whoever renders them escapes them.
 */
import type { ChannelName, NotifiedAlert } from '../notify/types.js';
import type { AlertView } from '../server/protocol.js';
import type { Severity } from './severity.js';

/** An alert as alerting keeps it: what channels see (`NotifiedAlert`) plus its notification bookkeeping. */
export interface Alert extends Omit<NotifiedAlert, 'generatorUrl'> {
  /** The last time the condition was reported or evaluated as holding. */
  lastSeenAt: number;
  /** The measured value and the threshold, when known. */
  value?: number;
  threshold?: number;
  /** When the first notification was decided; unset while it is held back (silence, suppression) or alerting is disabled. */
  notifiedAt?: number;
  /** When it was last notified (first or re-notify). */
  lastNotifiedAt?: number;
  /** How many firing and re-notify notifications went out. */
  notifications: number;
  /** Every channel notified so far; a resolved notification goes to these. */
  channels: ChannelName[];
  /** When the resolved notification was queued. */
  resolvedNotifiedAt?: number;
}

/** The dashboard's view of an alert (`AlertView` in src/server/protocol.ts). */
export function toAlertView(alert: Alert): AlertView {
  return {
    id: alert.id,
    severity: alert.severity,
    status: alert.status,
    title: alert.title,
    message: alert.message,
    source: alert.source,
    labels: { ...alert.labels },
    startedAt: alert.startedAt,
  };
}

/**
 * The channels' view of an alert.
 * @param generatorUrl a link back to the dashboard, when known
 */
export function toNotifiedAlert(alert: Alert, generatorUrl?: string): NotifiedAlert {
  return {
    id: alert.id,
    fingerprint: alert.fingerprint,
    severity: alert.severity,
    status: alert.status,
    title: alert.title,
    message: alert.message,
    source: alert.source,
    labels: { ...alert.labels },
    annotations: { ...alert.annotations },
    startedAt: alert.startedAt,
    ...(alert.resolvedAt === undefined ? {} : { resolvedAt: alert.resolvedAt }),
    ...(generatorUrl === undefined ? {} : { generatorUrl }),
  };
}

/** Longest title derived from a message. */
const TITLE_TEXT = 120;

/**
 * The source's `generate_alert_title`: `"CRITICAL Alert: <text>"`, with the text cut at its first
 * line break and at 120 characters (the message keeps it all).
 */
export function alertTitle(severity: Severity, text: string): string {
  const firstLine = text.split(/\r?\n|\r/, 1)[0] ?? '';
  const short = firstLine.length > TITLE_TEXT ? `${firstLine.slice(0, TITLE_TEXT - 1)}…` : firstLine;
  return `${severity.toUpperCase()} Alert: ${short}`;
}
