/**
 * The rule state machine, per alert instance (a rule and one matching series): inactive → pending
 * (condition holds) → firing (held for `duration`, measured between evaluations, not assumed) →
 * resolved (not held for `keepFiringFor`, so a shorter flap does not resolve it). Pure bookkeeping: it
 * reads samples through a callback, keeps the active instances' states and returns the transitions;
 * the caller raises and resolves alerts and persists the states. Diagram: docs/design-notes.md.
 */
import { fingerprint } from './fingerprint.js';
import { compileMatchers, type LabelPredicate } from './label-matcher.js';
import { type AlertRule, holds } from './rule.js';
import type { Sample } from './rule-samples.js';

/** An active instance of a rule (plain data: it is persisted). */
export interface InstanceState {
  rule: string;
  fingerprint: string;
  /** The alert's labels: the series' labels, the rule's labels over them, and `alertname`. */
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  /** When the condition started to hold (pending since). */
  activeSince: number;
  /** When it fired. */
  firedAt?: number;
  /** The last evaluation where the condition held, and the value then. */
  lastTrueAt: number;
  value: number;
}

export interface Transition {
  /** `inactive`: a pending instance stopped holding before its duration; `resolved`: a firing one. */
  to: 'pending' | 'firing' | 'resolved' | 'inactive';
  instance: InstanceState;
  rule: AlertRule;
}

/** What the evaluator reads a rule's samples with. */
export type SampleReader = (rule: AlertRule, match: LabelPredicate) => Sample[];

interface RuleEntry {
  rule: AlertRule;
  match: LabelPredicate;
  instances: Map<string, InstanceState>;
}

export class RuleEvaluator {
  readonly #rules = new Map<string, RuleEntry>();

  /** Adds (or replaces, dropping its instances) a checked rule. */
  add(rule: AlertRule): void {
    this.#rules.set(rule.name, { rule, match: compileMatchers(rule.matchers), instances: new Map() });
  }

  /** Removes a rule; returns its active instances (the caller resolves their alerts). */
  remove(name: string): InstanceState[] {
    const entry = this.#rules.get(name);
    if (entry === undefined) return [];
    this.#rules.delete(name);
    return [...entry.instances.values()];
  }

  get(name: string): AlertRule | undefined {
    return this.#rules.get(name)?.rule;
  }

  rules(): AlertRule[] {
    return [...this.#rules.values()].map((e) => e.rule);
  }

  /** The active instances, of one rule or of all. */
  instances(name?: string): InstanceState[] {
    if (name !== undefined) return [...(this.#rules.get(name)?.instances.values() ?? [])];
    return [...this.#rules.values()].flatMap((e) => [...e.instances.values()]);
  }

  /**
   * Puts back persisted instance states (after a restart).
   * @returns the states whose rule is not known (the caller resolves their alerts)
   */
  restore(states: readonly InstanceState[]): InstanceState[] {
    const orphans: InstanceState[] = [];
    for (const state of states) {
      const entry = this.#rules.get(state.rule);
      if (entry === undefined) orphans.push(state);
      else entry.instances.set(state.fingerprint, { ...state });
    }
    return orphans;
  }

  /** Forgets an instance (its alert was cleared by hand): if the condition still holds, it starts over as pending. */
  forget(rule: string, fp: string): InstanceState | undefined {
    const instances = this.#rules.get(rule)?.instances;
    const state = instances?.get(fp);
    instances?.delete(fp);
    return state;
  }

  /**
   * Evaluates every rule at `now`.
   * @param now the evaluation time (ms)
   * @param read reads a rule's samples; a throw is passed to `onError` and leaves that rule's
   *   instances as they are (a failed read is not evidence that the condition ended)
   * @returns the transitions, in rule order
   */
  evaluate(now: number, read: SampleReader, onError: (rule: AlertRule, err: unknown) => void = () => {}): Transition[] {
    const transitions: Transition[] = [];
    for (const entry of this.#rules.values()) {
      let samples: Sample[];
      try {
        samples = read(entry.rule, entry.match);
      } catch (err) {
        onError(entry.rule, err);
        continue;
      }
      this.#evaluateRule(entry, samples, now, transitions);
    }
    return transitions;
  }

  #evaluateRule(entry: RuleEntry, samples: Sample[], now: number, out: Transition[]): void {
    const { rule, instances } = entry;
    const seen = new Set<string>();
    for (const sample of samples) {
      if (!holds(rule.condition, sample.value, rule.threshold)) continue;
      const labels = { ...sample.labels, ...rule.labels, alertname: rule.name };
      const fp = fingerprint(`rule:${rule.name}`, labels);
      if (seen.has(fp)) continue;
      seen.add(fp);
      const known = instances.get(fp);
      if (known === undefined) {
        const instance: InstanceState = {
          rule: rule.name,
          fingerprint: fp,
          labels,
          state: 'pending',
          activeSince: now,
          lastTrueAt: now,
          value: sample.value,
        };
        instances.set(fp, instance);
        if (rule.duration === 0) {
          instance.state = 'firing';
          instance.firedAt = now;
          out.push({ to: 'firing', instance, rule });
        } else {
          out.push({ to: 'pending', instance, rule });
        }
        continue;
      }
      known.lastTrueAt = now;
      known.value = sample.value;
      if (known.state === 'pending' && now - known.activeSince >= rule.duration) {
        known.state = 'firing';
        known.firedAt = now;
        out.push({ to: 'firing', instance: known, rule });
      }
    }
    for (const [fp, instance] of instances) {
      if (seen.has(fp)) continue;
      if (instance.state === 'pending') {
        instances.delete(fp);
        out.push({ to: 'inactive', instance, rule });
      } else if (now - instance.lastTrueAt >= rule.keepFiringFor) {
        instances.delete(fp);
        out.push({ to: 'resolved', instance, rule });
      }
    }
  }
}
