/**
 * Where the alerting process keeps what must survive a restart, in the metric store's LMDB env:
 * alerts, rules added at run time, rule instance states, silences and suppression marks (pending
 * notifications are the outbox's). Writes are staged and `flush()` issues them as one transaction:
 * a durable commit per put cost ~30 ms per raised alert and timed out 8,788 of 10,000 concurrent
 * `send_alert` calls. Given a `WriteOutage`, a failed flush re-stages its records and retries after
 * backoff, so the store ends with the latest state of everything; a closed store still throws.
 */
import type { MetricStore } from '../store/lmdb-store.js';
import { type RecordDb, RecordWriteFailed } from '../store/record-db.js';
import type { WriteOutage } from '../store/write-outage.js';
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

/** A staged delete. */
const REMOVE = Symbol('remove');

export class AlertStore {
  /** Per collection: key → the value to write, or REMOVE. */
  readonly #staged = new Map<RecordDb<unknown>, Map<string, unknown>>();
  readonly #writes: Promise<void>[] = [];
  #failure: unknown;
  /** Writes of the current flush whose commit failed: staged again unless staged anew. */
  readonly #failed: { db: RecordDb<unknown>; key: string; value: unknown; err: unknown }[] = [];
  readonly #outage: WriteOutage | undefined;
  #commits = 0;
  readonly #alerts: RecordDb<Alert>;
  readonly #rules: RecordDb<AlertRule>;
  readonly #ruleStates: RecordDb<InstanceState>;
  readonly #silences: RecordDb<Silence>;
  readonly #suppression: RecordDb<number>;

  /**
   * @param outage where failed commits are counted and backed off; without one a failed flush throws
   * @throws {MonitorError} `EMON_STORE_FAILED` if the collections cannot be opened
   */
  constructor(store: MetricStore, outage?: WriteOutage) {
    this.#outage = outage;
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
    this.#stage(this.#alerts, alert.id, alert);
  }

  removeAlert(id: string): void {
    this.#stage(this.#alerts, id, REMOVE);
  }

  saveRule(rule: AlertRule): void {
    this.#stage(this.#rules, rule.name, rule);
  }

  removeRule(name: string): void {
    this.#stage(this.#rules, name, REMOVE);
  }

  saveRuleState(state: InstanceState): void {
    this.#stage(this.#ruleStates, state.fingerprint, state);
  }

  removeRuleState(fingerprint: string): void {
    this.#stage(this.#ruleStates, fingerprint, REMOVE);
  }

  saveSilence(silence: Silence): void {
    this.#stage(this.#silences, silence.id, silence);
  }

  removeSilence(id: string): void {
    this.#stage(this.#silences, id, REMOVE);
  }

  markNotified(fingerprint: string, at: number): void {
    this.#stage(this.#suppression, fingerprint, at);
  }

  removeMark(fingerprint: string): void {
    this.#stage(this.#suppression, fingerprint, REMOVE);
  }

  /** Flushes that had something to write: each one lmdb-js transaction (for tests and measurements). */
  get commits(): number {
    return this.#commits;
  }

  /** Records waiting to be written (staged, or kept from a failed flush). */
  get unwritten(): number {
    let n = 0;
    for (const records of this.#staged.values()) n += records.size;
    return n;
  }

  /**
   * Issues every staged write (one transaction) and resolves once they and every earlier write are
   * durable. Records are written as they are now, so an alert changed after it was staged is
   * written with its latest fields. While the outage backs off, nothing is issued (see the header).
   * @param force issue the staged writes even while the outage backs off (a last flush at stop)
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` with the first write that failed (a failed
   *   commit only without a `WriteOutage`)
   */
  async flush(force = false): Promise<void> {
    const outage = this.#outage;
    const issue = this.#staged.size > 0 && (outage === undefined || force || outage.due());
    if (issue) {
      this.#commits++;
      for (const [db, records] of this.#staged) {
        for (const [key, value] of records) {
          try {
            this.#track(value === REMOVE ? db.remove(key) : db.put(key, value), db, key, value);
          } catch (err) {
            this.#failure ??= err;
          }
        }
      }
      this.#staged.clear();
    }
    await Promise.all(this.#writes.splice(0));
    const failure = this.#failure;
    this.#failure = undefined;
    const failed = this.#failed.splice(0);
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the commit error as it was caught
    if (failure !== undefined) throw failure;
    if (failed.length > 0) {
      for (const { db, key, value } of failed) {
        if (this.#staged.get(db)?.has(key) !== true) this.#stage(db, key, value);
      }
      outage!.failed(failed[0]!.err, { unwritten: this.unwritten });
    } else if (issue) {
      outage?.succeeded();
    }
  }

  #stage<V>(db: RecordDb<V>, key: string, value: V | typeof REMOVE): void {
    let records = this.#staged.get(db as RecordDb<unknown>);
    if (records === undefined) this.#staged.set(db as RecordDb<unknown>, (records = new Map<string, unknown>()));
    records.set(key, value);
  }

  // The catch is attached at once, so a write that fails before `flush` awaits it is not an unhandled rejection.
  #track(write: Promise<void>, db: RecordDb<unknown>, key: string, value: unknown): void {
    this.#writes.push(
      write.catch((err: unknown) => {
        if (this.#outage !== undefined && err instanceof RecordWriteFailed) this.#failed.push({ db, key, value, err });
        else this.#failure ??= err;
      }),
    );
  }
}
