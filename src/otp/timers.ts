/**
 * Timers owned by one process incarnation (erlang:send_after and timer:send_interval). Each timer
 * delivers an info message to its owner's mailbox. `cancelAll` runs when the incarnation exits, so
 * a restarted server never receives a message scheduled by its predecessor: the predecessor's
 * timers are cleared, and a message already in flight is checked against the owner's liveness on
 * delivery.
 *
 * Interval ticks are coalesced: while one tick is still waiting in the mailbox, the next is
 * skipped, so a server slower than its interval gets a bounded mailbox instead of a growing one.
 */
import { ErrorCode, MonitorError } from '../errors.js';

declare const timerRef: unique symbol;

/** Opaque handle returned by `sendAfter`/`interval`, accepted by `cancel`. */
export class TimerRef {
  /** Type-only brand: no other object is a TimerRef. */
  declare readonly [timerRef]: true;
}

/** Node's setTimeout clamps anything above this to 1 ms; we reject it instead. */
const MAX_DELAY = 2 ** 31 - 1;

/** Delivers `msg`; `onHandled` is called when the owner starts handling it (used to coalesce). */
export type Deliver<M> = (msg: M, onHandled?: () => void) => void;

export class TimerSet<M> {
  readonly #timers = new Map<TimerRef, NodeJS.Timeout>();
  readonly #deliver: Deliver<M>;
  #closed = false;

  constructor(deliver: Deliver<M>) {
    this.#deliver = deliver;
  }

  /** Number of live timers (one-shot not yet fired, and intervals). */
  get size(): number {
    return this.#timers.size;
  }

  /**
   * Delivers `msg` once after `ms` milliseconds.
   * @throws {MonitorError} `EMON_INVALID_TIMER` if `ms` is not an integer-valued delay in 0..2^31-1
   */
  sendAfter(ms: number, msg: M): TimerRef {
    checkDelay('sendAfter', ms);
    const ref = new TimerRef();
    if (this.#closed) return ref;
    const handle = setTimeout(() => {
      this.#timers.delete(ref);
      this.#deliver(msg);
    }, ms);
    this.#timers.set(ref, handle);
    return ref;
  }

  /**
   * Delivers `msg` every `ms` milliseconds until cancelled, skipping a tick while the previous
   * one has not been handled yet.
   * @throws {MonitorError} `EMON_INVALID_TIMER` if `ms` is not a delay in 1..2^31-1
   */
  interval(ms: number, msg: M): TimerRef {
    checkDelay('interval', ms);
    if (ms < 1) throw new MonitorError(ErrorCode.InvalidTimer, `interval: delay must be at least 1 ms, got ${ms}`);
    const ref = new TimerRef();
    if (this.#closed) return ref;
    let waiting = false;
    const handled = () => {
      waiting = false;
    };
    const handle = setInterval(() => {
      if (waiting) return;
      waiting = true;
      this.#deliver(msg, handled);
    }, ms);
    this.#timers.set(ref, handle);
    return ref;
  }

  /** Cancels one timer. Returns false if it had already fired or been cancelled. */
  cancel(ref: TimerRef): boolean {
    const handle = this.#timers.get(ref);
    if (handle === undefined) return false;
    clearTimeout(handle);
    this.#timers.delete(ref);
    return true;
  }

  /** Cancels every timer and refuses new ones: the owner incarnation is gone. */
  cancelAll(): void {
    this.#closed = true;
    for (const handle of this.#timers.values()) clearTimeout(handle);
    this.#timers.clear();
  }
}

function checkDelay(fn: string, ms: number): void {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_DELAY) {
    throw new MonitorError(
      ErrorCode.InvalidTimer,
      `${fn}: delay must be a finite number of milliseconds in 0..${MAX_DELAY}, got ${String(ms)}`,
    );
  }
}
