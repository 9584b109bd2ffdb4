/**
 * `alertingClient`: the alerting process's API as plain async methods (the source design's
 * `erlmcp_alerting:send_alert/2`, `get_active_alerts/0`, `clear_alert/1`, plus rules and
 * silences). Each method is one call to the process; errors reject with the process's
 * `MonitorError` (`EMON_INVALID_ALERT`, `EMON_INVALID_RULE`, `EMON_NOT_FOUND`, ...).
 */
import type { AlertingProtocol } from './alerting.js';
import type { DeadLetter } from '../src/notify/types.js';
import type { ServerRef } from '../src/otp/index.js';
import type { Alert } from '../src/alerts/alert.js';
import type { RuleStatus } from '../src/alerts/alert-engine.js';
import type { AlertRule, RuleInput } from '../src/alerts/rule.js';
import type { Severity } from '../src/alerts/severity.js';
import type { Silence, SilenceInput, SilenceView } from '../src/alerts/silences.js';

export interface AlertingClient {
  /** Raises an alert (or returns the firing one with the same severity, message and labels). */
  sendAlert(severity: Severity, message: string, labels?: Record<string, string>): Promise<Alert>;
  /** Firing alerts, most severe first. */
  getActiveAlerts(): Promise<Alert[]>;
  /** Resolves an alert by id. @throws {MonitorError} `EMON_NOT_FOUND` */
  clearAlert(id: string): Promise<Alert>;
  /** @throws {MonitorError} `EMON_INVALID_RULE` */
  addRule(rule: RuleInput): Promise<AlertRule>;
  /** @throws {MonitorError} `EMON_NOT_FOUND` */
  removeRule(name: string): Promise<AlertRule>;
  listRules(): Promise<RuleStatus[]>;
  /** @throws {MonitorError} `EMON_INVALID_SILENCE` */
  addSilence(silence: SilenceInput): Promise<Silence>;
  listSilences(): Promise<SilenceView[]>;
  /** @throws {MonitorError} `EMON_NOT_FOUND` */
  expireSilence(id: string): Promise<Silence>;
  /** Notifications that could not be delivered. */
  deadLetters(): Promise<DeadLetter[]>;
}

/**
 * Wraps a reference to the alerting process (a pid, or `system.ref(ALERTING_NAME)`).
 * @param ref the process
 * @param timeout ms each call may wait (default 5000)
 */
export function alertingClient(ref: ServerRef<AlertingProtocol>, timeout = 5000): AlertingClient {
  return {
    sendAlert: (severity, message, labels) =>
      ref.call({ type: 'send_alert', severity, message, ...(labels === undefined ? {} : { labels }) }, timeout),
    getActiveAlerts: () => ref.call({ type: 'get_active_alerts' }, timeout),
    clearAlert: (id) => ref.call({ type: 'clear_alert', id }, timeout),
    addRule: (rule) => ref.call({ type: 'add_rule', rule }, timeout),
    removeRule: (name) => ref.call({ type: 'remove_rule', name }, timeout),
    listRules: () => ref.call({ type: 'list_rules' }, timeout),
    // `type` last: a `type` key in the silence must not turn the call into another one.
    addSilence: (silence) => ref.call({ ...silence, type: 'add_silence' }, timeout),
    listSilences: () => ref.call({ type: 'list_silences' }, timeout),
    expireSilence: (id) => ref.call({ type: 'expire_silence', id }, timeout),
    deadLetters: () => ref.call({ type: 'dead_letters' }, timeout),
  };
}
