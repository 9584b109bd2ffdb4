/**
 * Checks a {@link Notification} before the outbox persists it: a malformed one would fail in
 * every channel on every retry, so it is refused at the door with a message naming the field.
 */
import { isSeverity, SEVERITIES } from '../alerts/severity.js';
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import type { Notification } from './types.js';

/** Longest notification id: it is part of the outbox's LMDB key (at most 500 characters a part). */
export const MAX_NOTIFICATION_ID = 200;

const REASONS = ['firing', 'renotify', 'resolved'] as const;

function fail(field: string, value: unknown, expected: string): never {
  throw new MonitorError(
    ErrorCode.InvalidNotification,
    `invalid notification: ${field} is ${describeValue(value)} (expected ${expected})`,
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function text(field: string, value: unknown, nonEmpty = false): void {
  if (typeof value !== 'string' || (nonEmpty && value === ''))
    fail(field, value, nonEmpty ? 'a non-empty string' : 'a string');
}

function time(field: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(field, value, 'a finite number (ms since the epoch)');
}

function stringMap(field: string, value: unknown): void {
  if (!isObject(value)) fail(field, value, 'an object of strings');
  for (const [key, item] of Object.entries(value))
    if (typeof item !== 'string') fail(`${field}.${key}`, item, 'a string');
}

/**
 * @param value what was handed to `enqueue`
 * @throws {MonitorError} `EMON_INVALID_NOTIFICATION` naming the first bad field and what is allowed
 */
export function checkNotification(value: unknown): asserts value is Notification {
  if (!isObject(value)) fail('the notification', value, 'an object');
  const { id, reason, alert, createdAt } = value;
  if (typeof id !== 'string' || id === '' || id.length > MAX_NOTIFICATION_ID)
    fail('id', id, `a string of 1-${MAX_NOTIFICATION_ID} characters`);
  if (!(REASONS as readonly unknown[]).includes(reason))
    fail('reason', reason, REASONS.map((r) => `"${r}"`).join(', '));
  time('createdAt', createdAt);
  if (!isObject(alert)) fail('alert', alert, 'an object');
  text('alert.id', alert.id, true);
  text('alert.fingerprint', alert.fingerprint, true);
  if (!isSeverity(alert.severity)) fail('alert.severity', alert.severity, SEVERITIES.map((s) => `"${s}"`).join(', '));
  if (alert.status !== 'firing' && alert.status !== 'resolved')
    fail('alert.status', alert.status, '"firing" or "resolved"');
  text('alert.title', alert.title);
  text('alert.message', alert.message);
  text('alert.source', alert.source);
  stringMap('alert.labels', alert.labels);
  stringMap('alert.annotations', alert.annotations);
  time('alert.startedAt', alert.startedAt);
  if (alert.resolvedAt !== undefined) time('alert.resolvedAt', alert.resolvedAt);
  if (alert.generatorUrl !== undefined) text('alert.generatorUrl', alert.generatorUrl);
}
