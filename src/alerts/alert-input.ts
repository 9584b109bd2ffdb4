/**
 * Checks for what raises an alert from outside: `send_alert` arguments and performance-monitor
 * signals. Both are untrusted: every field is checked and a bad one is a clear error, never a
 * crash of the alerting process.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';
import { checkAnnotations, checkLabels } from './alert-labels.js';
import { isSeverity, type Severity } from './severity.js';
import type { AlertSignal } from './signal.js';

const MAX_MESSAGE = 10_000;
const MAX_NAME = 200;

/** A checked `send_alert`. */
export interface AlertRequest {
  severity: Severity;
  message: string;
  labels: Record<string, string>;
}

/**
 * @param severities the allowed severities (config `severity_levels`)
 * @throws {MonitorError} `EMON_INVALID_ALERT` naming the field and what is allowed
 */
export function checkAlertRequest(
  severity: unknown,
  message: unknown,
  labels: unknown,
  severities: readonly Severity[],
): AlertRequest {
  return {
    severity: validSeverity('send_alert', severity, severities),
    message: validMessage('send_alert', message),
    labels: checkLabels('send_alert', labels, ErrorCode.InvalidAlert),
  };
}

/**
 * @param severities the allowed severities (config `severity_levels`)
 * @throws {MonitorError} `EMON_INVALID_ALERT` naming the field and what is allowed
 */
export function checkSignal(input: unknown, severities: readonly Severity[]): AlertSignal {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new MonitorError(ErrorCode.InvalidAlert, `signal must be an object, got ${describeValue(input)}`);
  }
  const s = input as Record<string, unknown>;
  const source = validName('signal', 'source', s.source);
  const key = validName(`signal from ${source}`, 'key', s.key);
  const owner = `signal ${source}/${key}`;
  if (s.state !== 'firing' && s.state !== 'resolved')
    throw new MonitorError(
      ErrorCode.InvalidAlert,
      `${owner}: state must be "firing" or "resolved", got ${describeValue(s.state)}`,
    );
  const signal: AlertSignal = {
    source,
    key,
    state: s.state,
    severity: validSeverity(owner, s.severity, severities),
    message: validMessage(owner, s.message),
    labels: checkLabels(owner, s.labels, ErrorCode.InvalidAlert),
    annotations: checkAnnotations(owner, s.annotations, ErrorCode.InvalidAlert),
    at: validNumber(owner, 'at', s.at),
  };
  if (s.value !== undefined) signal.value = validNumber(owner, 'value', s.value);
  if (s.threshold !== undefined) signal.threshold = validNumber(owner, 'threshold', s.threshold);
  return signal;
}

function validSeverity(owner: string, severity: unknown, allowed: readonly Severity[]): Severity {
  if (!isSeverity(severity) || !allowed.includes(severity)) {
    throw new MonitorError(
      ErrorCode.InvalidAlert,
      `${owner}: invalid severity ${describeValue(severity)} (allowed: ${allowed.map((s) => `"${s}"`).join(', ')})`,
    );
  }
  return severity;
}

function validMessage(owner: string, message: unknown): string {
  if (typeof message !== 'string' || message.length === 0 || message.length > MAX_MESSAGE) {
    throw new MonitorError(
      ErrorCode.InvalidAlert,
      `${owner}: message must be a non-empty string of at most ${MAX_MESSAGE} characters, got ${describeValue(message)}`,
    );
  }
  return message;
}

function validName(owner: string, field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_NAME) {
    throw new MonitorError(
      ErrorCode.InvalidAlert,
      `${owner}: ${field} must be a non-empty string of at most ${MAX_NAME} characters, got ${describeValue(value)}`,
    );
  }
  return value;
}

function validNumber(owner: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new MonitorError(
      ErrorCode.InvalidAlert,
      `${owner}: ${field} must be a finite number, got ${describeValue(value)}`,
    );
  }
  return value;
}
