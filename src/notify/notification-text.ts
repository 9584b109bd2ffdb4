/**
 * How a notification reads as text, shared by the channels, and the escaping each target format
 * needs. Alert text (title, message, labels) is untrusted: it may hold markup, quotes, newlines.
 *
 * - HTML (email): `& < > " '` become entities.
 * - Slack mrkdwn: `& < >` become `&amp; &lt; &gt;` (Slack's documented escaping; `<` would start a
 *   link or a mention otherwise).
 * - Plain text (email text part, SMS): carried as is; only header-like single lines (a subject)
 *   have their line breaks folded into spaces.
 */
import type { Notification } from './types.js';

/** `[CRITICAL]`, `[RESOLVED]`: the tag that opens every subject and headline. */
export function severityTag(notification: Notification): string {
  return notification.reason === 'resolved' ? '[RESOLVED]' : `[${notification.alert.severity.toUpperCase()}]`;
}

/** The severity prefix alerting's generated titles open with (`CRITICAL Alert: `), which the tag already says. */
const TITLE_SEVERITY = /^(?:INFO|WARNING|ERROR|CRITICAL) Alert: /;

/**
 * `[CRITICAL] <title>` (re-notify: `… (still firing)`), on one line, with one severity: a
 * generated title's own `CRITICAL Alert: ` prefix is dropped (it read `[CRITICAL] CRITICAL Alert: …`).
 */
export function headline(notification: Notification): string {
  const still = notification.reason === 'renotify' ? ' (still firing)' : '';
  return `${severityTag(notification)} ${withoutSeverity(oneLine(notification.alert.title))}${still}`;
}

/** A title without the `CRITICAL Alert: ` prefix alerting's generated titles open with (unchanged if that is all it is). */
export function withoutSeverity(title: string): string {
  const text = title.replace(TITLE_SEVERITY, '');
  return text === '' ? title : text;
}

/** Line breaks and other control characters folded into single spaces. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
}

/** Text safe inside HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside a Slack mrkdwn or plain_text field (Slack escapes exactly these three). */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `text` cut to `max` characters, ending in `…` when cut (never splits a surrogate pair). */
export function truncate(text: string, max: number): string {
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * `escape(text)` cut to at most `max` characters without splitting an escape sequence: the raw
 * text is cut (ending in `…`) until its escaped form fits.
 */
export function escapedWithin(text: string, max: number, escape: (text: string) => string): string {
  let raw = text;
  let out = escape(raw);
  while (out.length > max) {
    // Shrink in proportion to the overflow (escapes may be several characters each), by at least one.
    const length = Array.from(raw).length;
    raw = truncate(raw, Math.max(1, Math.min(length - 1, Math.floor((length * max) / out.length))));
    out = escape(raw);
  }
  return out;
}

/** An RFC 3339 UTC time. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** The facts every channel shows, as label/value pairs, in order. */
export function facts(notification: Notification): [string, string][] {
  const { alert } = notification;
  const out: [string, string][] = [
    ['Severity', alert.severity],
    ['Status', alert.status],
    ['Source', alert.source],
    ['Started', isoTime(alert.startedAt)],
  ];
  if (alert.resolvedAt !== undefined) out.push(['Resolved', isoTime(alert.resolvedAt)]);
  const labels = Object.entries(alert.labels);
  if (labels.length > 0) out.push(['Labels', labels.map(([k, v]) => `${k}=${v}`).join(', ')]);
  return out;
}

/** Only http(s) links are shown: a `javascript:` generator URL must not become a clickable link. */
export function safeLink(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}
