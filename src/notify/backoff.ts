/**
 * Exponential backoff for notification retries.
 *
 * The n-th retry (n = 1 after the first failed attempt) waits `initialMs * factor^(n-1)`, capped at
 * `maxMs`, then shortened by up to `jitter` of itself at random, so many notifications that failed
 * together (one SMTP outage) do not all retry in the same millisecond. A receiver's own hint (a
 * 429's or 503's `Retry-After`) lengthens the wait, but never past `maxRetryAfterMs`: a server
 * asking for a day must not park an alert for a day.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';

/** Backoff settings; see the module header. */
export interface BackoffOptions {
  /** Wait before the first retry. Default 1000 ms. */
  initialMs?: number;
  /** Longest wait between attempts. Default 300000 ms (5 minutes). */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  factor?: number;
  /** Fraction (0-1) of each wait taken off at random. Default 0.2. */
  jitter?: number;
  /** Longest wait a receiver's `Retry-After` may ask for. Default `maxMs`. */
  maxRetryAfterMs?: number;
}

/** {@link BackoffOptions} with every default filled in. */
export type BackoffPolicy = Required<BackoffOptions>;

/** Longest delay Node's timers honour. */
const MAX_DELAY_MS = 2_147_483_647;

/**
 * Fills in the defaults and checks each field.
 * @param options see {@link BackoffOptions} for the defaults
 * @throws {MonitorError} `EMON_INVALID_OPTION` naming the field and what is allowed
 */
export function resolveBackoff(options: BackoffOptions = {}): BackoffPolicy {
  if (options === null || typeof options !== 'object') {
    throw new MonitorError(ErrorCode.InvalidOption, `backoff must be an object, got ${describeValue(options)}`);
  }
  const initialMs = options.initialMs ?? 1000;
  const maxMs = options.maxMs ?? 300_000;
  const policy: BackoffPolicy = {
    initialMs,
    maxMs,
    factor: options.factor ?? 2,
    jitter: options.jitter ?? 0.2,
    maxRetryAfterMs: options.maxRetryAfterMs ?? maxMs,
  };
  validDelay('backoff.initialMs', policy.initialMs);
  validDelay('backoff.maxMs', policy.maxMs);
  validDelay('backoff.maxRetryAfterMs', policy.maxRetryAfterMs);
  if (policy.maxMs < policy.initialMs) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `backoff.maxMs (${policy.maxMs}) must be at least backoff.initialMs (${policy.initialMs})`,
    );
  }
  if (typeof policy.factor !== 'number' || !Number.isFinite(policy.factor) || policy.factor < 1 || policy.factor > 10) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid backoff.factor ${describeValue(policy.factor)} (expected a number from 1 to 10)`,
    );
  }
  if (typeof policy.jitter !== 'number' || !(policy.jitter >= 0 && policy.jitter <= 1)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid backoff.jitter ${describeValue(policy.jitter)} (expected a fraction from 0 to 1)`,
    );
  }
  return policy;
}

function validDelay(name: string, value: unknown): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_DELAY_MS) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid ${name} ${describeValue(value)} (expected an integer from 1 to ${MAX_DELAY_MS} ms)`,
    );
  }
}

/**
 * The wait before retry number `retry` (1 = after the first failure).
 * @param policy from {@link resolveBackoff}
 * @param retry 1, 2, 3, …
 * @param random a number in [0, 1) (default `Math.random()`), for the jitter
 * @param retryAfterMs the receiver's hint, if it gave one
 * @returns milliseconds, at least 1 and at most `max(maxMs, maxRetryAfterMs)`
 */
export function backoffDelay(
  policy: BackoffPolicy,
  retry: number,
  random = Math.random(),
  retryAfterMs?: number,
): number {
  // factor^(retry-1) overflows to Infinity for large retries; min() keeps the cap.
  const base = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, retry - 1));
  const jittered = Math.max(1, Math.round(base * (1 - policy.jitter * random)));
  if (retryAfterMs === undefined || !(retryAfterMs > jittered)) return jittered;
  return Math.max(jittered, Math.min(Math.ceil(retryAfterMs), policy.maxRetryAfterMs));
}
