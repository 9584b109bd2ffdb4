import { describe, expect, it } from 'vitest';
import { checkRule, type RuleInput } from '../../src/alerts/rule.js';
import { RuleEvaluator, type Transition } from '../../src/alerts/rule-evaluator.js';
import type { Sample } from '../../src/alerts/rule-samples.js';

/** A rule over one labelled value that the test sets; the clock is the `now` passed to evaluate. */
function harness(input: Partial<RuleInput> = {}) {
  const evaluator = new RuleEvaluator();
  evaluator.add(
    checkRule({
      name: 'high_latency',
      metric: 'latency.p95',
      condition: 'gt',
      threshold: 100,
      severity: 'warning',
      ...input,
    }),
  );
  let samples: Sample[] = [];
  const log: string[] = [];
  return {
    evaluator,
    set(value: number | undefined, labels: Record<string, string> = {}) {
      samples = value === undefined ? [] : [{ labels, value }];
    },
    at(now: number): Transition[] {
      const transitions = evaluator.evaluate(now, () => samples);
      for (const t of transitions) log.push(`${now}:${t.to}`);
      return transitions;
    },
    log,
    state: () => evaluator.instances()[0]?.state ?? 'inactive',
  };
}

describe('RuleEvaluator', () => {
  it('stays pending for the whole duration, then fires at the first check past it', () => {
    const h = harness({ duration: 30_000 });
    h.set(150);
    for (const t of [0, 10_000, 20_000, 29_999]) {
      h.at(t);
      expect(h.state(), `at ${t}`).toBe('pending');
    }
    h.at(30_000);
    expect(h.state()).toBe('firing');
    expect(h.log).toEqual(['0:pending', '30000:firing']);
    expect(h.evaluator.instances()[0]).toMatchObject({
      activeSince: 0,
      firedAt: 30_000,
      value: 150,
      labels: { alertname: 'high_latency' },
    });
  });

  it('goes back to inactive when the condition breaks while pending, and restarts the duration', () => {
    const h = harness({ duration: 30_000 });
    h.set(150);
    h.at(0);
    h.at(20_000);
    h.set(90);
    h.at(25_000);
    h.set(150);
    h.at(30_000);
    h.at(50_000);
    expect(h.state()).toBe('pending');
    h.at(60_000);
    expect(h.log).toEqual(['0:pending', '25000:inactive', '30000:pending', '60000:firing']);
  });

  it('fires at the first evaluation with duration 0 and resolves as soon as the condition ends', () => {
    const h = harness();
    h.set(101);
    h.at(0);
    expect(h.state()).toBe('firing');
    h.set(100);
    const [t] = h.at(10_000);
    expect(t).toMatchObject({ to: 'resolved', instance: { fingerprint: expect.stringMatching(/^[0-9a-f]{16}$/) } });
    expect(h.state()).toBe('inactive');
  });

  it('resolves when the series disappears (no data)', () => {
    const h = harness();
    h.set(500);
    h.at(0);
    h.set(undefined);
    expect(h.at(10_000).map((t) => t.to)).toEqual(['resolved']);
  });

  it('does not resolve while a flap stays inside keepFiringFor, and resolves once it has not held for that long', () => {
    const h = harness({ duration: 10_000, keepFiringFor: 30_000 });
    h.set(150);
    h.at(0);
    h.at(10_000);
    // Flapping: false, true, false, false — never 30 s without holding.
    const flaps: [number, number][] = [
      [20_000, 50],
      [30_000, 150],
      [40_000, 50],
      [50_000, 50],
    ];
    for (const [t, v] of flaps) {
      h.set(v);
      h.at(t);
      expect(h.state(), `at ${t}`).toBe('firing');
    }
    h.at(59_999);
    expect(h.state()).toBe('firing');
    h.at(60_000);
    expect(h.log).toEqual(['0:pending', '10000:firing', '60000:resolved']);
  });

  it('keeps one instance per matching series, each with its own timing', () => {
    const evaluator = new RuleEvaluator();
    evaluator.add(
      checkRule({
        name: 'errors',
        metric: 'http.errors',
        condition: 'ge',
        threshold: 5,
        duration: 10_000,
        severity: 'error',
        labels: { team: 'api' },
      }),
    );
    const read = (a: number, b: number) => () => [
      { labels: { route: '/a' }, value: a },
      { labels: { route: '/b' }, value: b },
    ];
    evaluator.evaluate(0, read(5, 1));
    evaluator.evaluate(5_000, read(6, 9));
    const fired = evaluator.evaluate(10_000, read(7, 9));
    expect(fired.map((t) => [t.to, t.instance.labels])).toEqual([
      ['firing', { route: '/a', team: 'api', alertname: 'errors' }],
    ]);
    const states = Object.fromEntries(evaluator.instances().map((i) => [i.labels.route, i.state]));
    expect(states).toEqual({ '/a': 'firing', '/b': 'pending' });
    expect(evaluator.evaluate(15_000, read(7, 9)).map((t) => t.instance.labels.route)).toEqual(['/b']);
  });

  it('restores pending states so a restart does not restart the duration', () => {
    const h = harness({ duration: 30_000 });
    h.set(150);
    h.at(0);
    const saved = h.evaluator.instances();
    const again = harness({ duration: 30_000 });
    expect(again.evaluator.restore(saved)).toEqual([]);
    again.set(150);
    expect(again.at(30_000).map((t) => t.to)).toEqual(['firing']);
  });

  it('hands back restored states of rules it does not know', () => {
    const h = harness();
    h.set(150);
    h.at(0);
    const other = new RuleEvaluator();
    expect(other.restore(h.evaluator.instances())).toHaveLength(1);
  });

  it('leaves a rule as it is when its reader throws, and reports the error', () => {
    const h = harness();
    h.set(150);
    h.at(0);
    const errors: unknown[] = [];
    const transitions = h.evaluator.evaluate(
      10_000,
      () => {
        throw new Error('boom');
      },
      (_rule, err) => errors.push(err),
    );
    expect(transitions).toEqual([]);
    expect(h.state()).toBe('firing');
    expect(errors).toEqual([new Error('boom')]);
  });
});
