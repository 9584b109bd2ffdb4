/**
 * Label matchers, as in Prometheus and Alertmanager: `name = value`, `name != value`,
 * `name =~ regex`, `name !~ regex`. A label the set does not have counts as the empty string, so
 * `env != "prod"` matches a series without `env`. Regexes are anchored at both ends (`=~ "5.."`
 * means the whole value). Rules select series with them; silences select alerts.
 */
import { describeValue, type ErrorCode, MonitorError } from '../errors.js';
import { LABEL_NAME } from '../metrics/metric.js';

export type MatchOp = '=' | '!=' | '=~' | '!~';

/** One matcher, as plain data (it is persisted with rules and silences). */
export interface LabelMatcher {
  name: string;
  op: MatchOp;
  value: string;
}

/** A compiled set of matchers: true when every matcher matches. */
export type LabelPredicate = (labels: Readonly<Record<string, string>>) => boolean;

const MATCH_OPS: readonly MatchOp[] = ['=', '!=', '=~', '!~'];
const MAX_MATCHERS = 32;
const MAX_VALUE_LENGTH = 1000;

/**
 * Validates a list of matchers and compiles its regexes.
 * @param owner names the rule or silence in error messages, e.g. `'rule "high_latency"'`
 * @param input the untrusted list
 * @param code the error code to throw with
 * @param options.nonEmpty whether an empty list is an error (silences: true; rules: false)
 * @throws {MonitorError} with `code`, naming the matcher index and what is allowed
 */
export function checkMatchers(
  owner: string,
  input: unknown,
  code: ErrorCode,
  options: { nonEmpty: boolean },
): LabelMatcher[] {
  if (!Array.isArray(input)) {
    throw new MonitorError(
      code,
      `${owner}: matchers must be an array of { name, op, value }, got ${describeValue(input)}`,
    );
  }
  if (options.nonEmpty && input.length === 0)
    throw new MonitorError(code, `${owner}: matchers must not be empty (it would match everything)`);
  if (input.length > MAX_MATCHERS)
    throw new MonitorError(code, `${owner}: at most ${MAX_MATCHERS} matchers are allowed, got ${input.length}`);
  return input.map((raw: unknown, i) => checkMatcher(`${owner}: matchers[${i}]`, raw, code));
}

function checkMatcher(where: string, raw: unknown, code: ErrorCode): LabelMatcher {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new MonitorError(code, `${where} must be an object { name, op, value }, got ${describeValue(raw)}`);
  }
  const { name, op, value, ...rest } = raw as Record<string, unknown>;
  const extra = Object.keys(rest);
  if (extra.length > 0) throw new MonitorError(code, `${where}: unknown key "${extra[0]}" (allowed: name, op, value)`);
  if (typeof name !== 'string' || !LABEL_NAME.test(name)) {
    throw new MonitorError(
      code,
      `${where}: invalid label name ${describeValue(name)} (letters, digits and "_", not starting with a digit)`,
    );
  }
  if (typeof op !== 'string' || !MATCH_OPS.includes(op as MatchOp)) {
    throw new MonitorError(code, `${where}: invalid op ${describeValue(op)} (allowed: "=", "!=", "=~", "!~")`);
  }
  if (typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) {
    throw new MonitorError(
      code,
      `${where}: value must be a string of at most ${MAX_VALUE_LENGTH} characters, got ${describeValue(value)}`,
    );
  }
  if (op === '=~' || op === '!~') {
    try {
      new RegExp(`^(?:${value})$`);
    } catch (err) {
      throw new MonitorError(code, `${where}: invalid regex ${describeValue(value)}: ${(err as Error).message}`);
    }
  }
  return { name, op: op as MatchOp, value };
}

/**
 * Compiles checked matchers into one predicate (an empty list matches every label set).
 * @param matchers matchers from {@link checkMatchers}
 */
export function compileMatchers(matchers: readonly LabelMatcher[]): LabelPredicate {
  const tests = matchers.map((m): ((labels: Readonly<Record<string, string>>) => boolean) => {
    const read = (labels: Readonly<Record<string, string>>): string =>
      Object.hasOwn(labels, m.name) ? labels[m.name]! : '';
    switch (m.op) {
      case '=':
        return (labels) => read(labels) === m.value;
      case '!=':
        return (labels) => read(labels) !== m.value;
      case '=~': {
        const re = new RegExp(`^(?:${m.value})$`);
        return (labels) => re.test(read(labels));
      }
      case '!~': {
        const re = new RegExp(`^(?:${m.value})$`);
        return (labels) => !re.test(read(labels));
      }
    }
  });
  return (labels) => tests.every((test) => test(labels));
}
