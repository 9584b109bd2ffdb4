import { describe, expect, it } from 'vitest';
import { CounterHistory } from '../../src/performance/counter-history.js';

const T0 = 1_700_000_000_000;

describe('CounterHistory', () => {
  it('answers requests and errors over a window from the sample at or before its start', () => {
    const h = new CounterHistory({ checkIntervalMs: 5000, longestWindowMs: 3_600_000 });
    for (let i = 0; i <= 24; i++) h.record(h.reading(T0 + i * 5000, { requests: i * 100, errors: i * 2 }));
    const now = h.reading(T0 + 125_000, { requests: 2500, errors: 50 });
    expect(h.over(60_000, now)).toEqual({ windowMs: 60_000, coveredMs: 60_000, requests: 1200, errors: 24 });
    // Longer than the history: starts from the oldest sample and says so.
    expect(h.over(3_600_000, now)).toEqual({ windowMs: 3_600_000, coveredMs: 125_000, requests: 2500, errors: 50 });
  });

  it('leaves a marked downtime gap out of the time a window covers', () => {
    const h = new CounterHistory({ checkIntervalMs: 5000, longestWindowMs: 3_600_000 });
    for (let i = 0; i <= 12; i++) h.record(h.reading(T0 + i * 5000, { requests: i * 100, errors: 0 }));
    // Down from +60 s to +120 s; back with the same totals (restored), then 20 req/s for 15 s.
    h.markGap(T0 + 60_000, T0 + 120_000);
    const now = h.reading(T0 + 135_000, { requests: 1200 + 300, errors: 0 });
    expect(h.over(60_000, now)).toEqual({ windowMs: 60_000, coveredMs: 15_000, requests: 300, errors: 0 });
    // A window that starts before the gap covers its observed parts on both sides.
    expect(h.over(120_000, now)).toMatchObject({ coveredMs: 60_000, requests: 900 + 300 });
    // An empty or reversed span is no gap.
    h.markGap(T0 + 130_000, T0 + 130_000);
    expect(h.over(60_000, now)!.coveredMs).toBe(15_000);
  });

  it('has nothing to compare the first reading with', () => {
    const h = new CounterHistory({ checkIntervalMs: 5000, longestWindowMs: 60_000 });
    expect(h.over(60_000, h.reading(T0, { requests: 10, errors: 0 }))).toBeUndefined();
  });

  it('treats a counter that went down as reset to zero, like Prometheus', () => {
    const h = new CounterHistory({ checkIntervalMs: 5000, longestWindowMs: 60_000 });
    h.record(h.reading(T0, { requests: 1000, errors: 10 }));
    h.record(h.reading(T0 + 5000, { requests: 1100, errors: 12 }));
    h.record(h.reading(T0 + 10_000, { requests: 50, errors: 1 })); // restarted from 0, then 50 more
    const now = h.reading(T0 + 15_000, { requests: 150, errors: 3 });
    expect(h.over(15_000, now)).toMatchObject({ requests: 1100 - 1000 + 50 + 100, errors: 2 + 1 + 2 });
  });

  it('keeps 6 h of every check and a month in the coarse tier, in bounded memory', () => {
    const h = new CounterHistory({ checkIntervalMs: 60_000, longestWindowMs: 30 * 86_400_000 });
    const minutes = 31 * 24 * 60;
    for (let i = 0; i <= minutes; i++) h.record(h.reading(T0 + i * 60_000, { requests: i * 6000, errors: i }));
    // Fine tier: 6.5 h at half the check interval (782 slots); coarse tier: 2002 slots. Not 44,641 samples.
    expect(h.size).toBeLessThanOrEqual(782 + 2002);
    const now = h.reading(T0 + (minutes + 1) * 60_000, { requests: (minutes + 1) * 6000, errors: minutes + 1 });
    expect(h.over(3_600_000, now)).toMatchObject({ coveredMs: 3_600_000, requests: 360_000, errors: 60 });
    const month = h.over(30 * 86_400_000, now)!;
    // The coarse tier's spacing (~22 min) bounds how far before the window its start sample is.
    expect(month.coveredMs).toBeGreaterThanOrEqual(30 * 86_400_000);
    expect(month.coveredMs).toBeLessThan(30 * 86_400_000 + 25 * 60_000);
    expect(month.requests / (month.coveredMs / 1000)).toBeCloseTo(100, 6);
  });
});
