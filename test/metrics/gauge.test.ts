import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { expectMonitorError } from '../helpers.js';
import { newRegistry, tableState } from './table-fixture.js';

describe('Gauge', () => {
  it('sets, increments and decrements, labelled and bound', () => {
    const { registry } = newRegistry();
    const g = registry.gauge('pool.size', { labels: ['pool'] });
    g.set(5, { pool: 'db' });
    g.set({ pool: 'db' }, 6);
    g.inc({ pool: 'db' });
    g.dec({ pool: 'db' }, 3);
    g.inc(2, { pool: 'db' });
    const cache = g.bind({ pool: 'cache' });
    cache.set(-1.5);
    cache.dec();
    expect(g.get({ pool: 'db' })).toBe(6);
    expect(g.get({ pool: 'cache' })).toBe(-2.5);
    const revenue = registry.gauge('business.revenue');
    revenue.set(125000.0);
    expect(revenue.get()).toBe(125000);
  });

  it.each([[Number.NaN], [Infinity], [-Infinity], ['1'], [null]])('refuses %s and changes nothing', (value) => {
    const { registry } = newRegistry();
    const g = registry.gauge('temp', { labels: ['room'] });
    g.set(20, { room: 'a' });
    const before = tableState(registry);
    for (const attempt of [
      () => g.set(value as number, { room: 'a' }),
      () => g.set({ room: 'b' }, value as number),
      () => g.inc({ room: 'a' }, value as number),
      () => g.dec({ room: 'a' }, value as number),
      () => g.bind({ room: 'a' }).set(value as number),
    ]) {
      expectMonitorError(
        attempt,
        ErrorCode.InvalidValue,
        /^metric "temp": a gauge value must be a finite number, got /,
      );
    }
    expect(tableState(registry)).toBe(before);
  });
});
