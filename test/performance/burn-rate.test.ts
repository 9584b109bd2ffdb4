import { describe, expect, it } from 'vitest';
import type { SlaConfig } from '../../src/config/schema.js';
import { budgetRemaining, burnRate, errorBudget, evaluateBurnRates } from '../../src/performance/burn-rate.js';
import type { WindowCounts } from '../../src/performance/counter-history.js';
import { burnRateMessage } from '../../src/performance/signal-tracker.js';

const slo: SlaConfig = {
  name: 'uptime',
  kind: 'availability',
  target: 99.9,
  unit: 'percentage',
  direction: 'higher_is_better',
  window: 30 * 86_400_000,
};

/** Counts at a constant error rate per window length (ms → error rate). */
function countsByWindow(rates: Record<number, number>, rps = 100) {
  return (windowMs: number): WindowCounts => {
    const requests = (rps * windowMs) / 1000;
    return { windowMs, coveredMs: windowMs, requests, errors: requests * (rates[windowMs] ?? 0) };
  };
}

const H = 3_600_000;
const M = 60_000;

describe('error budget and burn rate', () => {
  it('derives the budget from the target: 99.9 % availability allows 0.1 % errors', () => {
    expect(errorBudget(slo)).toBeCloseTo(0.001, 12);
    expect(errorBudget({ ...slo, kind: 'error_rate', direction: 'lower_is_better', target: 0.02 })).toBe(0.02);
  });

  it('computes the burn rate as error rate / budget, and the budget left over the window', () => {
    const counts = { windowMs: H, coveredMs: H, requests: 100_000, errors: 50 };
    expect(burnRate(counts, 0.001)).toBeCloseTo(0.5, 12);
    expect(budgetRemaining(counts, 0.001)).toBeCloseTo(0.5, 12);
    expect(budgetRemaining({ ...counts, errors: 500 }, 0.001)).toBe(0);
    expect(burnRate({ ...counts, requests: 0, errors: 0 }, 0.001)).toBeNull();
    expect(budgetRemaining(undefined, 0.001)).toBeNull();
  });

  it('projects the budget of a window longer than the history at the request rate seen so far', () => {
    // 1 h of history in a 30-day window: 100,000 requests project to 72 M, a budget of 72,000 errors.
    const young = { windowMs: 720 * H, coveredMs: H, requests: 100_000, errors: 1440 };
    expect(budgetRemaining(young, 0.001)).toBeCloseTo(0.98, 12);
  });

  it('fires the fast alert (critical) when both 1 h and 5 min burn 14.4x: 2 % of a 30-day budget in an hour', () => {
    const [fast, slow] = evaluateBurnRates(
      slo,
      countsByWindow({ [H]: 0.0144, [5 * M]: 0.0144, [6 * H]: 0.0144 / 6, [30 * M]: 0.0144 }),
    );
    expect(fast).toMatchObject({ rule: 'fast', firing: true, severity: 'critical' });
    expect(fast!.long).toBeCloseTo(14.4, 9);
    // 2 % of the 30-day budget: 14.4 x 1 h / 720 h.
    expect((fast!.long! * 1) / 720).toBeCloseTo(0.02, 12);
    expect(slow).toMatchObject({ rule: 'slow', firing: false });
  });

  it('needs both windows: a burst already over (5 min calm) or too short (1 h low) does not fire', () => {
    const over = evaluateBurnRates(slo, countsByWindow({ [H]: 0.02, [5 * M]: 0 }));
    expect(over[0]!.firing).toBe(false);
    const blip = evaluateBurnRates(slo, countsByWindow({ [H]: 0.01, [5 * M]: 0.5 }));
    expect(blip[0]!.firing).toBe(false);
    const justBelow = evaluateBurnRates(slo, countsByWindow({ [H]: 0.0143, [5 * M]: 0.0143 }));
    expect(justBelow[0]!.firing).toBe(false);
  });

  it('fires only the slow alert (error) for a slow leak at 6x over 6 h and 30 min', () => {
    const [fast, slow] = evaluateBurnRates(
      slo,
      countsByWindow({ [H]: 0.0065, [5 * M]: 0.0065, [6 * H]: 0.0065, [30 * M]: 0.0065 }),
    );
    expect(fast!.firing).toBe(false);
    expect(slow).toMatchObject({ firing: true, severity: 'error' });
    expect(slow!.long).toBeCloseTo(6.5, 9);
  });

  it('treats a 100 % target as a zero budget: any error burns without bound', () => {
    const strict = { ...slo, target: 100 };
    const [fast] = evaluateBurnRates(strict, countsByWindow({ [H]: 0.00001, [5 * M]: 0.00001 }));
    expect(fast!.firing).toBe(true);
    expect(evaluateBurnRates(strict, countsByWindow({}))[0]!.firing).toBe(false);
  });

  it('does not judge an alert before 1/12 of its long window is covered, and says how much data it had', () => {
    // Every request failing, but only 13 s of history: the case of a service seconds after start.
    const young =
      (coveredMs: number) =>
      (windowMs: number): WindowCounts => {
        const covered = Math.min(windowMs, coveredMs);
        return { windowMs, coveredMs: covered, requests: covered / 100, errors: covered / 100 };
      };
    const [fast, slow] = evaluateBurnRates(slo, young(13_000));
    expect(fast!.long).toBeCloseTo(1000, 9); // a 100 % error rate against a 0.1 % budget
    expect(fast).toMatchObject({ firing: false, covered_ms: 13_000, min_covered_ms: 5 * M, requests: 130 });
    expect(slow).toMatchObject({ firing: false, min_covered_ms: 30 * M });
    expect(burnRateMessage(fast!)).toBe(
      'error budget of uptime burning 1000.00x over 60 min and 1000.00x over 5 min (not judged before 5.0 min of data; data: 13 s of the 60 min window, 130 requests)',
    );
    // One second short of 5 min: still not judged; at 5 min the fast alert fires, the slow one waits for 30 min.
    expect(evaluateBurnRates(slo, young(5 * M - 1000))[0]!.firing).toBe(false);
    const [fastAt5, slowAt5] = evaluateBurnRates(slo, young(5 * M));
    expect(fastAt5!.firing).toBe(true);
    expect(slowAt5!.firing).toBe(false);
    expect(burnRateMessage(fastAt5!)).toBe(
      'error budget of uptime burning 1000.00x over 60 min and 1000.00x over 5 min (both at or above 14.4x; data: 5.0 min of the 60 min window, 3000 requests)',
    );
    expect(evaluateBurnRates(slo, young(30 * M))[1]!.firing).toBe(true);
  });
});
