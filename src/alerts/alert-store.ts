/**
 * Where the alerting process keeps what must survive a restart, in the metric store's LMDB env
 * (one record collection each): alerts (`alerts`, by id), rules added at run time (`alert_rules`,
 * by name), the states of pending and firing rule instances (`alert_rule_states`, by fingerprint,
 * so a restart neither restarts a `duration` nor forgets a firing alert), silences (`silences`, by
 * id) and suppression marks (`alert_suppression`: fingerprint → when it was last notified).
 * Pending notifications are the outbox's (see src/notify).
 *
 * Every write resolves once durable; callers await it before they count a change as made.
 */
import type { MetricStore } from '../store/lmdb-store.js';
import type { RecordDb } from '../store/record-db.js';
import type { Alert } from './alert.js';
import type { AlertRule } from './rule.js';
import type { InstanceState } from './rule-evaluator.js';
import type { Silence } from './silences.js';

/** Everything loaded back at start. */
export interface AlertingSnapshot {
  alerts: Alert[];
  rules: AlertRule[];
  ruleStates: InstanceState[];
  silences: Silence[];
  /** fingerprint → when it was last notified. */
  suppression: Map<string, number>;
}

export class AlertStore {
  readonly #alerts: RecordDb<Alert>;
  readonly #rules: RecordDb<AlertRule>;
  readonly #ruleStates: RecordDb<InstanceState>;
  readonly #silences: RecordDb<Silence>;
  readonly #suppression: RecordDb<number>;

  /** @throws {MonitorError} `EMON_STORE_FAILED` if the collections cannot be opened */
  constructor(store: MetricStore) {
    this.#alerts = store.records('alerts');
    this.#rules = store.records('alert_rules');
    this.#ruleStates = store.records('alert_rule_states');
    this.#silences = store.records('silences');
    this.#suppression = store.records('alert_suppression');
  }

  /** Reads every collection. @throws {MonitorError} `EMON_STORE_FAILED` */
  load(): AlertingSnapshot {
    const values = <V>(db: RecordDb<V>): V[] => db.range().map(([, value]) => value);
    return {
      alerts: values(this.#alerts),
      rules: values(this.#rules),
      ruleStates: values(this.#ruleStates),
      silences: values(this.#silences),
      suppression: new Map(this.#suppression.range().map(([key, at]) => [String(key), at])),
    };
  }

  saveAlert(alert: Alert): Promise<void> {
    return this.#alerts.put(alert.id, alert);
  }

  removeAlert(id: string): Promise<void> {
    return this.#alerts.remove(id);
  }

  saveRule(rule: AlertRule): Promise<void> {
    return this.#rules.put(rule.name, rule);
  }

  removeRule(name: string): Promise<void> {
    return this.#rules.remove(name);
  }

  saveRuleState(state: InstanceState): Promise<void> {
    return this.#ruleStates.put(state.fingerprint, state);
  }

  removeRuleState(fingerprint: string): Promise<void> {
    return this.#ruleStates.remove(fingerprint);
  }

  saveSilence(silence: Silence): Promise<void> {
    return this.#silences.put(silence.id, silence);
  }

  removeSilence(id: string): Promise<void> {
    return this.#silences.remove(id);
  }

  markNotified(fingerprint: string, at: number): Promise<void> {
    return this.#suppression.put(fingerprint, at);
  }

  removeMark(fingerprint: string): Promise<void> {
    return this.#suppression.remove(fingerprint);
  }
}
