/**
 * Who hears about an alert, and when again: the first notification goes to the channels `routing`
 * gives its severity; while it fires, each `escalation_policy` interval re-notifies the routed channels
 * plus the policy's. The `alertmanager` channel gets every alert whatever `routing` says (Alertmanager
 * routes itself). Suppression holds back a new firing notification of a fingerprint notified less than
 * `suppression_window` ago (a flap), never an escalation. Only channels `enabled` in config are used.
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
    const enabled = (names: readonly ChannelName[]): ChannelName[] =>
      names.filter((name) => config.channels[name].enabled);
    for (const severity of config.severity_levels) {
      const routed = enabled(config.routing[severity]);
      const first = config.channels.alertmanager.enabled ? union(routed, ['alertmanager']) : routed;
      this.#first.set(severity, first);
      const step = config.escalation_policy[severity];
      if (step !== undefined) {
        this.#escalation.set(severity, {
          channels: union(first, enabled(step.channels)),
          intervalMs: step.interval * 1000,
        });
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
    return (
      this.#suppressionMs !== undefined && lastNotifiedAt !== undefined && now - lastNotifiedAt < this.#suppressionMs
    );
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
