/**
 * erlmcp_alerting: alerts, rules, silences and notifications, as a gen_server; the logic lives in
 * `AlertEngine` (src/alerts), these are its callbacks. Loops: rules every `check_interval`; due
 * notifications and expiry every second. State that must survive a restart is in the store and is
 * loaded by `init`. A failed write never crashes it (kept in memory, retried with backoff, `/health`
 * says `degraded`). `send_alert` is staged and committed per mailbox batch (one transaction for a
 * burst); each caller is answered when that commit is durable. Details: docs/design-notes.md.
 */
import { type Alert, toAlertView } from '../src/alerts/alert.js';
import { AlertEngine, type EvaluationSummary, type RuleStatus } from '../src/alerts/alert-engine.js';
import { AlertStore } from '../src/alerts/alert-store.js';
import type { FiringAlerts } from '../src/alerts/firing-alerts.js';
import type { AlertRule, RuleInput } from '../src/alerts/rule.js';
import type { Severity } from '../src/alerts/severity.js';
import type { AlertSignal } from '../src/alerts/signal.js';
import type { SignalRelay } from '../src/alerts/signal-relay.js';
import type { Silence, SilenceInput, SilenceView } from '../src/alerts/silences.js';
import type { AlertingConfig } from '../src/config/schema.js';
import { ErrorCode, MonitorError, toError } from '../src/errors.js';
import type { DerivedValues } from '../src/metrics/derived-values.js';
import type { Registry } from '../src/metrics/registry.js';
import type { DeadLetter, OutboxPort } from '../src/notify/types.js';
import type { AlertView } from '../src/server/protocol.js';
import type { Behaviour, MessageSchema, Pid, ServerContext } from '../src/otp/index.js';
import type { MetricStore } from '../src/store/lmdb-store.js';
import { WriteOutage } from '../src/store/write-outage.js';
import { MonitorClock } from '../src/clock.js';

export const ALERTING_NAME = 'erlmcp_alerting';

export { toAlertView };

export interface AlertingProtocol {
  call:
    | { type: 'send_alert'; severity: Severity; message: string; labels?: Record<string, string> }
    | { type: 'get_active_alerts' }
    | { type: 'get_alerts' }
    | { type: 'alert_views' }
    | { type: 'clear_alert'; id: string }
    | { type: 'add_rule'; rule: RuleInput }
    | { type: 'list_rules' }
    | { type: 'remove_rule'; name: string }
    | ({ type: 'add_silence' } & SilenceInput)
    | { type: 'list_silences' }
    | { type: 'expire_silence'; id: string }
    | { type: 'dead_letters' }
    | { type: 'evaluate' };
  replies: {
    /** The alert raised, or the firing one it duplicates. */
    send_alert: Alert;
    /** Firing alerts, most severe first. */
    get_active_alerts: Alert[];
    /** Firing alerts and resolved ones not yet cleaned up. */
    get_alerts: Alert[];
    /** The dashboard's view: pending rule instances, then firing alerts. */
    alert_views: AlertView[];
    /** The alert, now resolved. */
    clear_alert: Alert;
    add_rule: AlertRule;
    list_rules: RuleStatus[];
    /** The rule removed. */
    remove_rule: AlertRule;
    add_silence: Silence;
    list_silences: SilenceView[];
    expire_silence: Silence;
    dead_letters: DeadLetter[];
    /** Evaluates every rule now and runs the notification pass (for tests and tools). */
    evaluate: EvaluationSummary;
  };
  cast:
    | { type: 'signal'; signal: AlertSignal }
    | { type: 'send_alert'; severity: Severity; message: string; labels?: Record<string, string> };
  info: { type: 'evaluate' } | { type: 'tick' } | { type: 'commit' };
}

export type AlertingPid = Pid<AlertingProtocol>;

