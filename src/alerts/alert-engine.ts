/**
 * `AlertEngine`: the alerting process's state and logic, kept out of the actor's callbacks.
 * Alerts come from `send_alert`, the performance monitor's signals and rules, each with its own
 * fingerprint identity, so a repeat updates the firing alert instead of adding one. Notification ids
 * (`<alert id>:firing|renotify:<n>|resolved`) are stable across restarts, so the outbox deduplicates
 * what a crash queues again. Every change is durable before its operation returns. Alerts are held
 * per kind with separate budgets (`alert_limits`), so a flood of one kind cannot take another's room.
 * Sources, notifications and capacity in detail: docs/design-notes.md.
 */
import { SAME_TIMELINE, type Timeline } from '../clock.js';
import type { AlertingConfig } from '../config/schema.js';
import { describeValue, ErrorCode, MonitorError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { DerivedValues } from '../metrics/derived-values.js';
import { formatLabels } from '../metrics/metric.js';
import type { Registry } from '../metrics/registry.js';
import type { ChannelName, DeadLetter, Notification, NotifiedAlert, OutboxPort } from '../notify/types.js';
import type { AlertView } from '../server/protocol.js';
import { type Alert, alertTitle, toAlertView, toNotifiedAlert } from './alert.js';
import { checkAlertRequest, checkSignal } from './alert-input.js';
import type { AlertStore } from './alert-store.js';
import { formatNumber, renderTemplate } from './annotation-template.js';
import { fingerprint, stableId } from './fingerprint.js';
import { Router, union } from './routing.js';
import { type AlertRule, checkRule, conditionSymbol, type RuleInput } from './rule.js';
import { type InstanceState, RuleEvaluator, type Transition } from './rule-evaluator.js';
import { sampleRule } from './rule-samples.js';
import { type Severity, SEVERITIES } from './severity.js';
import { checkSilence, type Silence, SilenceSet, type SilenceView } from './silences.js';

/** Most silences held. */
export const MAX_SILENCES = 1000;

/** Counts new alerts refused because their kind's `alert_limits` budget was full, by kind (`source`). */
export const ALERTS_REFUSED_METRIC = 'monitor.alerts_refused';

/** Which `alert_limits` budget an alert counts against. */
export type AlertKind = 'manual' | 'rule' | 'signal';

/** The budget of an alert from `source` (`api`, `rule:<name>`, or a signal's source). */
export function alertKind(source: string): AlertKind {
  if (source === 'api') return 'manual';
  return source.startsWith('rule:') ? 'rule' : 'signal';
}

/** What one kind of alert holds against its budget. */
interface Budget {
  readonly limit: number;
  /** Alerts of this kind in the table (firing and resolved). */
  held: number;
  /** Its resolved alerts, oldest resolution first: the ones that can make room. */
  readonly resolved: Map<string, Alert>;
  /** Refusing now (logged once per change). */
  full: boolean;
}

export interface AlertEngineOptions {
  registry: Registry;
  derived: DerivedValues;
  config: AlertingConfig;
  store: AlertStore;
  outbox: OutboxPort;
  log: Logger;
  /**
   * The dashboard's address (e.g. `http://127.0.0.1:8080`), or a function giving it once known (the
   * dashboard's bound port when configured as 0); each notification links to its alert there
   * (`<address>/#alert=<id>`). Default: no link.
   */
  dashboardUrl?: string | (() => string | undefined);
  /**
   * How the steady `now` the methods take relates to wall time (see src/clock.ts): alerts carry
   * stamps, silences' wall times are converted on input. Default {@link SAME_TIMELINE}.
   */
  timeline?: Timeline;
}

/** A rule and its active instances, as `list_rules` shows them. */
export interface RuleStatus {
  rule: AlertRule;
  /** Where the rule came from: start arguments (`config`) or `add_rule` (`api`, persisted). */
  origin: 'config' | 'api';
  instances: InstanceState[];
}

/** What one evaluation did. */
export interface EvaluationSummary {
  at: number;
  rules: number;
  pending: number;
  firing: number;
  resolved: number;
  inactive: number;
}

export class AlertEngine {
  readonly #opts: AlertEngineOptions;
  readonly #router: Router;
  readonly #severities: readonly Severity[];
  readonly #evaluator = new RuleEvaluator();
  readonly #silences = new SilenceSet();
  /** Every alert by id (firing, and resolved until `alert_timeout`). */
  readonly #alerts = new Map<string, Alert>();
  /** Firing alerts by fingerprint: at most one each. */
  readonly #firing = new Map<string, Alert>();
  /** Suppression marks: fingerprint → when last notified (steady; stored as a stamp). */
  readonly #marks = new Map<string, number>();
  /** Steady copies of the alert times durations are measured from (alerts carry stamps). */
  readonly #steadyAt = new WeakMap<Alert, { resolvedAt?: number; notifiedAt?: number }>();
  readonly #time: Timeline;
  /** Names of rules from the start arguments (not persisted). */
  readonly #configRules = new Set<string>();
  readonly #budgets: Record<AlertKind, Budget>;
  /** Fingerprints of firing rule instances whose alert was refused at the limit (raised once there is room). */
  readonly #unraised = new Set<string>();
  /** Alerts staged by `stageAlert`, to be reviewed at the next commit: alert → when and how. */
  readonly #staged = new Map<Alert, { now: number; severityRaised: boolean }>();
  /** Settled by the next commit; created by the first `committed()` of a batch. */
  #batch: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | undefined;
  #seq = 0;
  /** Whether the last enqueue failed (logged once per change). */
  #enqueueFailing = false;

  private constructor(opts: AlertEngineOptions) {
    this.#opts = opts;
    this.#time = opts.timeline ?? SAME_TIMELINE;
    this.#router = new Router(opts.config);
    this.#severities = SEVERITIES.filter((s) => opts.config.severity_levels.includes(s));
    const limits = opts.config.alert_limits;
    const budget = (limit: number): Budget => ({ limit, held: 0, resolved: new Map(), full: false });
    this.#budgets = { manual: budget(limits.manual), rule: budget(limits.rule), signal: budget(limits.signal) };
  }

  /**
   * Loads the persisted state and the rules, and reconciles them: instances of rules that no longer
   * exist resolve, firing rule alerts without a firing instance resolve, and firing instances
   * without an alert raise it.
   * @param rules rules from the start arguments (they win over persisted rules of the same name)
   * @throws {MonitorError} `EMON_INVALID_RULE` for a bad rule in `rules`; `EMON_STORE_FAILED`
   */
  static async open(opts: AlertEngineOptions, rules: readonly RuleInput[], now: number): Promise<AlertEngine> {
    const engine = new AlertEngine(opts);
    const checked = rules.map((rule) => checkRule(rule, engine.#severities));
    const snapshot = opts.store.load();
    for (const stored of snapshot.rules) {
      try {
        engine.#evaluator.add(checkRule(stored, engine.#severities));
      } catch (err) {
        opts.log.warn({ rule: stored.name, err: toError(err) }, 'stored alert rule is no longer valid: dropped');
        opts.store.removeRule(String(stored.name));
      }
    }
    for (const rule of checked) {
      if (engine.#configRules.has(rule.name))
        throw new MonitorError(ErrorCode.InvalidRule, `rule "${rule.name}" is given twice`);
      engine.#configRules.add(rule.name);
      engine.#evaluator.add(rule);
    }
    const resolvedFirst = [...snapshot.alerts].sort((a, b) => (a.resolvedAt ?? Infinity) - (b.resolvedAt ?? Infinity));
    for (const alert of resolvedFirst) {
      engine.#hold(alert);
      if (alert.status === 'firing') engine.#firing.set(alert.fingerprint, alert);
    }
    for (const silence of snapshot.silences) engine.#silences.put(silence, engine.#steadySpan(silence));
    for (const [fp, at] of snapshot.suppression) engine.#marks.set(fp, engine.#time.steadyFromWall(at));

    const orphans = engine.#evaluator.restore(
      snapshot.ruleStates.map((s) => engine.#convertState(s, (at) => engine.#time.steadyFromWall(at))),
    );
    for (const orphan of orphans) opts.store.removeRuleState(orphan.fingerprint);
    const firingInstances = new Map(
      engine.#evaluator
        .instances()
        .filter((i) => i.state === 'firing')
        .map((i) => [i.fingerprint, i]),
    );
    for (const alert of [...engine.#firing.values()]) {
      if (alert.source.startsWith('rule:') && !firingInstances.has(alert.fingerprint))
        await engine.#resolve(alert, now);
    }
    for (const instance of firingInstances.values()) {
      if (!engine.#firing.has(instance.fingerprint)) {
        const rule = engine.#evaluator.get(instance.rule)!;
        if ((await engine.#raise(ruleAlertFields(rule, instance), instance.firedAt ?? now)) === undefined)
          engine.#unraised.add(instance.fingerprint);
      }
    }
    await opts.store.flush();
    return engine;
  }

  // ------------------------------------------------------------------------------ alerts

  /**
   * Raises an alert from the API, or returns the one firing with the same severity, message and labels.
   * @throws {MonitorError} `EMON_INVALID_ALERT`, `EMON_ALERT_LIMIT`, `EMON_STORE_FAILED`
   */
  async sendAlert(severity: unknown, message: unknown, labels: unknown, now: number): Promise<Alert> {
    const alert = this.stageAlert(severity, message, labels, now);
    await this.commit();
    return alert;
  }

  /**
   * `sendAlert` without waiting: the alert is raised in memory (a refusal is immediate) and its
   * write and notification wait for the next `commit()`; `committed()` says when that is done.
   * @throws {MonitorError} `EMON_INVALID_ALERT`, `EMON_ALERT_LIMIT` (then nothing is staged)
   */
  stageAlert(severity: unknown, message: unknown, labels: unknown, now: number): Alert {
    const req = checkAlertRequest(severity, message, labels, this.#severities);
    const admitted = this.#admit(
      {
        fingerprint: fingerprint(`api:${req.severity}:${req.message}`, req.labels),
        severity: req.severity,
        title: alertTitle(req.severity, req.message),
        message: req.message,
        source: 'api',
        labels: req.labels,
        annotations: {},
      },
      now,
    );
    if (admitted === undefined) throw this.#limitError('manual');
    const prior = this.#staged.get(admitted.alert);
    this.#staged.set(admitted.alert, {
      now,
      severityRaised: admitted.severityRaised || prior?.severityRaised === true,
    });
    return admitted.alert;
  }

  /** Whether staged alerts wait for a `commit()`. */
  get staged(): boolean {
    return this.#staged.size > 0;
  }

  /**
   * Settles with the next `commit()`: resolves once the alerts staged so far are durable (their
   * notifications may still be being queued then; `commit()` itself waits for those too), rejects
   * with the commit's failure.
   */
  committed(): Promise<void> {
    if (this.#batch === undefined) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      // Whoever waits has its own handler; a commit nobody waits for must not become an unhandled rejection.
      promise.catch(() => undefined);
      this.#batch = { promise, resolve, reject };
    }
    return this.#batch.promise;
  }

  /**
   * Makes every staged change durable: the notifications of the staged alerts are decided, which
   * issues their outbox writes, and the alerts are written in the same transaction; once that is
   * durable `committed()` resolves, and a second transaction records what was notified.
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED`; `committed()` rejects with it too
   */
  async commit(): Promise<void> {
    const staged = [...this.#staged];
    this.#staged.clear();
    const batch = this.#batch;
    this.#batch = undefined;
    try {
      const reviewed = Promise.all(staged.map(([alert, at]) => this.#review(alert, at.now, at.severityRaised)));
      await this.#opts.store.flush();
      // Answered here, not after the bookkeeping below: with notifications, writing every alert
      // again (notifiedAt) took 260-490 ms of a 10,000-alert burst on the loaded test machine.
      batch?.resolve();
      await reviewed;
      await this.#opts.store.flush();
    } catch (err) {
      batch?.reject(err);
      throw err;
    }
  }

  /**
   * Applies a signal: `firing` raises or updates the alert, `resolved` resolves it (if it fires).
   * @throws {MonitorError} `EMON_INVALID_ALERT` for a malformed signal, `EMON_STORE_FAILED`
   */
  async signal(input: unknown, now: number): Promise<Alert | undefined> {
    const signal = checkSignal(input, this.#severities);
    const labels = signal.labels ?? {};
    const fp = fingerprint(`signal:${signal.source}:${signal.key}`, labels);
    if (signal.state === 'resolved') {
      const alert = this.#firing.get(fp);
      if (alert !== undefined) await this.#resolve(alert, now);
      return this.#done(alert);
    }
    const alert = await this.#raise(
      {
        fingerprint: fp,
        severity: signal.severity,
        title: alertTitle(signal.severity, signal.key),
        message: signal.message,
        source: signal.source,
        // The watched condition's name (`sla.uptime`, `latency.p95`) is the alert's name, as a rule's is.
        labels: { alertname: signal.key, ...labels },
        annotations: signal.annotations ?? {},
        ...(signal.value === undefined ? {} : { value: signal.value }),
        ...(signal.threshold === undefined ? {} : { threshold: signal.threshold }),
      },
      now,
    );
    return this.#done(alert);
  }

  /** The firing alerts, most severe first, then oldest first. */
  activeAlerts(): Alert[] {
    const rank = (s: Severity): number => SEVERITIES.indexOf(s);
    return [...this.#firing.values()].sort((a, b) => rank(b.severity) - rank(a.severity) || a.startedAt - b.startedAt);
  }

  /**
   * What the dashboard shows: pending rule instances (status `pending`, id `pending:<fingerprint>`),
   * then the firing alerts, most severe first.
   */
  alertViews(): AlertView[] {
    const pending = this.#evaluator
      .instances()
      .filter((i) => i.state === 'pending')
      .map((i): AlertView => {
        const fields = ruleAlertFields(this.#evaluator.get(i.rule)!, i);
        return {
          id: `pending:${i.fingerprint}`,
          severity: fields.severity,
          status: 'pending',
          title: fields.title,
          message: fields.message,
          source: fields.source,
          labels: fields.labels,
          startedAt: this.#time.stampAt(i.activeSince),
        };
      });
    return [...pending, ...this.activeAlerts().map(toAlertView)];
  }

  /**
   * The firing alert with this fingerprint as channels see it, in its latest state (a rule alert's
   * annotations rendered with the last evaluated value): what the Alertmanager channel re-sends.
   */
  firingNotified(fingerprint: string): NotifiedAlert | undefined {
    const alert = this.#firing.get(fingerprint);
    return alert === undefined ? undefined : toNotifiedAlert(alert, this.#link(alert));
  }

  /** Every alert held: firing, and resolved ones until `alert_timeout`. */
  allAlerts(): Alert[] {
    return [...this.#alerts.values()];
  }

  /**
   * Resolves an alert by hand (a resolved one is returned as it is).
   * @throws {MonitorError} `EMON_NOT_FOUND` if no alert has this id
   */
  async clearAlert(id: unknown, now: number): Promise<Alert> {
    const alert = typeof id === 'string' ? this.#alerts.get(id) : undefined;
    if (alert === undefined)
      throw new MonitorError(
        ErrorCode.NotFound,
        `no alert with id ${describeValue(id)} (it may have been cleaned up after alert_timeout)`,
      );
    if (alert.status === 'firing') {
      if (alert.source.startsWith('rule:')) {
        const forgotten = this.#evaluator.forget(alert.source.slice('rule:'.length), alert.fingerprint);
        if (forgotten !== undefined) this.#opts.store.removeRuleState(forgotten.fingerprint);
      }
      await this.#resolve(alert, now);
    }
    return this.#done(alert);
  }

  /** Queued notifications that failed for good. */
  deadLetters(): DeadLetter[] {
    return this.#opts.outbox.deadLetters();
  }

  // ------------------------------------------------------------------------------ rules

  /**
   * Adds a rule (persisted, so it survives a restart).
   * @throws {MonitorError} `EMON_INVALID_RULE` for a bad rule or a taken name
   */
  async addRule(input: unknown): Promise<AlertRule> {
    const rule = checkRule(input, this.#severities);
    if (this.#evaluator.get(rule.name) !== undefined) {
      throw new MonitorError(
        ErrorCode.InvalidRule,
        `rule "${rule.name}" already exists (remove it first to replace it)`,
      );
    }
    this.#opts.store.saveRule(rule);
    this.#evaluator.add(rule);
    return this.#done(rule);
  }

  /**
   * Removes a rule; its firing alerts resolve.
   * @throws {MonitorError} `EMON_NOT_FOUND` if there is no such rule
   */
  async removeRule(name: unknown, now: number): Promise<AlertRule> {
    const rule = typeof name === 'string' ? this.#evaluator.get(name) : undefined;
    if (rule === undefined) throw new MonitorError(ErrorCode.NotFound, `no rule named ${describeValue(name)}`);
    const instances = this.#evaluator.remove(rule.name);
    this.#configRules.delete(rule.name);
    this.#opts.store.removeRule(rule.name);
    for (const instance of instances) {
      this.#opts.store.removeRuleState(instance.fingerprint);
      const alert = this.#firing.get(instance.fingerprint);
      if (alert !== undefined) await this.#resolve(alert, now);
    }
    return this.#done(rule);
  }

  listRules(): RuleStatus[] {
    return this.#evaluator.rules().map((rule) => ({
      rule,
      origin: this.#configRules.has(rule.name) ? 'config' : 'api',
      instances: this.#evaluator
        .instances(rule.name)
        .map((i) => ({ ...this.#convertState(i, (at) => this.#time.stampAt(at)), labels: { ...i.labels } })),
    }));
  }

  /**
   * Evaluates every rule now: transitions are persisted, alerts raised and resolved.
   * @param now the evaluation time (ms)
   */
  async evaluate(now: number): Promise<EvaluationSummary> {
    const { registry, derived, log } = this.#opts;
    const transitions = this.#evaluator.evaluate(
      now,
      (rule, match) => sampleRule(rule, match, registry, derived),
      (rule, err) => log.warn({ rule: rule.name, err: toError(err) }, 'alert rule could not read its metric'),
    );
    const summary: EvaluationSummary = {
      at: this.#time.stampAt(now),
      rules: this.#evaluator.rules().length,
      pending: 0,
      firing: 0,
      resolved: 0,
      inactive: 0,
    };
    for (const t of transitions) {
      summary[t.to]++;
      await this.#apply(t, now);
    }
    if (this.#unraised.size > 0) await this.#raiseUnraised(now);
    for (const instance of this.#evaluator.instances()) {
      const alert = this.#firing.get(instance.fingerprint);
      if (alert !== undefined && instance.lastTrueAt === now) {
        // The text follows the value (`{{ $value }}` rendered again), in memory: the next
        // notification or Alertmanager re-send carries it; a restart renders it again.
        const fields = ruleAlertFields(this.#evaluator.get(instance.rule)!, instance);
        alert.value = instance.value;
        alert.message = fields.message;
        alert.annotations = fields.annotations;
        alert.lastSeenAt = this.#time.stampAt(now);
      }
    }
    return this.#done(summary);
  }

  async #apply(t: Transition, now: number): Promise<void> {
    const store = this.#opts.store;
    switch (t.to) {
      case 'pending': {
        store.saveRuleState(this.#convertState(t.instance, (at) => this.#time.stampAt(at)));
        return;
      }
      case 'firing':
        store.saveRuleState(this.#convertState(t.instance, (at) => this.#time.stampAt(at)));
        if ((await this.#raise(ruleAlertFields(t.rule, t.instance), now)) === undefined)
          this.#unraised.add(t.instance.fingerprint);
        return;
      case 'inactive': {
        store.removeRuleState(t.instance.fingerprint);
        return;
      }
      case 'resolved': {
        this.#unraised.delete(t.instance.fingerprint);
        store.removeRuleState(t.instance.fingerprint);
        const alert = this.#firing.get(t.instance.fingerprint);
        if (alert !== undefined) await this.#resolve(alert, now);
        return;
      }
    }
  }

  // ------------------------------------------------------------------------------ silences

  /**
   * Adds a silence; it takes effect at once (an alert it matches is not notified until it ends).
   * @throws {MonitorError} `EMON_INVALID_SILENCE`, `EMON_ALERT_LIMIT`
   */
  async addSilence(input: unknown, now: number): Promise<Silence> {
    if (this.#silences.size >= MAX_SILENCES) {
      throw new MonitorError(ErrorCode.AlertLimit, `too many silences (${MAX_SILENCES}); expire some first`);
    }
    // A user's times are wall times: checked against the wall clock as it reads, compared as steady times.
    const wallNow = this.#time.wallAt(now);
    let silence = checkSilence(input, wallNow, this.#seq++);
    while (this.#silences.get(silence.id) !== undefined) silence = checkSilence(input, wallNow, this.#seq++);
    this.#opts.store.saveSilence(silence);
    this.#silences.put(silence, this.#steadySpan(silence));
    return this.#done(silence);
  }

  listSilences(now: number): SilenceView[] {
    return this.#silences
      .all()
      .map((s) => ({ ...s, state: this.#silences.state(s.id, now)! }))
      .sort((a, b) => a.startsAt - b.startsAt);
  }

  /**
   * Ends a silence now (an expired one is returned as it is).
   * @throws {MonitorError} `EMON_NOT_FOUND` if there is no such silence
   */
  async expireSilence(id: unknown, now: number): Promise<Silence> {
    const silence = typeof id === 'string' ? this.#silences.get(id) : undefined;
    if (silence === undefined) throw new MonitorError(ErrorCode.NotFound, `no silence with id ${describeValue(id)}`);
    if (this.#silences.state(silence.id, now) === 'expired') return silence;
    const span = this.#silences.steadySpan(silence.id)!;
    const wallNow = this.#time.wallAt(now);
    const expired: Silence = { ...silence, endsAt: wallNow, startsAt: Math.min(silence.startsAt, wallNow) };
    this.#opts.store.saveSilence(expired);
    this.#silences.put(expired, { endsAt: now, startsAt: Math.min(span.startsAt, now) });
    await this.tick(now);
    return expired;
  }

  // ------------------------------------------------------------------------------ time

  /**
   * The periodic pass: due notifications (held-back firing ones whose silence or suppression has
   * ended, escalation re-notifies, resolved ones not yet queued), and cleanup of resolved alerts
   * older than `alert_timeout`, silences expired longer than that, and stale suppression marks.
   */
  async tick(now: number): Promise<void> {
    const { config, store } = this.#opts;
    for (const alert of [...this.#alerts.values()]) {
      if (alert.status === 'resolved' && now - this.#steadyTimes(alert).resolvedAt! > config.alert_timeout) {
        this.#forget(alert);
      } else if (this.#mayBeDue(alert, now)) {
        await this.#review(alert, now);
      }
    }
    for (const silence of this.#silences.expiredBefore(now, config.alert_timeout)) {
      this.#silences.delete(silence.id);
      store.removeSilence(silence.id);
    }
    for (const [fp, at] of [...this.#marks]) {
      if (now - at >= this.#router.suppressionMs && !this.#firing.has(fp)) {
        this.#marks.delete(fp);
        store.removeMark(fp);
      }
    }
    await this.commit();
  }

  // ------------------------------------------------------------------------------ internals

  /** A copy of a rule instance with its times converted (steady in the evaluator; stamps when stored or shown). */
  #convertState(state: InstanceState, convert: (at: number) => number): InstanceState {
    const out: InstanceState = {
      ...state,
      activeSince: convert(state.activeSince),
      lastTrueAt: convert(state.lastTrueAt),
    };
    if (state.firedAt !== undefined) out.firedAt = convert(state.firedAt);
    return out;
  }

  /** A silence's span on the steady timeline, by the wall clock's offset now. */
  #steadySpan(silence: Silence): { startsAt: number; endsAt: number } {
    return { startsAt: this.#time.steadyFromWall(silence.startsAt), endsAt: this.#time.steadyFromWall(silence.endsAt) };
  }

  /** The steady copies of `alert`'s times; an alert loaded from the store gets them from its (wall) times. */
  #steadyTimes(alert: Alert): { resolvedAt?: number; notifiedAt?: number } {
    let times = this.#steadyAt.get(alert);
    if (times === undefined) {
      const notified = alert.lastNotifiedAt ?? alert.notifiedAt;
      times = {};
      if (alert.resolvedAt !== undefined) times.resolvedAt = this.#time.steadyFromWall(alert.resolvedAt);
      if (notified !== undefined) times.notifiedAt = this.#time.steadyFromWall(notified);
      this.#steadyAt.set(alert, times);
    }
    return times;
  }

  /** Waits for the operation's writes (and any staged ones) to be durable, then returns its result. */
  async #done<T>(result: T): Promise<T> {
    await this.commit();
    return result;
  }

  /** Raises a new alert or refreshes the firing one with the same fingerprint, and reviews it; undefined at the limit. */
  async #raise(fields: AlertFields, now: number): Promise<Alert | undefined> {
    const admitted = this.#admit(fields, now);
    if (admitted !== undefined) await this.#review(admitted.alert, now, admitted.severityRaised);
    return admitted?.alert;
  }

  /**
   * The state change of `#raise`, without its review: the firing alert with this fingerprint,
   * refreshed, or a new one; undefined (counted and logged) when its kind's budget is full.
   */
  #admit(fields: AlertFields, now: number): { alert: Alert; severityRaised: boolean } | undefined {
    const existing = this.#firing.get(fields.fingerprint);
    if (existing !== undefined) {
      const raised = SEVERITIES.indexOf(fields.severity) > SEVERITIES.indexOf(existing.severity);
      const changed =
        existing.title !== fields.title ||
        existing.message !== fields.message ||
        JSON.stringify(existing.annotations) !== JSON.stringify(fields.annotations) ||
        existing.severity !== fields.severity ||
        (fields.value !== undefined && existing.value !== fields.value) ||
        (fields.threshold !== undefined && existing.threshold !== fields.threshold);
      existing.lastSeenAt = this.#time.stampAt(now);
      // The title names the severity (`ERROR Alert: …`): it follows a severity change with it.
      existing.title = fields.title;
      existing.message = fields.message;
      existing.annotations = fields.annotations;
      existing.severity = fields.severity;
      if (fields.value !== undefined) existing.value = fields.value;
      if (fields.threshold !== undefined) existing.threshold = fields.threshold;
      // A bare repeat only moves lastSeenAt, which is not worth a durable write per repeat.
      if (changed) this.#opts.store.saveAlert(existing);
      return { alert: existing, severityRaised: raised };
    }
    const kind = alertKind(fields.source);
    if (!this.#makeRoom(kind, now)) {
      this.#refuse(kind, fields);
      return undefined;
    }
    let id = stableId(fields.fingerprint, now, 0);
    for (let n = 1; this.#alerts.has(id); n++) id = stableId(fields.fingerprint, now, n);
    const at = this.#time.stampAt(now);
    const alert: Alert = {
      id,
      status: 'firing',
      startedAt: at,
      lastSeenAt: at,
      notifications: 0,
      channels: [],
      ...fields,
    };
    this.#steadyAt.set(alert, {});
    this.#opts.store.saveAlert(alert);
    this.#hold(alert);
    this.#firing.set(alert.fingerprint, alert);
    return { alert, severityRaised: false };
  }

  /**
   * Whether a new alert of `kind` fits: under budget, or once its oldest resolved alerts with
   * nothing left to send are dropped (more than one if the budget was lowered since they were stored).
   */
  #makeRoom(kind: AlertKind, now: number): boolean {
    const budget = this.#budgets[kind];
    for (const alert of budget.resolved.values()) {
      if (budget.held < budget.limit) break;
      if (!this.#mayBeDue(alert, now)) this.#forget(alert);
    }
    return budget.held < budget.limit && this.#hasRoom(kind);
  }

  #hasRoom(kind: AlertKind): true {
    const budget = this.#budgets[kind];
    if (budget.full) {
      budget.full = false;
      this.#opts.log.info(
        { kind, limit: budget.limit, held: budget.held },
        `alert limit: room again for ${kind} alerts`,
      );
    }
    return true;
  }

  #refuse(kind: AlertKind, fields: AlertFields): void {
    const budget = this.#budgets[kind];
    this.#opts.registry
      .counter(ALERTS_REFUSED_METRIC, {
        help: 'New alerts refused because their kind reached its alert_limits budget',
        labels: ['source'],
      })
      .inc({ source: kind });
    if (budget.full) return;
    budget.full = true;
    this.#opts.log.warn(
      { kind, source: fields.source, limit: budget.limit, held: budget.held },
      this.#limitError(kind).message,
    );
  }

  #limitError(kind: AlertKind): MonitorError {
    const budget = this.#budgets[kind];
    const waiting = budget.resolved.size;
    const held = `${budget.held - waiting} ${kind} alerts are active${waiting === 0 ? '' : ` and ${waiting} resolved ones still wait to send their resolved notification`}`;
    const clear =
      kind === 'manual'
        ? 'resolve or clear some (clearAlert(id): a cleared alert frees its place at once)'
        : 'resolve some';
    return new MonitorError(
      ErrorCode.AlertLimit,
      `${kind} alert limit reached: ${held}, the limit is ${budget.limit}; ${clear}, or raise alert_limits.${kind} in alerting.json`,
    );
  }

  /** Puts `alert` in the table and counts it against its kind's budget. */
  #hold(alert: Alert): void {
    const budget = this.#budgets[alertKind(alert.source)];
    this.#alerts.set(alert.id, alert);
    budget.held++;
    if (alert.status === 'resolved') budget.resolved.set(alert.id, alert);
  }

  /** Removes a resolved alert from the table and the store, freeing its place. */
  #forget(alert: Alert): void {
    const budget = this.#budgets[alertKind(alert.source)];
    if (!this.#alerts.delete(alert.id)) return;
    this.#opts.store.removeAlert(alert.id);
    budget.held--;
    budget.resolved.delete(alert.id);
  }

  /** Raises the rule alerts refused at the limit whose instance still fires, as far as there is room. */
  async #raiseUnraised(now: number): Promise<void> {
    const firing = new Map(
      this.#evaluator
        .instances()
        .filter((i) => i.state === 'firing')
        .map((i) => [i.fingerprint, i]),
    );
    for (const fp of [...this.#unraised]) {
      const instance = firing.get(fp);
      if (instance === undefined || this.#firing.has(fp)) {
        this.#unraised.delete(fp);
        continue;
      }
      if (this.#budgets.rule.full && !this.#makeRoom('rule', now)) return;
      if ((await this.#raise(ruleAlertFields(this.#evaluator.get(instance.rule)!, instance), now)) !== undefined)
        this.#unraised.delete(fp);
    }
  }

  async #resolve(alert: Alert, now: number): Promise<void> {
    alert.status = 'resolved';
    alert.resolvedAt = this.#time.stampAt(now);
    this.#steadyTimes(alert).resolvedAt = now;
    this.#firing.delete(alert.fingerprint);
    this.#budgets[alertKind(alert.source)].resolved.set(alert.id, alert);
    this.#opts.store.saveAlert(alert);
    await this.#review(alert, now);
  }

  /**
   * Sends what is due for `alert` now, if anything.
   * @param severityRaised the alert (already notified) just got more severe: re-notify it now, to
   *   its new severity's channels, instead of waiting for the escalation interval
   */
  async #review(alert: Alert, now: number, severityRaised = false): Promise<void> {
    if (!this.#opts.config.alert_enabled) return;
    if (!severityRaised && !this.#mayBeDue(alert, now)) return;
    const store = this.#opts.store;
    if (alert.status === 'resolved') {
      if (alert.channels.length === 0 || alert.resolvedNotifiedAt !== undefined) return;
      if (!(await this.#enqueue(alert, 'resolved', `${alert.id}:resolved`, alert.channels, now))) return;
      alert.resolvedNotifiedAt = this.#time.stampAt(now);
      store.saveAlert(alert);
      return;
    }
    const labels = { ...alert.labels, severity: alert.severity, source: alert.source };
    if (alert.notifiedAt === undefined) {
      if (this.#silences.silencing(labels, now) !== undefined) return;
      if (this.#router.suppressed(this.#marks.get(alert.fingerprint), now)) return;
      const channels = this.#router.firstChannels(alert.severity);
      if (channels.length > 0 && !(await this.#notified(alert, 'firing', `${alert.id}:firing`, channels, now))) return;
      alert.notifiedAt = this.#time.stampAt(now);
      alert.lastNotifiedAt = alert.notifiedAt;
      this.#steadyTimes(alert).notifiedAt = now;
      store.saveAlert(alert);
      return;
    }
    const escalation = this.#router.escalation(alert.severity);
    if (this.#silences.silencing(labels, now) !== undefined) return;
    const channels = union(this.#router.firstChannels(alert.severity), escalation?.channels ?? []);
    if (
      channels.length > 0 &&
      !(await this.#notified(alert, 'renotify', `${alert.id}:renotify:${alert.notifications}`, channels, now))
    ) {
      return;
    }
    alert.lastNotifiedAt = this.#time.stampAt(now);
    this.#steadyTimes(alert).notifiedAt = now;
    store.saveAlert(alert);
  }

  /**
   * Whether `#review` may have something to send for `alert` now: the cheap test the tick makes
   * for every alert, so a pass over thousands of quiet alerts allocates nothing.
   */
  #mayBeDue(alert: Alert, now: number): boolean {
    if (!this.#opts.config.alert_enabled) return false;
    if (alert.status === 'resolved') return alert.channels.length > 0 && alert.resolvedNotifiedAt === undefined;
    if (alert.notifiedAt === undefined) return true;
    const escalation = this.#router.escalation(alert.severity);
    return escalation !== undefined && now - this.#steadyTimes(alert).notifiedAt! >= escalation.intervalMs;
  }

  /** Enqueues a firing or re-notify notification and records it on the alert and in the marks. */
  async #notified(
    alert: Alert,
    reason: 'firing' | 'renotify',
    id: string,
    channels: ChannelName[],
    now: number,
  ): Promise<boolean> {
    if (!(await this.#enqueue(alert, reason, id, channels, now))) return false;
    alert.notifications++;
    alert.channels = union(alert.channels, channels);
    this.#marks.set(alert.fingerprint, now);
    this.#opts.store.markNotified(alert.fingerprint, this.#time.stampAt(now));
    return true;
  }

  /** The alert's address on the dashboard, when the dashboard's is known. */
  #link(alert: Alert): string | undefined {
    const { dashboardUrl } = this.#opts;
    const base = typeof dashboardUrl === 'function' ? dashboardUrl() : dashboardUrl;
    return base === undefined || base === ''
      ? undefined
      : `${base.replace(/\/+$/, '')}/#alert=${encodeURIComponent(alert.id)}`;
  }

  async #enqueue(
    alert: Alert,
    reason: Notification['reason'],
    id: string,
    channels: ChannelName[],
    now: number,
  ): Promise<boolean> {
    const notification: Notification = {
      id,
      reason,
      alert: toNotifiedAlert(alert, this.#link(alert)),
      createdAt: this.#time.stampAt(now),
    };
    try {
      await this.#opts.outbox.enqueue(notification, channels);
    } catch (err) {
      if (!this.#enqueueFailing)
        this.#opts.log.error(
          { notification: id, channels, err: toError(err) },
          'could not queue an alert notification; retrying at every tick',
        );
      this.#enqueueFailing = true;
      return false;
    }
    if (this.#enqueueFailing) this.#opts.log.warn({ notification: id }, 'alert notifications are queued again');
    this.#enqueueFailing = false;
    return true;
  }
}

/** The fields of an alert that its source decides. */
type AlertFields = Pick<
  Alert,
  'fingerprint' | 'severity' | 'title' | 'message' | 'source' | 'labels' | 'annotations'
> & {
  value?: number;
  threshold?: number;
};

function ruleAlertFields(rule: AlertRule, instance: InstanceState): AlertFields {
  const data = { value: instance.value, threshold: rule.threshold, labels: instance.labels };
  const annotations: Record<string, string> = {};
  for (const [name, text] of Object.entries(rule.annotations)) annotations[name] = renderTemplate(text, data);
  const { alertname: _name, ...seriesLabels } = instance.labels;
  const what =
    rule.stat !== 'p95' || rule.window !== '1m'
      ? `${rule.metric}${formatLabels(seriesLabels)} ${rule.stat}/${rule.window}`
      : `${rule.metric}${formatLabels(seriesLabels)}`;
  const measured = `${what} = ${formatNumber(instance.value)} ${conditionSymbol(rule.condition)} ${formatNumber(rule.threshold)}${rule.duration > 0 ? ` for ${rule.duration} ms` : ''}`;
  return {
    fingerprint: instance.fingerprint,
    severity: rule.severity,
    title: annotations.summary ?? alertTitle(rule.severity, rule.name),
    message: annotations.description ?? measured,
    source: `rule:${rule.name}`,
    labels: { ...instance.labels },
    annotations,
    value: instance.value,
    threshold: rule.threshold,
  };
}
