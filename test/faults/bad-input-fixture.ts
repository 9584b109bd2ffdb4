/**
 * Generators of wrong input for the bad-input fault suites (metrics, messages, config), and the
 * checks they share: "threw a MonitorError with this code whose message names the offender".
 *
 * Every property runs with a fixed seed (`SEED`) so a failure reproduces; the run counts are the
 * ones the report states.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { describeValue, type ErrorCode, MonitorError } from '../../src/errors.js';

/** One seed for every property of the bad-input suites. */
export const SEED = 42;

/** Counts the inputs each suite tried, for the report (printed by the suites' afterAll). */
export class TrialCounter {
  readonly #counts = new Map<string, number>();

  add(property: string, n = 1): void {
    this.#counts.set(property, (this.#counts.get(property) ?? 0) + n);
  }

  get total(): number {
    let sum = 0;
    for (const n of this.#counts.values()) sum += n;
    return sum;
  }

  summary(): string {
    return [...this.#counts].map(([k, n]) => `${k}: ${n}`).join('; ') + `; total ${this.total}`;
  }
}

/** A symbol, a bigint, a function: values no JSON ever carries but a JS caller can pass. */
export const exoticValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(Symbol('bad')),
  fc.bigInt(),
  fc.constant(() => 1),
  fc.constant(Object.create(null) as object),
  fc.constant(new Date(0)),
  fc.constant(new Map([['a', 1]])),
);

/** Numbers no metric accepts as a value: NaN and the infinities. */
export const nonFiniteNumber: fc.Arbitrary<number> = fc.constantFrom(
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
);

/** Anything that is not a number at all (and not undefined). */
export const nonNumber: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.constantFrom('1', '', '0x10', 'NaN', 'Infinity', ' 5 '),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
  exoticValue,
);

/** A value that is not a finite number (for a gauge's set, a histogram's observe). */
export const notFinite: fc.Arbitrary<unknown> = fc.oneof(nonFiniteNumber, nonNumber);

/** A counter increment that must be refused: not finite, not a number, or below zero. */
export const badIncrement: fc.Arbitrary<unknown> = fc.oneof(
  notFinite,
  fc.double({ max: -Number.MIN_VALUE, noNaN: true, noDefaultInfinity: true }),
  fc.integer({ max: -1 }),
);

/** Keys that name something on Object.prototype, to catch lookups that fall through to it. */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'prototype',
  '__defineGetter__',
] as const;

/**
 * Metric names the registry must refuse: empty, a leading digit, characters outside
 * `[a-zA-Z0-9_.:]`, unicode, whitespace, over 200 characters; and non-strings.
 */
export const badMetricName: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    '',
    ' ',
    '1abc',
    '9',
    'a b',
    'a-b',
    'a/b',
    'métrique',
    'ünïcode',
    'a\nb',
    'a"b',
    'a{b}',
    'a=b',
    '\u0000',
    'x'.repeat(201),
    'a\u{1F600}',
    '-a',
    '.a',
  ),
  fc
    .tuple(
      fc.stringMatching(/^[a-z_][a-z0-9_]{0,10}$/),
      fc.constantFrom('-', ' ', '/', '@', '#', '{', '"', 'é', '\u2028'),
      fc.stringMatching(/^[a-z0-9_]{0,5}$/),
    )
    .map(([a, c, b]) => a + c + b),
  fc.stringMatching(/^[0-9][a-z0-9_]{0,10}$/),
  fc.string({ minLength: 201, maxLength: 400 }).map((s) => `a${s.replace(/[^a-z]/g, 'a')}`),
  fc.integer(),
  fc.constant(null),
  fc.constant(undefined),
  fc.array(fc.constant('a'), { maxLength: 2 }),
  exoticValue,
);

/** Label names a metric declaration must refuse: reserved `__` prefix, bad characters, non-strings. */
export const badLabelName: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom('', '__proto__', '__name__', '__x', '1a', 'a-b', 'a.b', 'a b', 'é', 'a:b', '\u0000'),
  fc.stringMatching(/^__[a-z0-9_]{0,8}$/),
  fc.integer(),
  fc.constant(null),
  exoticValue,
);

/**
 * Asserts `fn` throws a MonitorError with `code` whose message contains every `mentions` string
 * (the metric, the label, the allowed shape).
 */
export function expectRefusal(fn: () => unknown, code: ErrorCode, mentions: readonly string[]): MonitorError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  return checkRefusal(thrown, code, mentions);
}

/** As {@link expectRefusal} for a promise that must reject. */
export async function expectRejection(
  promise: Promise<unknown>,
  code: ErrorCode,
  mentions: readonly string[],
): Promise<MonitorError> {
  let thrown: unknown = 'resolved';
  try {
    await promise;
  } catch (err) {
    thrown = err;
  }
  return checkRefusal(thrown, code, mentions);
}

function checkRefusal(thrown: unknown, code: ErrorCode, mentions: readonly string[]): MonitorError {
  if (!(thrown instanceof MonitorError)) {
    throw new Error(
      `expected a MonitorError ${code}, got ${thrown === 'resolved' ? 'no error' : thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : describeValue(thrown)}`,
    );
  }
  expect(thrown.code, thrown.message).toBe(code);
  for (const m of mentions) expect(thrown.message).toContain(m);
  return thrown;
}