export interface AlertingArgs {
  /** The metric table rules read. */
  registry: Registry;
  /** The LMDB store whose record collections keep alerts, rules, silences. */
  store: MetricStore;
  config: AlertingConfig;
  /** Values the performance monitor derives (`latency.p95`, ...), which rules may read. */
  derived: DerivedValues;
  /** Where notifications go (the persistent outbox). */
  outbox: OutboxPort;
  /** Rules from configuration (not persisted; they win over `add_rule` rules of the same name). */
  rules?: RuleInput[];
  /**
   * The tree's clock (default: the system clocks). Alerting runs on its monotonic timeline
   * (`steadyMs`: the wall time at the tree's start plus monotonic elapsed time): keep-firing,
   * `for`, suppression, escalation, timeouts and silences measure elapsed time, so a wall-clock
   * step neither holds an alert nor ends one early. A silence given in wall-clock times is kept on
   * that timeline too: after a step it lasts the time it was set for.
   */
  clock?: MonitorClock;
  /** The dashboard's address, or a function giving it once it listens; notifications link to their alert there. */
  dashboardUrl?: string | (() => string | undefined);
  /** Where channels read firing alerts' latest state (each incarnation attaches its engine). */
  firing?: FiringAlerts;
  /**
   * Signals from the tree's watchers. Each incarnation attaches at init and gets every
   * condition's newest state replayed, so a transition sent while alerting was down is not lost.
   */
  signals?: SignalRelay;
}

interface State {
  engine: AlertEngine;
  /** Where the engine's writes go; flushed once more at stop. */
  store: AlertStore;
  /** Detaches this incarnation from the signal relay. */
  detach: () => void;
  now: () => number;
  /** Distinct refused-cast messages already logged (bounded). */
  logged: Set<string>;
}

/** Distinct bad-cast messages logged before going quiet. */
const MAX_LOGGED_REJECTIONS = 20;
/** The notification pass runs at least this often, so escalations are at most a second late. */
const TICK_MS = 1000;

const SEND_ALERT = { severity: 'required', message: 'required', labels: 'optional' } as const;

/** What alerting accepts; the gen_server layer refuses anything else. */
export const ALERTING_MESSAGES = {
  call: {
    send_alert: SEND_ALERT,
    get_active_alerts: {},
    get_alerts: {},
    alert_views: {},
    clear_alert: { id: 'required' },
    add_rule: { rule: 'required' },
    list_rules: {},
    remove_rule: { name: 'required' },
    // The silence's own fields are checked (missing and unknown keys too) by checkSilence.
    add_silence: 'any',
    list_silences: {},
    expire_silence: { id: 'required' },
    dead_letters: {},
    evaluate: {},
  },
  cast: { signal: { signal: 'required' }, send_alert: SEND_ALERT },
  info: { evaluate: {}, tick: {}, commit: {} },
} as const satisfies MessageSchema<AlertingProtocol>;

/** Stages a send_alert; the first of a batch schedules the batch's commit behind what is already queued. */
function stageAlert(
  state: State,
  ctx: ServerContext<AlertingProtocol>,
  msg: { severity: unknown; message: unknown; labels?: unknown },
  now: number,
): Alert {
  const opening = !state.engine.staged;
  const alert = state.engine.stageAlert(msg.severity, msg.message, msg.labels, now);
  if (opening) ctx.self.send({ type: 'commit' });
  return alert;
}

function refuse(state: State, err: unknown, ctx: ServerContext<AlertingProtocol>): void {
  const error = toError(err);
  if (state.logged.size < MAX_LOGGED_REJECTIONS && !state.logged.has(error.message)) {
    state.logged.add(error.message);
    ctx.log.warn({ err: error }, 'alerting message refused');
  }
}

