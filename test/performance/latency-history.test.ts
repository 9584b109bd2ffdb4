import { describe, expect, it } from 'vitest';
import { Sketch } from '../../src/metrics/sketch.js';
import { LatencyHistory, sketchDelta } from '../../src/performance/latency-history.js';

const T0 = 1_700_000_000_000;

describe('LatencyHistory', () => {
  it('takes the difference of two all-time sketches bucket by bucket', () => {
    const a = new Sketch();
    for (const v of [1, 10, 10, 100]) a.add(v);
    const b = Sketch.fromJSON(a.toJSON());
    for (const v of [10, 1000, -5, 0]) b.add(v);
    const delta = Sketch.fromJSON(sketchDelta(b.toJSON(), a.toJSON()));
    expect(delta.count).toBe(4);
    expect(delta.quantile(0)).toBeCloseTo(-5, 0);
    expect(delta.quantile(1)).toBeCloseTo(1000, -1);
    expect(sketchDelta(a.toJSON(), b.toJSON())).toBeUndefined(); // a lacks what b has: a reset
  });

  it('answers percentiles over a window longer than the histogram ring from what arrived between readings', () => {
    const history = new LatencyHistory(3_600_000);
    const all = new Sketch();
    for (let i = 0; i < 50; i++) all.add(5000); // before the baseline: of unknown age, not counted
    history.record(T0, all);
    expect(history.over(3_600_000, T0)!.sketch.count).toBe(0);
    for (let minute = 1; minute <= 90; minute++) {
      for (let i = 0; i < 10; i++) all.add(minute <= 30 ? 300 : 20);
      history.record(T0 + minute * 60_000, all);
    }
    const hour = history.over(3_600_000, T0 + 90 * 60_000)!;
    expect(hour.sketch.count).toBe(600); // minutes 31..90
    expect(hour.sketch.quantile(0.99)).toBeCloseTo(20, -0.5);
    const all90 = history.over(3_600_000 * 2, T0 + 90 * 60_000)!;
    expect(all90.coveredMs).toBe(90 * 60_000);
  });

  it('counts a reading as new after the histogram was reset', () => {
    const history = new LatencyHistory(600_000);
    const first = new Sketch();
    for (let i = 0; i < 100; i++) first.add(50);
    history.record(T0, first);
    const fresh = new Sketch();
    for (let i = 0; i < 7; i++) fresh.add(80);
    history.record(T0 + 10_000, fresh);
    expect(history.over(600_000, T0 + 10_000)!.sketch.count).toBe(7);
  });
});
