import { describe, expect, it } from 'vitest';
import { checkMatchers, compileMatchers } from '../../src/alerts/label-matcher.js';
import { ErrorCode } from '../../src/errors.js';
import { expectMonitorError } from '../helpers.js';

const match = (matchers: unknown[], labels: Record<string, string>) =>
  compileMatchers(checkMatchers('test', matchers, ErrorCode.InvalidRule, { nonEmpty: false }))(labels);

describe('label matchers', () => {
  it('match equality and inequality, a missing label counting as ""', () => {
    expect(match([{ name: 'env', op: '=', value: 'prod' }], { env: 'prod' })).toBe(true);
    expect(match([{ name: 'env', op: '=', value: 'prod' }], { env: 'dev' })).toBe(false);
    expect(match([{ name: 'env', op: '!=', value: 'prod' }], {})).toBe(true);
    expect(match([{ name: 'env', op: '=', value: '' }], {})).toBe(true);
  });

  it('anchor regexes at both ends', () => {
    expect(match([{ name: 'status', op: '=~', value: '5..' }], { status: '503' })).toBe(true);
    expect(match([{ name: 'status', op: '=~', value: '5..' }], { status: '1503' })).toBe(false);
    expect(match([{ name: 'status', op: '!~', value: '2..|3..' }], { status: '404' })).toBe(true);
    expect(match([{ name: 'status', op: '!~', value: '2..|3..' }], { status: '301' })).toBe(false);
  });

  it('need every matcher to match; an empty list matches all', () => {
    const ms = [
      { name: 'env', op: '=', value: 'prod' },
      { name: 'route', op: '=~', value: '/api/.*' },
    ];
    expect(match(ms, { env: 'prod', route: '/api/x' })).toBe(true);
    expect(match(ms, { env: 'prod', route: '/web' })).toBe(false);
    expect(match([], { anything: 'x' })).toBe(true);
  });

  it('refuse an empty list where it would silence everything', () => {
    expectMonitorError(
      () => checkMatchers('silence', [], ErrorCode.InvalidSilence, { nonEmpty: true }),
      ErrorCode.InvalidSilence,
      'silence: matchers must not be empty (it would match everything)',
    );
  });

  it('refuse bad names and unknown keys', () => {
    expectMonitorError(
      () =>
        checkMatchers('silence', [{ name: 'a-b', op: '=', value: 'x' }], ErrorCode.InvalidSilence, { nonEmpty: true }),
      ErrorCode.InvalidSilence,
      'silence: matchers[0]: invalid label name "a-b" (letters, digits and "_", not starting with a digit)',
    );
    expectMonitorError(
      () =>
        checkMatchers('silence', [{ name: 'a', op: '=', value: 'x', regex: true }], ErrorCode.InvalidSilence, {
          nonEmpty: true,
        }),
      ErrorCode.InvalidSilence,
      'silence: matchers[0]: unknown key "regex" (allowed: name, op, value)',
    );
  });
});
