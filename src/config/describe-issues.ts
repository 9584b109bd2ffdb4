/**
 * Turns zod issues into {@link ConfigProblem}s written for people: the key as a dotted path, what
 * was wrong, what is allowed, and where the value came from.
 *
 * "What is allowed" comes from the `expectations` registry the schemas are annotated with (found by
 * walking the schema along the issue's path), from the enum values for a bad choice, and from the
 * object shape for an unknown key (with a "did you mean" suggestion). The offending value is looked
 * up in the input; values at secret keys are shown as `[redacted]`, URL credentials are stripped.
 */
import type * as z from 'zod';
import { describeValue } from '../errors.js';
import type { ConfigOrigin, ConfigProblem } from './config-error.js';
import { isSecretPath, REDACTED, redactUrlCredentials } from './redact-config.js';
import { type Expectation, expectations } from './schema.js';
import { suggestKey } from './suggest-key.js';

/** What `describeIssues` needs to know about the section being validated. */
export interface IssueContext {
  /** Section name, used to recognise secret keys. */
  readonly section: string;
  /** The section schema the issues came from. */
  readonly schema: z.core.$ZodType;
  /** The section object that was validated. */
  readonly input: unknown;
  /** Who set the value at `path` (relative to the section); `keyFromRoot` = key includes the section. */
  originOf(path: readonly PropertyKey[]): { origin: ConfigOrigin; source: string; keyFromRoot: boolean };
}

/**
 * One problem per issue (one per key for unknown keys).
 * @param issues from a failed `safeParse` of `context.schema`
 * @param context the section
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], context: IssueContext): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const problem = (path: readonly PropertyKey[], attributeTo: readonly PropertyKey[], message: string): void => {
    const { origin, source, keyFromRoot } = context.originOf(attributeTo);
    problems.push({ origin, source, key: formatKey(keyFromRoot ? [context.section, ...path] : path), message });
  };

  for (const issue of bindingBounds(issues)) {
    const path = issue.path;
    if (issue.code === 'unrecognized_keys') {
      const known = objectKeysAt(context.schema, path);
      for (const key of issue.keys) {
        const suggestion = suggestKey(key, known);
        const help =
          suggestion !== undefined
            ? `did you mean "${suggestion}"?`
            : `allowed: ${known.map((k) => `"${k}"`).join(', ')}`;
        problem(path, [...path, key], `unknown key ${describeValue(key)} (${help})`);
      }
      continue;
    }

    const value = valueAt(context.input, path);
    const shown = value === undefined ? undefined : show(value, [context.section, ...path]);
    if (issue.code === 'invalid_value') {
      const allowed = `allowed: ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
      const hint = expectationAt(context.schema, path)?.hint;
      const message = shown === undefined ? `missing (${allowed})` : `invalid value ${shown} (${allowed})`;
      problem(path, path, withHint(message, hint));
      continue;
    }

    let expectation: Expectation | undefined;
    if (issue.code === 'custom') {
      const params = issue.params as { expected?: unknown; hint?: unknown } | undefined;
      if (typeof params?.expected !== 'string') {
        problem(path, path, issue.message);
        continue;
      }
      expectation = { expected: params.expected, ...(typeof params.hint === 'string' ? { hint: params.hint } : {}) };
    } else {
      expectation = expectationAt(context.schema, path) ?? fallbackExpectation(issue);
    }
    let expected = expectation.expected;
    if (issue.code === 'too_big' && !expected.includes(String(issue.maximum)))
      expected += ` of at most ${String(issue.maximum)}`;
    const message = shown === undefined ? `missing; expected ${expected}` : `expected ${expected}, got ${shown}`;
    problem(path, path, withHint(message, expectation.hint));
  }
  return problems;
}

/**
 * Drops a bound another issue at the same key makes moot: `int()` carries its own safe-integer
 * maximum, so 1e17 for a timer broke both "at most 9007199254740991" and "at most 2147483647",
 * and the first line contradicted the second. Only the tightest bound per key and side is kept.
 */
