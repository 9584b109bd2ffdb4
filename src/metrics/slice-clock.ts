/**
 * A coarse clock for sliding-window metrics: the number of the current fixed slice (10 s by
 * default), `Math.floor(nowMs / sliceMs)`.
 *
 * It never reads the time itself: its owner calls `tick(Date.now())`, so the hot path never pays
 * for `Date.now()` and tests drive windows deterministically. It never moves backwards (an NTP step
 * back keeps the current slice), so slots holding data are not reused early. Details:
 * docs/design-notes.md.
 */
import { ErrorCode, MonitorError, describeValue } from '../errors.js';

export class SliceClock {
  /** Length of one slice in milliseconds. */
  readonly sliceMs: number;
  #slice: number;

  /**
   * @param sliceMs length of one slice in ms (default 10,000)
   * @param nowMs the current time in ms (default `Date.now()`)
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `sliceMs` is not a positive integer or `nowMs` is not finite
   */
  constructor(sliceMs = 10_000, nowMs = Date.now()) {
    if (!Number.isSafeInteger(sliceMs) || sliceMs <= 0) {
      throw new MonitorError(
        ErrorCode.InvalidOption,
        `invalid sliceMs: ${describeValue(sliceMs)} (expected a positive integer number of milliseconds)`,
      );
    }
    this.sliceMs = sliceMs;
    this.#slice = sliceOf(nowMs, sliceMs);
  }

  /** Number of the current slice, `Math.floor(nowMs / sliceMs)` as of the last `tick`. */
  get slice(): number {
    return this.#slice;
  }

  /**
   * Advances the clock to the slice containing `nowMs`. A time in an earlier slice is ignored.
   * @throws {MonitorError} `EMON_INVALID_OPTION` if `nowMs` is not a finite number
   */
  tick(nowMs: number): void {
    const slice = sliceOf(nowMs, this.sliceMs);
    if (slice > this.#slice) this.#slice = slice;
  }
}

function sliceOf(nowMs: number, sliceMs: number): number {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `invalid nowMs: ${describeValue(nowMs)} (expected a finite time in milliseconds)`,
    );
  }
  return Math.floor(nowMs / sliceMs);
}
