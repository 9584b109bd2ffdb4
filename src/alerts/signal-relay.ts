/**
 * `SignalRelay`: carries alert signals from the processes that watch conditions (the performance
 * monitor) to the alerting process, across alerting's restarts.
 *
 * Senders report only transitions, so a signal cast while alerting is down (restarting after a
 * crash, or not started yet) would be lost and its alert would never fire, or never resolve. The
 * relay is owned by the tree (like the metric table) and keeps the newest signal of each
 * condition; when an alerting incarnation attaches, it replays them all. Replaying is harmless:
 * alerting deduplicates a `firing` for an alert already firing, and a `resolved` for one that is
 * not firing does nothing. Entries are bounded by the number of distinct conditions (a few per
 * threshold, SLA and SLO), capped at {@link MAX_RELAYED_CONDITIONS}.
 */
import type { AlertSignal } from './signal.js';

/** Conditions remembered at most; past it the oldest resolved ones are forgotten first. */
export const MAX_RELAYED_CONDITIONS = 10_000;

export class SignalRelay {
  readonly #latest = new Map<string, AlertSignal>();
  #deliver: ((signal: AlertSignal) => void) | undefined;

  /** Records `signal` as its condition's newest state and delivers it if alerting is attached. */
  send(signal: AlertSignal): void {
    const id = identity(signal);
    this.#latest.delete(id); // re-insert: Map order is then oldest change first
    this.#latest.set(id, signal);
    if (this.#latest.size > MAX_RELAYED_CONDITIONS) this.#evictOne();
    this.#deliver?.(signal);
  }

  /**
   * Makes `deliver` the receiver (an alerting incarnation) and replays every remembered signal to
   * it, oldest change first. Returns a function that detaches it (if it is still the receiver).
   */
  attach(deliver: (signal: AlertSignal) => void): () => void {
    this.#deliver = deliver;
    for (const signal of this.#latest.values()) deliver(signal);
    return () => {
      if (this.#deliver === deliver) this.#deliver = undefined;
    };
  }

  /** How many conditions are remembered. */
  get size(): number {
    return this.#latest.size;
  }

  #evictOne(): void {
    for (const [id, signal] of this.#latest) {
      if (signal.state === 'resolved') {
        this.#latest.delete(id);
        return;
      }
    }
    const oldest = this.#latest.keys().next().value;
    if (oldest !== undefined) this.#latest.delete(oldest);
  }
}

function identity(signal: AlertSignal): string {
  const labels = Object.entries(signal.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([signal.source, signal.key, labels]);
}
