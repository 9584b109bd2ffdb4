/**
 * `FiringAlerts`: lets a channel read a firing alert's latest state, across alerting's restarts.
 * The Alertmanager channel re-sends firing alerts on its own timer; what it was handed at the
 * notification carries the value of that moment, so it asks here for the current one. Owned by the
 * tree (like the signal relay): each alerting incarnation attaches its engine at init and detaches
 * at terminate; while none is attached, `get` answers undefined and the channel re-sends what it has.
 */
import type { NotifiedAlert } from '../notify/types.js';

export type FiringLookup = (fingerprint: string) => NotifiedAlert | undefined;

export class FiringAlerts {
  #lookup: FiringLookup | undefined;

  /** Makes `lookup` the source of `get`; returns its detach function. */
  attach(lookup: FiringLookup): () => void {
    this.#lookup = lookup;
    return () => {
      if (this.#lookup === lookup) this.#lookup = undefined;
    };
  }

  /** The firing alert with this fingerprint, as channels see it, or undefined. */
  get(fingerprint: string): NotifiedAlert | undefined {
    return this.#lookup?.(fingerprint);
  }
}