function bindingBounds(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const tightest = new Map<string, z.core.$ZodIssue>();
  for (const issue of issues) {
    if (issue.code !== 'too_big' && issue.code !== 'too_small') continue;
    const key = `${issue.code}:${JSON.stringify(issue.path.map(String))}`;
    const held = tightest.get(key);
    const bound = (i: z.core.$ZodIssue) =>
      Number(i.code === 'too_big' ? i.maximum : i.code === 'too_small' ? i.minimum : 0);
    const tighter =
      held === undefined || (issue.code === 'too_big' ? bound(issue) < bound(held) : bound(issue) > bound(held));
    if (tighter) tightest.set(key, issue);
  }
  return issues.filter(
    (issue) =>
      (issue.code !== 'too_big' && issue.code !== 'too_small') ||
      tightest.get(`${issue.code}:${JSON.stringify(issue.path.map(String))}`) === issue,
  );
}

/**
 * `escalation_policy.critical.interval`, `slas[1].target`.
 * @param path keys and array indices
 */
export function formatKey(path: readonly PropertyKey[]): string {
  let key = '';
  for (const segment of path) {
    if (typeof segment === 'number') key += `[${segment}]`;
    else key += key === '' ? String(segment) : `.${String(segment)}`;
  }
  return key;
}

function withHint(message: string, hint: string | undefined): string {
  return hint === undefined ? message : `${message}; ${hint}`;
}

function show(value: unknown, fullPath: readonly PropertyKey[]): string {
  if (isSecretPath(fullPath)) return REDACTED;
  return describeValue(typeof value === 'string' ? redactUrlCredentials(value) : value);
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

function fallbackExpectation(issue: z.core.$ZodIssue): Expectation {
  if (issue.code === 'invalid_type') {
    const words: Record<string, string> = {
      object: 'an object',
      array: 'a list',
      string: 'a string',
      number: 'a finite number',
      boolean: 'true or false',
      int: 'an integer',
    };
    return { expected: words[issue.expected] ?? issue.expected };
  }
  return { expected: issue.message };
}

// ---------------------------------------------------------------- walking the schema

/** The parts of a zod definition this walk reads. */
interface LooseDef {
  type: string;
  innerType?: z.core.$ZodType;
  in?: z.core.$ZodType;
  shape?: Record<string, z.core.$ZodType>;
  element?: z.core.$ZodType;
  valueType?: z.core.$ZodType;
}

const defOf = (schema: z.core.$ZodType): LooseDef => schema._zod.def;

/** The schema and the wrappers around it (default, optional, pipe input, …), outermost first. */
function layers(schema: z.core.$ZodType): z.core.$ZodType[] {
  const out = [schema];
  for (let layer = schema; ;) {
    const def = defOf(layer);
    const inner = def.type === 'pipe' ? def.in : def.innerType;
    if (inner === undefined) return out;
    out.push(inner);
    layer = inner;
  }
}

function schemaAt(root: z.core.$ZodType, path: readonly PropertyKey[]): z.core.$ZodType[] {
  let current = layers(root);
  for (const key of path) {
    const innermost = current.at(-1);
    if (innermost === undefined) return [];
    const def = defOf(innermost);
    const next =
      def.type === 'object' && typeof key === 'string'
        ? def.shape?.[key]
        : def.type === 'array'
          ? def.element
          : def.type === 'record'
            ? def.valueType
            : undefined;
    if (next === undefined) return [];
    current = layers(next);
  }
  return current;
}

function expectationAt(root: z.core.$ZodType, path: readonly PropertyKey[]): Expectation | undefined {
  for (const layer of schemaAt(root, path)) {
    const expectation = expectations.get(layer);
    if (expectation !== undefined) return expectation;
  }
  return undefined;
}

function objectKeysAt(root: z.core.$ZodType, path: readonly PropertyKey[]): string[] {
  const inner = schemaAt(root, path).at(-1);
  const shape = inner === undefined ? undefined : defOf(inner).shape;
  return shape === undefined ? [] : Object.keys(shape);
}
