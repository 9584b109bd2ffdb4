/**
 * Alert labels and annotations: plain string maps. Labels identify an alert (they are part of its
 * fingerprint and what silences match); annotations describe it (summary, description,
 * runbook_url) and never change its identity. Both are untrusted text, carried as data.
 */
import { describeValue, type ErrorCode, MonitorError } from '../errors.js';
import { LABEL_NAME } from '../metrics/metric.js';

const MAX_ENTRIES = 64;
const MAX_LABEL_VALUE = 1000;
const MAX_ANNOTATION_VALUE = 10_000;

/**
 * Validates a label map (names: letters, digits, `_`, not starting with a digit or `__`; values:
 * strings of at most 1000 characters; at most 64 labels). Returns a sorted copy.
 * @param owner names the owner in error messages, e.g. `'rule "high_latency"'`
 * @param input the untrusted value; `undefined` means no labels
 * @param code the error code to throw with
 * @param reserved names the caller sets itself (e.g. `alertname`)
 * @throws {MonitorError} with `code`, naming the label and what is allowed
 */
export function checkLabels(
  owner: string,
  input: unknown,
  code: ErrorCode,
  reserved: readonly string[] = [],
): Record<string, string> {
  return checkMap(owner, 'labels', input, code, MAX_LABEL_VALUE, (name) => {
    if (name.startsWith('__')) return 'names starting with "__" are reserved';
    if (reserved.includes(name)) return `"${name}" is set by alerting itself`;
    return undefined;
  });
}

/**
 * Validates an annotation map (well-known names: `summary`, `description`, `runbook_url`; values
 * up to 10,000 characters). Returns a sorted copy.
 * @throws {MonitorError} with `code`, naming the annotation and what is allowed
 */
export function checkAnnotations(owner: string, input: unknown, code: ErrorCode): Record<string, string> {
  return checkMap(owner, 'annotations', input, code, MAX_ANNOTATION_VALUE, () => undefined);
}

function checkMap(
  owner: string,
  what: string,
  input: unknown,
  code: ErrorCode,
  maxValue: number,
  refuse: (name: string) => string | undefined,
): Record<string, string> {
  if (input === undefined) return {};
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new MonitorError(code, `${owner}: ${what} must be an object of strings, got ${describeValue(input)}`);
  }
  const names = Object.keys(input).sort();
  if (names.length > MAX_ENTRIES)
    throw new MonitorError(code, `${owner}: at most ${MAX_ENTRIES} ${what} are allowed, got ${names.length}`);
  const out: Record<string, string> = {};
  for (const name of names) {
    if (!LABEL_NAME.test(name)) {
      throw new MonitorError(
        code,
        `${owner}: invalid ${what} name ${describeValue(name)} (letters, digits and "_", not starting with a digit)`,
      );
    }
    const why = refuse(name);
    if (why !== undefined) throw new MonitorError(code, `${owner}: ${what} name "${name}" is not allowed: ${why}`);
    const value = (input as Record<string, unknown>)[name];
    if (typeof value !== 'string' || value.length > maxValue) {
      throw new MonitorError(
        code,
        `${owner}: ${what}.${name} must be a string of at most ${maxValue} characters, got ${describeValue(value)}`,
      );
    }
    out[name] = value;
  }
  return out;
}
