/**
 * `WriteOutage`: what a process that writes to the store keeps while its writes fail (a full
 * disk, an I/O error), shared by the collector, alerting and the performance monitor: the
 * failure counted in `monitor.store.write_failures{reason}`, one log line when writes start
 * failing and one when they recover (per process, not per write), and a bounded backoff that
 * says when the next attempt is due.
 */
import type { Logger } from '../logger.js';
import type { Registry } from '../metrics/registry.js';
import { failureReason } from './commit-guard.js';

/** Counts writes to the store that failed, by reason (`ENOSPC`, `EIO`, ..., `other`). */
export const WRITE_FAILURES_METRIC = 'monitor.store.write_failures';

/**
 * Counts one failed write in {@link WRITE_FAILURES_METRIC}.
 * @returns the reason label it was counted under
 */
export function countWriteFailure(registry: Registry | undefined, err: unknown): string {
  const reason = failureReason(err);
  try {
    registry
      ?.counter(WRITE_FAILURES_METRIC, { help: 'Writes to the metric store that failed', labels: ['reason'] })
      .inc({ reason });
  } catch {
    // The host declared this name as another metric: the failure is still logged.
  }
  return reason;
}

export interface WriteOutageOptions {
  /** Where failures are counted (none: only logged). */
  registry: Registry | undefined;
  log: Logger;
  /** What fails, for the log lines (`alert records`, `performance history`). */
  what: string;
  /** Monotonic ms. */
  now: () => number;
  /** First wait after a failure; doubles per failure up to `maxRetryMs`. */
  retryMs: number;
  maxRetryMs: number;
}

export class WriteOutage {
  readonly #o: WriteOutageOptions;
  #since: number | undefined;
  #failures = 0;
  #backoffMs = 0;
  #retryAt = 0;

  constructor(options: WriteOutageOptions) {
    this.#o = options;
  }

  /** Whether writes are failing now. */
  get failing(): boolean {
    return this.#since !== undefined;
  }

  /** Failed writes in this outage (0 when none). */
  get failures(): number {
    return this.#failures;
  }

  /** Whether a write may be tried now: always when not failing, else once the backoff has passed. */
  due(): boolean {
    return this.#since === undefined || this.#o.now() >= this.#retryAt;
  }

  /** Counts a failed write and backs off; the first of an outage is logged (with `fields`). */
  failed(err: unknown, fields: object = {}): void {
    const reason = countWriteFailure(this.#o.registry, err);
    const now = this.#o.now();
    this.#failures++;
    if (this.#since === undefined) {
      this.#since = now;
      this.#backoffMs = this.#o.retryMs;
      this.#o.log.error(
        { err, reason, ...fields },
        `${this.#o.what}: store writes are failing: the state is kept in memory and written again once writes commit`,
      );
    } else {
      this.#backoffMs = Math.min(this.#o.maxRetryMs, this.#backoffMs * 2);
    }
    this.#retryAt = now + this.#backoffMs;
  }

  /** Ends an outage (a write committed); logged once with how long it lasted. */
  succeeded(fields: object = {}): void {
    if (this.#since === undefined) return;
    this.#o.log.warn(
      { failedWrites: this.#failures, downMs: Math.round(this.#o.now() - this.#since), ...fields },
      `${this.#o.what}: store writes recovered`,
    );
    this.#since = undefined;
    this.#failures = 0;
  }
}
