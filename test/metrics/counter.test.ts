import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { expectMonitorError } from '../helpers.js';
import { newRegistry, tableState } from './table-fixture.js';

const expectRefused = expectMonitorError;

describe('Counter', () => {
  it('counts with label objects, bound handles, and either argument order', () => {
    const { registry } = newRegistry();
    const reqs = registry.counter('requests.total', { help: 'Requests served', labels: ['method', 'route'] });
    reqs.inc({ method: 'GET', route: '/api' });
    reqs.inc({ method: 'GET', route: '/api' }, 2);
    reqs.inc(3, { route: '/api', method: 'GET' });
    const get = reqs.bind({ method: 'GET', route: '/api' });
    get.inc();
    get.inc(0.5);
    reqs.inc({ method: 'POST', route: '/api' });
    expect(reqs.get({ method: 'GET', route: '/api' })).toBe(7.5);
    expect(reqs.get({ method: 'POST', route: '/api' })).toBe(1);
    expect(reqs.get({ method: 'PUT', route: '/api' })).toBeUndefined();
    expect(reqs.series().map((s) => s.key)).toEqual([
      'requests.total{method="GET",route="/api"}',
      'requests.total{method="POST",route="/api"}',
    ]);
  });

  it('treats numeric label values as their decimal strings', () => {
    const { registry } = newRegistry();
    const c = registry.counter('codes', { labels: ['code'] });
    c.inc({ code: 200 });
    c.inc({ code: '200' });
    expect(c.series()).toHaveLength(1);
    expect(c.get({ code: '200' })).toBe(2);
  });

  it('keeps help, unit and label names', () => {
    const { registry } = newRegistry();
    const c = registry.counter('bytes.sent', { help: 'Bytes sent', unit: 'bytes', labels: ['peer'] });
    expect([c.help, c.unit, c.labelNames, c.type]).toEqual(['Bytes sent', 'bytes', ['peer'], 'counter']);
  });

  it.each([
    ['a negative increment', -1, /increment must be a finite number >= 0, got -1/],
    ['NaN', Number.NaN, /got NaN/],
    ['+Infinity', Infinity, /got Infinity/],
    ['-Infinity', -Infinity, /got -Infinity/],
    ['a string', '5', /got "5"/],
    ['an object', {}, /got an object/],
  ])('refuses %s and changes nothing', (_what, value, message) => {
    const { registry } = newRegistry();
    const c = registry.counter('orders', { labels: ['shop'] });
    c.inc({ shop: 'a' });
    const before = tableState(registry);
    expectRefused(() => c.inc({ shop: 'a' }, value as number), ErrorCode.InvalidValue, message);
    expectRefused(() => c.inc({ shop: 'new' }, value as number), ErrorCode.InvalidValue, message);
    expectRefused(
      () => c.bind({ shop: 'a' }).inc(value as number),
      ErrorCode.InvalidValue,
      /metric "orders": a counter increment/,
    );
    expect(tableState(registry)).toBe(before);
  });

  it.each([
    [
      'an unknown label',
      { shop: 'a', region: 'eu' },
      /metric "orders": unknown label "region" \(allowed: labels "shop"\)/,
    ],
    ['a missing label', {}, /metric "orders": (missing label "shop"|labels must be)/],
    ['no labels at all', undefined, /metric "orders": labels must be an object with labels "shop", got undefined/],
    [
      'a label value of the wrong type',
      { shop: { id: 1 } },
      /metric "orders": label "shop" must be a string or a finite number, got an object/,
    ],
    ['a NaN label value', { shop: Number.NaN }, /label "shop" must be a string or a finite number, got NaN/],
    ['a misspelt label', { shp: 'a' }, /unknown label "shp"/],
  ])('refuses %s and changes nothing', (_what, labels, message) => {
    const { registry } = newRegistry();
    const c = registry.counter('orders', { labels: ['shop'] });
    c.inc({ shop: 'a' });
    const before = tableState(registry);
    expectRefused(() => c.inc(labels as never), ErrorCode.InvalidLabels, message);
    expectRefused(() => c.bind(labels as never), ErrorCode.InvalidLabels, message);
    expect(tableState(registry)).toBe(before);
  });

  it('refuses labels on a metric that has none', () => {
    const { registry } = newRegistry();
    const c = registry.counter('plain');
    expectRefused(
      () => c.inc({ x: '1' }),
      ErrorCode.InvalidLabels,
      /metric "plain": unknown label "x" \(allowed: no labels\)/,
    );
    c.inc();
    expect(c.get()).toBe(1);
  });

  it('routes new label sets past the series limit to one overflow series, counts them and warns once', () => {
    const { registry, logger } = newRegistry(3);
    const c = registry.counter('users', { labels: ['id'] });
    for (let i = 0; i < 10; i++) c.inc({ id: i });
    c.inc({ id: 0 }); // an existing series still works past the limit
    expect(c.series().map((s) => s.labels.id)).toEqual(['0', '1', '2', '__overflow__']);
    expect(c.get({ id: '__overflow__' })).toBe(7);
    expect(c.get({ id: '0' })).toBe(2);
    expect(c.droppedUpdates).toBe(7);
    expect(registry.counter('monitor.series_dropped', { labels: ['metric'] }).get({ metric: 'users' })).toBe(7);
    const warnings = logger.records.filter((r) => r.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toBe(
      'metric "users" reached its series limit (3): new label sets go to one overflow series (labels "__overflow__")',
    );
  });
});
