/**
 * Validators for channel options, one per kind of field. Each throws `EMON_INVALID_OPTION` naming
 * the channel option and what is allowed. A secret's value never appears in the message.
 */
import { describeValue, ErrorCode, MonitorError } from '../errors.js';

/** Longest delay Node's timers honour. */
const MAX_TIMER_MS = 2_147_483_647;

function fail(name: string, got: string, expected: string): never {
  throw new MonitorError(ErrorCode.InvalidOption, `invalid ${name} ${got} (expected ${expected})`);
}

/** An absolute http(s) URL; a secret URL is described as "a string" only. */
export function checkHttpUrl(name: string, value: unknown, secret = false): URL {
  const got = secret
    ? typeof value === 'string'
      ? '(a string, not shown: it is a secret)'
      : describeValue(value)
    : describeValue(value);
  if (typeof value !== 'string') fail(name, got, 'an absolute http(s) URL');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail(name, got, 'an absolute http(s) URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(name, got, 'an absolute http(s) URL');
  return url;
}

/** A positive integer number of milliseconds a timer can wait. */
export function checkTimeout(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_TIMER_MS) {
    fail(name, describeValue(value), `an integer from 1 to ${MAX_TIMER_MS} (ms)`);
  }
  return value;
}

/** A TCP port, 1-65535. */
export function checkPort(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65535)
    fail(name, describeValue(value), 'an integer from 1 to 65535');
  return value;
}

/** A non-empty string; a secret is not shown. */
export function checkString(name: string, value: unknown, secret = false): string {
  if (typeof value !== 'string' || value === '')
    fail(name, secret && typeof value === 'string' ? 'an empty string' : describeValue(value), 'a non-empty string');
  return value;
}

/** A non-empty list of strings that each pass `pattern`. */
export function checkList(name: string, value: unknown, pattern: RegExp, expected: string): string[] {
  if (!Array.isArray(value) || value.length === 0) fail(name, describeValue(value), `a non-empty list of ${expected}`);
  value.forEach((item: unknown, i) => {
    if (typeof item !== 'string' || !pattern.test(item)) fail(`${name}[${i}]`, describeValue(item), expected);
  });
  return [...(value as string[])];
}

/** An options argument that is a plain object. */
export function checkOptionsObject(name: string, value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MonitorError(ErrorCode.InvalidOption, `${name} options must be an object, got ${describeValue(value)}`);
  }
}