export const alerting: Behaviour<State, AlertingProtocol, AlertingArgs> = {
  name: 'alerting',
  messages: ALERTING_MESSAGES,

  async init(args, ctx) {
    const clock = args.clock ?? new MonitorClock();
    const now = () => clock.steadyMs();
    const tick = Math.min(TICK_MS, args.config.check_interval);
    const outage = new WriteOutage({
      registry: args.registry,
      log: ctx.log,
      what: 'alert records',
      now,
      retryMs: tick,
      maxRetryMs: 8 * tick,
    });
    const store = new AlertStore(args.store, outage);
    const engine = await AlertEngine.open(
      {
        registry: args.registry,
        derived: args.derived,
        config: args.config,
        store,
        outbox: args.outbox,
        log: ctx.log,
        timeline: clock,
        ...(args.dashboardUrl === undefined ? {} : { dashboardUrl: args.dashboardUrl }),
      },
      args.rules ?? [],
      now(),
    );
    if (args.config.alert_enabled) ctx.interval(args.config.check_interval, { type: 'evaluate' });
    ctx.interval(tick, { type: 'tick' });
    // Replayed signals arrive as casts, after init, in the order they changed.
    const detachSignals =
      args.signals?.attach((signal) => ctx.self.cast({ type: 'signal', signal })) ?? (() => undefined);
    const detachFiring = args.firing?.attach((fingerprint) => engine.firingNotified(fingerprint)) ?? (() => undefined);
    const detach = () => {
      detachSignals();
      detachFiring();
    };
    return { engine, store, detach, now, logged: new Set() };
  },

  async handleCall(msg, state, ctx) {
    const { engine } = state;
    const now = state.now();
    try {
      if (msg.type === 'send_alert') {
        const alert = stageAlert(state, ctx, msg, now);
        return { defer: engine.committed().then(() => alert), state };
      }
      if (engine.staged) await engine.commit();
      switch (msg.type) {
        case 'get_active_alerts':
          return { reply: engine.activeAlerts(), state };
        case 'get_alerts':
          return { reply: engine.allAlerts(), state };
        case 'alert_views':
          return { reply: engine.alertViews(), state };
        case 'clear_alert':
          return { reply: await engine.clearAlert(msg.id, now), state };
        case 'add_rule':
          return { reply: await engine.addRule(msg.rule), state };
        case 'list_rules':
          return { reply: engine.listRules(), state };
        case 'remove_rule':
          return { reply: await engine.removeRule(msg.name, now), state };
        case 'add_silence': {
          const { type: _t, ...input } = msg;
          return { reply: await engine.addSilence(input, now), state };
        }
        case 'list_silences':
          return { reply: engine.listSilences(now), state };
        case 'expire_silence':
          return { reply: await engine.expireSilence(msg.id, now), state };
        case 'dead_letters':
          return { reply: engine.deadLetters(), state };
        case 'evaluate': {
          const summary = await engine.evaluate(now);
          await engine.tick(now);
          return { reply: summary, state };
        }
      }
    } catch (err) {
      if (err instanceof MonitorError && err.code !== ErrorCode.StoreFailed) return { error: err, state };
      throw err;
    }
  },

  async handleCast(msg, state, ctx) {
    const now = state.now();
    try {
      switch (msg.type) {
        case 'signal':
          if (state.engine.staged) await state.engine.commit();
          await state.engine.signal(msg.signal, now);
          break;
        case 'send_alert':
          stageAlert(state, ctx, msg, now);
          break;
      }
    } catch (err) {
      if (!(err instanceof MonitorError) || err.code === ErrorCode.StoreFailed) throw err;
      refuse(state, err, ctx);
    }
    return { state };
  },

  refusedCast(error, state, ctx) {
    refuse(state, error, ctx);
  },

  async handleInfo(msg, state) {
    const now = state.now();
    if (state.engine.staged) await state.engine.commit();
    switch (msg.type) {
      case 'commit':
        return { state };
      case 'evaluate':
        await state.engine.evaluate(now);
        await state.engine.tick(now);
        return { state };
      case 'tick':
        await state.engine.tick(now);
        return { state };
    }
  },

  async terminate(_reason, state, ctx) {
    state.detach();
    try {
      await state.store.flush(true);
    } catch (err) {
      ctx.log.error({ err: toError(err) }, 'last write of alert records failed');
    }
    if (state.store.unwritten > 0)
      ctx.log.error({ unwritten: state.store.unwritten }, 'alert records not written at stop: the store kept failing');
  },

  onKill(_reason, state) {
    state.detach();
  },
};
