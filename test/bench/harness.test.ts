import { describe, expect, it } from 'vitest';
import {
  balancedOrder,
  type Check,
  checkStatus,
  median,
  hodgesLehmann,
  medianInterval,
  quantile,
  startBlockProbe,
} from '../../bench/harness.js';

const check = (measured: number, better: 'higher' | 'lower'): Check => ({
  name: 'x',
  measured,
  target: 10,
  better,
  margin: 0.1,
  unit: '',
});

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

  it('orders treatments so that every place and every predecessor is shared out equally', () => {
    expect(balancedOrder(4, 0)).toEqual([0, 1, 3, 2]);
    for (const n of [2, 3, 4, 5, 10]) {
      const rounds = n % 2 === 0 ? n : 2 * n;
      const places = new Map<string, number>();
      const follows = new Map<string, number>();
      for (let r = 0; r < rounds; r++) {
        const order = balancedOrder(n, r);
        expect([...order].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
        order.forEach((t, place) => places.set(`${t}@${place}`, (places.get(`${t}@${place}`) ?? 0) + 1));
        for (let i = 1; i < n; i++)
          follows.set(`${order[i - 1]}>${order[i]}`, (follows.get(`${order[i - 1]}>${order[i]}`) ?? 0) + 1);
      }
      const each = rounds / n;
      expect(places.size).toBe(n * n);
      expect([...places.values()].every((c) => c === each)).toBe(true);
      expect(follows.size).toBe(n * (n - 1));
      expect([...follows.values()].every((c) => c === each)).toBe(true);
    }
    expect(() => balancedOrder(0, 0)).toThrow(RangeError);
    expect(() => balancedOrder(3, -1)).toThrow(RangeError);
  });

  it('bounds a median by order statistics with the binomial coverage', () => {
    // 12 values: ranks 3 and 10, coverage 1 - 2 P(B(12, 1/2) <= 2) = 1 - 2 * 79/4096.
    const twelve = [7, 1, 12, 4, 9, 2, 11, 5, 3, 10, 8, 6];
    expect(medianInterval(twelve)).toEqual({ low: 3, high: 10, coverage: 1 - (2 * 79) / 4096 });
    expect(twelve[0]).toBe(7); // input untouched
    // Too few values for 95 %: the whole range, and what it does cover.
    expect(medianInterval([5, 1, 3, 2, 4])).toEqual({ low: 1, high: 5, coverage: 1 - 2 / 32 });
    // A lower confidence narrows it: 12 values at 80 % -> ranks 4 and 9 (P(B <= 3) = 299/4096 <= 0.1).
    expect(medianInterval(twelve, 0.8)).toEqual({ low: 4, high: 9, coverage: 1 - (2 * 299) / 4096 });
    expect(() => medianInterval([])).toThrow(RangeError);
    expect(() => medianInterval([1], 1)).toThrow(RangeError);
  });

  it('gives the Hodges-Lehmann centre and the signed-rank interval, as R wilcox.test(conf.int = TRUE) does', () => {
    // 1..9: 45 Walsh averages, median 5. n = 9 at 95 %: P(T <= 5) = 10/512 < 0.025 <= P(T <= 6) = 14/512,
    // so the 6th smallest (2.5: 1, 1.5, 2, 2, 2.5, 2.5) and the 6th largest (7.5).
    const nine = [9, 1, 8, 2, 7, 3, 6, 4, 5];
    expect(hodgesLehmann(nine)).toEqual({ estimate: 5, low: 2.5, high: 7.5, coverage: 1 - 20 / 512 });
    expect(nine[0]).toBe(9); // input untouched
    // A shift moves the estimate and the interval with it; one outlier barely moves the estimate.
    expect(hodgesLehmann(nine.map((v) => v + 0.5))).toMatchObject({ estimate: 5.5, low: 3, high: 8 });
    expect(hodgesLehmann([...nine.slice(0, 8), 1000]).estimate).toBeLessThan(6);
    // Too few values for 95 %: the whole range of the Walsh averages, with its coverage (3 values: 75 %).
    expect(hodgesLehmann([1, 2, 3])).toEqual({ estimate: 2, low: 1, high: 3, coverage: 0.75 });
    // 20 values, no ties or zeros (R's exact case): scipy's exact signed-rank test, inverted over
    // the Walsh averages, keeps 0.45 .. 3.45; R's achieved level for n = 20 is 2 P(T <= 52), 25,397
    // of the 2^20 sign patterns summing to at most 52.
    const twenty = Array.from({ length: 20 }, (_, i) => (((i + 1) * 37) % 101) / 10 - 3.05);
    const hl = hodgesLehmann(twenty);
    expect([hl.estimate, hl.low, hl.high].map((v) => Number(v.toFixed(9)))).toEqual([1.95, 0.45, 3.45]);
    expect(hl.coverage).toBe(1 - (2 * 25_397) / 2 ** 20);
    expect(() => hodgesLehmann([])).toThrow(RangeError);
    expect(() => hodgesLehmann([1], 0)).toThrow(RangeError);
  });

  it('narrows the interval of symmetric noise against the sign-based median interval', () => {
    // A deterministic symmetric sample (a normal quantile grid): the signed-rank interval uses the
    // magnitudes too, so it is narrower than the order-statistic interval of the median.
    const n = 64;
    const grid = Array.from({ length: n }, (_, i) => Math.tan(Math.PI * ((i + 0.5) / n - 0.5) * 0.8));
    const hl = hodgesLehmann(grid);
    const med = medianInterval(grid);
    expect(hl.low).toBeLessThan(0);
    expect(hl.high).toBeGreaterThan(0);
    expect(hl.high - hl.low).toBeLessThan(0.9 * (med.high - med.low));
    expect(hl.coverage).toBeGreaterThanOrEqual(0.95);
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
