/**
 * AlertState: which conditions a sender currently reports as firing, and at what severity, so it
 * acts only on a transition (fired, resolved, or a change of severity) rather than at every check.
 * The performance monitor restores it from its last stored report after a restart, so a condition
 * that cleared while the monitor was down still resolves.
 */
import type { Severity } from '../alerts/severity.js';

/** How a condition's firing state moved at one update. */
export type FiringChange = 'fired' | 'resolved' | 'changed';

export class AlertState {
  readonly #firing = new Map<string, Severity>();

  /** @param firing conditions known to be firing already (key → severity) */
  constructor(firing: Iterable<[string, Severity]> = []) {
    for (const [key, severity] of firing) this.#firing.set(key, severity);
  }

  /**
   * Records the condition `key` as firing at `severity` (or not firing when `severity` is
   * undefined).
   * @returns the change, or undefined when nothing changed
   */
  update(key: string, severity: Severity | undefined): FiringChange | undefined {
    const before = this.#firing.get(key);
    if (severity === undefined) {
      if (before === undefined) return undefined;
      this.#firing.delete(key);
      return 'resolved';
    }
    if (before === severity) return undefined;
    this.#firing.set(key, severity);
    return before === undefined ? 'fired' : 'changed';
  }

  /** The severity `key` fires at, or undefined when it is not firing. */
  severityOf(key: string): Severity | undefined {
    return this.#firing.get(key);
  }

  /** Every firing condition, key → severity. */
  snapshot(): Record<string, Severity> {
    return Object.fromEntries(this.#firing);
  }
}
