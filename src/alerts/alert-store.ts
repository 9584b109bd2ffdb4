/**
 * Where the alerting process keeps what must survive a restart, in the metric store's LMDB env
 * (one record collection each): alerts (`alerts`, by id), rules added at run time (`alert_rules`,
 * by name), the states of pending and firing rule instances (`alert_rule_states`, by fingerprint,
 * so a restart neither restarts a `duration` nor forgets a firing alert), silences (`silences`, by
 * id) and suppression marks (`alert_suppression`: fingerprint → when it was last notified).
 * Pending notifications are the outbox's (see src/notify).
 *
 * Writes are queued, not awaited one by one: lmdb-js commits the puts issued in one turn of the
 * event loop together, and an awaited commit per put made the alerting process ~30 ms per raised
 * alert (3 puts, each its own durable commit; measured here). The engine calls `flush()` at the
 * end of every operation, so nothing is reported done before it is durable.
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
  readonly #writes: Promise<void>[] = [];
  #failure: unknown;
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

  saveAlert(alert: Alert): void {
    this.#track(this.#alerts.put(alert.id, alert));
  }

  removeAlert(id: string): void {
    this.#track(this.#alerts.remove(id));
  }

  saveRule(rule: AlertRule): void {
    this.#track(this.#rules.put(rule.name, rule));
  }

  removeRule(name: string): void {
    this.#track(this.#rules.remove(name));
  }

  saveRuleState(state: InstanceState): void {
    this.#track(this.#ruleStates.put(state.fingerprint, state));
  }

  removeRuleState(fingerprint: string): void {
    this.#track(this.#ruleStates.remove(fingerprint));
  }

  saveSilence(silence: Silence): void {
    this.#track(this.#silences.put(silence.id, silence));
  }

  removeSilence(id: string): void {
    this.#track(this.#silences.remove(id));
  }

  markNotified(fingerprint: string, at: number): void {
    this.#track(this.#suppression.put(fingerprint, at));
  }

  removeMark(fingerprint: string): void {
    this.#track(this.#suppression.remove(fingerprint));
  }

  /**
   * Resolves once every write queued so far is durable.
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` with the first write that failed
   */
  async flush(): Promise<void> {
    await Promise.all(this.#writes.splice(0));
    const failure = this.#failure;
    this.#failure = undefined;
    if (failure !== undefined) throw failure;
  }

  // The catch is attached at once, so a write that fails before `flush` is not an unhandled rejection.
  #track(write: Promise<void>): void {
    this.#writes.push(write.catch((err: unknown) => void (this.#failure ??= err)));
  }
}
