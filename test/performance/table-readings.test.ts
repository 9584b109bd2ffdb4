import { describe, expect, it } from 'vitest';
import { counterSum, gaugeValue, latencyWindow, requestTotals } from '../../src/performance/table-readings.js';
import { newRegistry } from '../metrics/table-fixture.js';

describe('table readings', () => {
  it('sums every series of the request counters, and reads no errors as 0 when only totals exist', () => {
    const { registry } = newRegistry();
    expect(requestTotals(registry)).toBeUndefined();
    const total = registry.counter('http.server.requests', { labels: ['server', 'method', 'code'] });
    total.inc({ server: 'a', method: 'GET', code: '200' }, 5);
    total.inc({ server: 'b', method: 'POST', code: '500' }, 2);
    expect(requestTotals(registry)).toEqual({ requests: 7, errors: 0 });
    registry
      .counter('http.server.errors', { labels: ['server', 'method', 'code'] })
      .inc({ server: 'b', method: 'POST', code: '500' }, 2);
    expect(requestTotals(registry)).toEqual({ requests: 7, errors: 2 });
  });

  it('reads a metric of another type, or a gauge with other labels, as no data', () => {
    const { registry } = newRegistry();
    registry.gauge('http.server.requests').set(3);
    registry.counter('system.cpu').inc(50);
    registry.gauge('system.event_loop.delay').set(12);
    expect(counterSum(registry, 'http.server.requests')).toBeUndefined();
    expect(gaugeValue(registry, 'system.cpu')).toBeUndefined();
    expect(gaugeValue(registry, 'system.event_loop.delay', { percentile: 'p99' })).toBeUndefined();
    expect(latencyWindow(registry, 60_000, 0)).toBeUndefined();
  });

  it("ticks the slice clock to now, so a window read between the collector's ticks is current", () => {
    const { registry, clock } = newRegistry();
    const h = registry.histogram('http.server.duration', { unit: 'ms', labels: ['server'] });
    clock.tick(0);
    h.observe(40, { server: 'x' });
    // 70 s later, nobody ticked the clock: the observation is older than the 60 s window.
    expect(latencyWindow(registry, 60_000, 70_000)!.sketch.count).toBe(0);
    expect(clock.slice).toBe(7);
    // Two series merge; the window never exceeds the ring's 5 minutes.
    h.observe(10, { server: 'x' });
    h.observe(30, { server: 'y' });
    const w = latencyWindow(registry, 3_600_000, 75_000)!;
    expect(w.windowMs).toBe(300_000);
    expect(w.sketch.count).toBe(3);
  });
});
