import { describe, expect, it } from 'vitest';
import { checkRule, holds } from '../../src/alerts/rule.js';
import { ErrorCode } from '../../src/errors.js';
import { expectMonitorError } from '../helpers.js';

const base = { name: 'high_latency', metric: 'latency.p95', condition: 'gt', threshold: 100, severity: 'warning' };

describe('checkRule', () => {
  it('applies the defaults', () => {
    expect(checkRule(base)).toEqual({
      ...base,
      matchers: [],
      stat: 'p95',
      window: '1m',
      duration: 0,
      keepFiringFor: 0,
      labels: {},
      annotations: {},
    });
  });

  it.each([
    [
      { ...base, name: '9lives' },
      'invalid rule name "9lives" (letters, digits, "_", ".", ":", "-", starting with a letter or "_", at most 128 characters)',
    ],
    [
      { ...base, condition: 'gte' },
      'rule "high_latency": invalid condition "gte" (allowed: "gt", "ge", "lt", "le", "eq", "ne")',
    ],
    [{ ...base, threshold: Number.NaN }, 'rule "high_latency": threshold must be a finite number, got NaN'],
    [{ ...base, threshold: '100' }, 'rule "high_latency": threshold must be a finite number, got "100"'],
    [
      { ...base, duration: -1 },
      'rule "high_latency": duration must be an integer number of ms from 0 to 2592000000 (30 days), got -1',
    ],
    [
      { ...base, keepFiringFor: 1.5 },
      'rule "high_latency": keepFiringFor must be an integer number of ms from 0 to 2592000000 (30 days), got 1.5',
    ],
    [
      { ...base, severity: 'fatal' },
      'rule "high_latency": invalid severity "fatal" (allowed: "info", "warning", "error", "critical")',
    ],
    [{ ...base, metric: 'bad metric' }, /^rule "high_latency": invalid metric "bad metric"/],
    [{ ...base, treshold: 5 }, /^rule "high_latency": unknown key "treshold" \(allowed: name, metric, /],
    [
      { ...base, labels: { alertname: 'x' } },
      'rule "high_latency": labels name "alertname" is not allowed: "alertname" is set by alerting itself',
    ],
    [
      { ...base, labels: { team: 5 } },
      'rule "high_latency": labels.team must be a string of at most 1000 characters, got 5',
    ],
    [
      { ...base, matchers: [{ name: 'route', op: '=~', value: '(' }] },
      /^rule "high_latency": matchers\[0\]: invalid regex "\(": /,
    ],
    [
      { ...base, matchers: [{ name: 'route', op: '~', value: 'x' }] },
      'rule "high_latency": matchers[0]: invalid op "~" (allowed: "=", "!=", "=~", "!~")',
    ],
    [
      { ...base, stat: 'p90' },
      'rule "high_latency": invalid stat "p90" (allowed: "p50", "p95", "p99", "p999", "count")',
    ],
    [null, 'an alert rule must be an object, got null'],
  ])('refuses %j', (input, message) => {
    expectMonitorError(() => checkRule(input), ErrorCode.InvalidRule, message);
  });

  it('refuses a severity left out of severity_levels', () => {
    expectMonitorError(
      () => checkRule({ ...base, severity: 'info' }, ['warning', 'error', 'critical']),
      ErrorCode.InvalidRule,
      'rule "high_latency": invalid severity "info" (allowed: "warning", "error", "critical")',
    );
  });
});

describe('holds', () => {
  it('compares with each condition', () => {
    const at = (v: number) => (['gt', 'ge', 'lt', 'le', 'eq', 'ne'] as const).map((c) => holds(c, v, 10));
    expect(at(9)).toEqual([false, false, true, true, false, true]);
    expect(at(10)).toEqual([false, true, false, true, true, false]);
    expect(at(11)).toEqual([true, true, false, false, false, true]);
  });
});
