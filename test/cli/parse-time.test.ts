import { describe, expect, it } from 'vitest';
import { parseTime } from '../../src/cli/parse-time.js';
import { UsageError } from '../../src/cli/usage-error.js';

const NOW = Date.UTC(2026, 11, 6, 12, 0, 0);

describe('parseTime', () => {
  it('reads ms since the epoch, ISO 8601, now, and times relative to now', () => {
    expect(parseTime('1733500000000', '--from', NOW, 'query')).toBe(1733500000000);
    expect(parseTime('2026-12-06T10:00:00Z', '--from', NOW, 'query')).toBe(Date.UTC(2026, 11, 6, 10));
    expect(parseTime('2026-12-06T10:00:00+02:00', '--from', NOW, 'query')).toBe(Date.UTC(2026, 11, 6, 8));
    expect(parseTime('now', '--to', NOW, 'query')).toBe(NOW);
    expect(parseTime('-1h', '--from', NOW, 'query')).toBe(NOW - 3_600_000);
    expect(parseTime('now-90s', '--from', NOW, 'query')).toBe(NOW - 90_000);
    expect(parseTime('-7d', '--from', NOW, 'query')).toBe(NOW - 7 * 86_400_000);
    expect(parseTime('-1.5m', '--from', NOW, 'query')).toBe(NOW - 90_000);
    expect(parseTime('-250ms', '--from', NOW, 'query')).toBe(NOW - 250);
  });

  it('refuses anything else with a usage error naming the flag and the forms', () => {
    for (const bad of ['yesterday', '1h', '-1y', '2026-13-45', '', '12.5']) {
      let thrown: unknown;
      try {
        parseTime(bad, '--from', NOW, 'query');
      } catch (err) {
        thrown = err;
      }
      expect(thrown, bad).toBeInstanceOf(UsageError);
      expect((thrown as UsageError).message).toMatch(/^--from: cannot read .* as a time; give ms since the epoch/);
      expect((thrown as UsageError).command).toBe('query');
    }
  });

  it('refuses a relative time before the epoch', () => {
    expect(() => parseTime('-100000w', '--from', NOW, 'query')).toThrow(/before the epoch/);
  });
});
