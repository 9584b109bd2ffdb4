import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { backoffDelay, resolveBackoff } from '../../src/notify/backoff.js';
import { expectMonitorError, mulberry32 } from '../helpers.js';

describe('backoff', () => {
  it('doubles from initialMs and stops at maxMs (defaults 1 s, 5 min)', () => {
    const policy = resolveBackoff({ jitter: 0 });
    expect(Array.from({ length: 12 }, (_, i) => backoffDelay(policy, i + 1, 0))).toEqual([
      1000, 2000, 4000, 8000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000,
    ]);
    expect(backoffDelay(policy, 5000, 0)).toBe(300_000);
  });

  it('takes at most `jitter` off each wait, never adding to it', () => {
    const policy = resolveBackoff({ initialMs: 1000, maxMs: 8000, jitter: 0.5 });
    const random = mulberry32(7);
    for (let retry = 1; retry <= 6; retry++) {
      const base = Math.min(8000, 1000 * 2 ** (retry - 1));
      for (let i = 0; i < 200; i++) {
        const delay = backoffDelay(policy, retry, random());
        expect(delay).toBeLessThanOrEqual(base);
        expect(delay).toBeGreaterThanOrEqual(base / 2);
      }
    }
    expect(backoffDelay(policy, 1, 0.999_999)).toBe(500);
  });

  it('waits for a Retry-After that is longer, capped at maxRetryAfterMs', () => {
    const policy = resolveBackoff({ initialMs: 1000, maxMs: 60_000, jitter: 0, maxRetryAfterMs: 120_000 });
    expect(backoffDelay(policy, 1, 0, 30_000)).toBe(30_000);
    expect(backoffDelay(policy, 1, 0, 86_400_000)).toBe(120_000);
    expect(backoffDelay(policy, 3, 0, 10)).toBe(4000);
    expect(resolveBackoff({ maxMs: 5000 }).maxRetryAfterMs).toBe(5000);
  });

  it('refuses bad settings, naming them', () => {
    expectMonitorError(
      () => resolveBackoff({ initialMs: 0 }),
      ErrorCode.InvalidOption,
      'invalid backoff.initialMs 0 (expected an integer from 1 to 2147483647 ms)',
    );
    expectMonitorError(
      () => resolveBackoff({ factor: 0.5 }),
      ErrorCode.InvalidOption,
      'invalid backoff.factor 0.5 (expected a number from 1 to 10)',
    );
    expectMonitorError(
      () => resolveBackoff({ jitter: 2 }),
      ErrorCode.InvalidOption,
      'invalid backoff.jitter 2 (expected a fraction from 0 to 1)',
    );
    expectMonitorError(
      () => resolveBackoff({ initialMs: 5000, maxMs: 1000 }),
      ErrorCode.InvalidOption,
      'backoff.maxMs (1000) must be at least backoff.initialMs (5000)',
    );
  });
});
