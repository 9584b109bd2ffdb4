import { describe, expect, it } from 'vitest';
import { type Check, checkStatus, median, quantile, startBlockProbe } from '../../bench/harness.js';

const check = (measured: number, better: 'higher' | 'lower'): Check => ({ name: 'x', measured, target: 10, better, margin: 0.1, unit: '' });

describe('bench harness', () => {
  it('passes a figure at its target, tolerates a miss within the margin, and fails beyond it', () => {
    expect(checkStatus(check(10, 'higher'))).toBe('meets');
    expect(checkStatus(check(9.5, 'higher'))).toBe('within margin');
    expect(checkStatus(check(8.9, 'higher'))).toBe('FAILS');
    expect(checkStatus(check(10.5, 'lower'))).toBe('within margin');
    expect(checkStatus(check(11.5, 'lower'))).toBe('FAILS');
  });

  it('fails a figure that was not measured', () => {
    expect(checkStatus(check(Number.NaN, 'higher'))).toBe('FAILS');
    expect(checkStatus(check(Number.NaN, 'lower'))).toBe('FAILS');
  });

  it('takes medians and nearest-rank quantiles without reordering its input', () => {
    const values = [5, 1, 4, 2, 3];
    expect(median(values)).toBe(3);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(quantile(values, 0.99)).toBe(5);
    expect(quantile(values, 0.2)).toBe(1);
    expect(values).toEqual([5, 1, 4, 2, 3]);
  });

  it('sees a synchronous block of the event loop', async () => {
    const probe = startBlockProbe();
    await new Promise((resolve) => setImmediate(resolve));
    const until = performance.now() + 30;
    while (performance.now() < until) {
      // blocking on purpose
    }
    await new Promise((resolve) => setImmediate(resolve));
    const reading = probe.stop();
    expect(reading.wallMs).toBeGreaterThanOrEqual(30);
    expect(reading.cpuMs).toBeGreaterThan(0);
  });
});
