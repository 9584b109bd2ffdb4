/**
 * Who hears about an alert, and when again. The first notification of an alert goes to the
 * channels `routing` gives its severity (the source's table: critical → email, sms, slack;
 * error → email, slack; warning → slack; info → none). While it keeps firing, every `interval`
 * seconds of its severity's `escalation_policy` it is notified again, to the routed channels plus
 * the policy's: the re-notify widens the set. A severity the policy leaves out is not re-notified.
 * Only channels `enabled` in config are ever used.
 *
 * The `alertmanager` channel, when enabled, gets every alert's first notification whatever
 * `routing` says: Alertmanager does its own routing, grouping and repeating, so the table is for
 * the direct channels (it re-sends firing alerts itself; see `AlertmanagerChannel`).
 *
 * Suppression (`suppression_enabled`): a new firing notification of a fingerprint is held back
 * while the last notification of that fingerprint is less than `suppression_window` ms old, so an
 * alert that resolves and fires again (a flap), or an API alert sent again after it was cleared,
 * does not notify twice. It does not hold back escalation re-notifies, which the policy asks for.
 */
import type { AlertingConfig } from '../config/schema.js';
import type { ChannelName } from '../notify/types.js';
import type { Severity } from './severity.js';

export interface Escalation {
  channels: ChannelName[];
  intervalMs: number;
}

export class Router {
  readonly #first = new Map<Severity, ChannelName[]>();
  readonly #escalation = new Map<Severity, Escalation>();
  readonly #suppressionMs: number | undefined;

  /** @param config the validated alerting config */
  constructor(config: AlertingConfig) {
    const enabled = (names: readonly ChannelName[]): ChannelName[] => names.filter((name) => config.channels[name].enabled);
    for (const severity of config.severity_levels) {
      const routed = enabled(config.routing[severity]);
      const first = config.channels.alertmanager.enabled ? union(routed, ['alertmanager']) : routed;
      this.#first.set(severity, first);
      const step = config.escalation_policy[severity];
      if (step !== undefined) {
        this.#escalation.set(severity, { channels: union(first, enabled(step.channels)), intervalMs: step.interval * 1000 });
      }
    }
    this.#suppressionMs = config.suppression_enabled ? config.suppression_window : undefined;
  }

  /** The channels of an alert's first notification (maybe none). */
  firstChannels(severity: Severity): ChannelName[] {
    return this.#first.get(severity) ?? [];
  }

  /** The re-notify channels and interval of `severity`, or undefined when it is not escalated. */
  escalation(severity: Severity): Escalation | undefined {
    return this.#escalation.get(severity);
  }

  /** Whether a firing notification is held back, given when the fingerprint was last notified. */
  suppressed(lastNotifiedAt: number | undefined, now: number): boolean {
    return this.#suppressionMs !== undefined && lastNotifiedAt !== undefined && now - lastNotifiedAt < this.#suppressionMs;
  }

  /** How long suppression marks must be kept (0 when suppression is off). */
  get suppressionMs(): number {
    return this.#suppressionMs ?? 0;
  }
}

/** `a` then the members of `b` not in it. */
export function union(a: readonly ChannelName[], b: readonly ChannelName[]): ChannelName[] {
  return [...a, ...b.filter((name) => !a.includes(name))];
}
