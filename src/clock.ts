/**
 * MonitorClock: the tree's one source of time. Two clocks are read, for two different jobs:
 * - the **monotonic** clock (`performance.now`) measures every duration: rate windows, latency
 *   windows, sliding-window slices, keep-firing periods, suppression, escalation, timeouts,
 *   retries. These run on {@link MonitorClock.steadyMs}: the wall time read when the clock was
 *   made, advanced by monotonic elapsed time, so it has epoch units but never jumps;
 * - the **wall** clock (`Date.now`) only stamps what is written (history points, reports) and
 *   shown, through {@link MonitorClock.stampMs}, which clamps it: a stamp is never before the
 *   previous stamp and never more than {@link STEP_TOLERANCE_MS} ahead of the previous stamp
 *   plus the monotonic time since it. So a step forward is not followed (stamps keep to
 *   monotonic progress, and no point lands in the future when the step is undone); only when
 *   the wall clock has stayed ahead for {@link ACCEPT_FORWARD_STEP_MS} is the step taken as a
 *   correction and stamps jump to it. After a step back, stamps hold at the last one until the
 *   wall clock catches up (history written meanwhile lands on that one stamp: the newest value
 *   per series wins); a step back is never followed, since readers take the newest stamp as the
 *   newest value.
 *
 * Alerting, the notification outbox and the dashboard measure on the steady timeline (keep-firing,
 * `for`, suppression, escalation, retries, alert and silence retention, live rates, the
 * slow-client bound) and convert at the boundary ({@link Timeline}), so no steady time is shown,
 * sent or stored, and no user wall time is compared with steady time:
 * - out: every time an alert carries (startedAt, resolvedAt, lastSeenAt, notifiedAt, ...), a
 *   notification's createdAt, a rule instance's times (list_rules, the store) and a suppression
 *   mark are stamps ({@link MonitorClock.stampAt}): what channels, the API, the page and the
 *   store see agrees with the history stamps, and is never ahead of the wall clock after a step
 *   that is later undone. So after a forward step, times shown keep to monotonic progress for up
 *   to {@link ACCEPT_FORWARD_STEP_MS}, then follow the wall clock. Durations measured from those
 *   moments use steady copies kept in memory; whatever is loaded from the store (wall times)
 *   gets them by {@link MonitorClock.steadyFromWall}, so times stored by an earlier run count
 *   from where they were on the wall clock;
 * - in: a user's wall time (a silence's startsAt/endsAt) is converted to steady time on input by
 *   the unclamped wall clock's offset then ({@link MonitorClock.steadyFromWall}) and checked
 *   against the wall clock as it reads ({@link MonitorClock.wallAt}): the user read their time
 *   from a wall clock that has already taken any step. A silence then lasts the time it was set
 *   for whatever the wall clock does later; it keeps the wall times it was given for display and
 *   storage.
 *
 * The clamp lasts for the life of one clock (one process run); the store is not searched for
 * its newest stamp at start, so a process started under a wrong wall clock stamps with it.
 */

/**
 * A wall clock this far ahead of monotonic progress still stamps as it reads (NTP slewing and
 * timer jitter move the two apart by milliseconds); beyond it, it is a step.
 */
export const STEP_TOLERANCE_MS = 1000;

/** A wall clock ahead of monotonic progress for this long is a correction: stamps follow it. */
export const ACCEPT_FORWARD_STEP_MS = 3_600_000;

/** Where a `MonitorClock` reads time. Inject one to simulate clock steps. */
export interface ClockSource {
  /** Wall clock, ms since the epoch. */
  wallMs(): number;
  /** Monotonic clock, ms from any origin; never goes back. */
  monoMs(): number;
}

/** The process clocks: `Date.now` and `performance.now`. */
export const SYSTEM_CLOCK: ClockSource = Object.freeze({ wallMs: () => Date.now(), monoMs: () => performance.now() });

/** How the newest stamp relates to the wall clock. */
export type StampClamp =
  /** The stamp is the wall time. */
  | 'none'
  /** The wall clock ran ahead of monotonic progress: the stamp was held back to it. */
  | 'ahead'
  /** The wall clock is before the previous stamp: the stamp was held at the previous one. */
  | 'behind';

export class MonitorClock {
  readonly source: ClockSource;
  readonly #anchorWall: number;
  readonly #anchorMono: number;
  #lastStamp: number;
  #lastStampMono: number;
  #clamp: StampClamp = 'none';
  /** Monotonic time since which the wall clock has been ahead of the stamps, if it is. */
  #aheadSince: number | undefined;

  /** @param source where time is read (default {@link SYSTEM_CLOCK}) */
  constructor(source: ClockSource = SYSTEM_CLOCK) {
    this.source = source;
    this.#anchorMono = source.monoMs();
    this.#anchorWall = source.wallMs();
    this.#lastStamp = this.#anchorWall;
    this.#lastStampMono = this.#anchorMono;
  }

  /** {@link steadyMs} when the clock was made (the wall time then). */
  get startedAt(): number {
    return this.#anchorWall;
  }

  /** The wall clock as it reads now, unclamped (for comparisons, not for stamps). */
  wallMs(): number {
    return this.source.wallMs();
  }

  /** Monotonic ms from the source's origin. */
  monoMs(): number {
    return this.source.monoMs();
  }

  /** Time for durations and windows: the wall time at construction plus monotonic elapsed time (whole ms). */
  steadyMs(): number {
    return Math.floor(this.#anchorWall + (this.source.monoMs() - this.#anchorMono));
  }

  /** A wall-clock stamp for something written or shown (whole ms), clamped as the module comment says. */
  stampMs(): number {
    const wall = this.source.wallMs();
    const mono = this.source.monoMs();
    // Kept unrounded, so stamps held to monotonic progress do not lose a fraction per call.
    const ceiling = this.#lastStamp + Math.max(0, mono - this.#lastStampMono);
    let stamp = wall;
    this.#clamp = 'none';
    if (wall > ceiling + STEP_TOLERANCE_MS) {
      this.#aheadSince ??= mono;
      if (mono - this.#aheadSince < ACCEPT_FORWARD_STEP_MS) {
        stamp = ceiling;
        this.#clamp = 'ahead';
      } else {
        this.#aheadSince = undefined;
      }
    } else if (wall < this.#lastStamp) {
      this.#aheadSince = undefined;
      stamp = this.#lastStamp;
      if (this.#lastStamp - wall > STEP_TOLERANCE_MS) this.#clamp = 'behind';
    } else {
      this.#aheadSince = undefined;
    }
    this.#lastStamp = stamp;
    this.#lastStampMono = mono;
    return Math.floor(stamp);
  }

  /** The stamp of the steady time `steady`: {@link stampMs} now, moved by how long ago `steady` was. */
  stampAt(steady: number): number {
    return Math.floor(steady + (this.stampMs() - this.steadyMs()));
  }

  /** The steady time of the wall time `wall`, by the wall clock's offset now (for times a user gives). */
  steadyFromWall(wall: number): number {
    return Math.floor(wall - (this.source.wallMs() - this.steadyMs()));
  }

  /** The wall time of the steady time `steady`, by the wall clock's offset now (unclamped; to check a user's times). */
  wallAt(steady: number): number {
    return Math.floor(steady + (this.source.wallMs() - this.steadyMs()));
  }

  /** Whether the newest stamp was clamped, and which way. */
  get clamp(): StampClamp {
    return this.#clamp;
  }
}

/** Conversions between the steady timeline and wall time (see the module comment). */
export type Timeline = Pick<MonitorClock, 'stampAt' | 'steadyFromWall' | 'wallAt'>;

/** A timeline whose steady time is the wall time (tests and tools that pass wall times as `now`). */
export const SAME_TIMELINE: Timeline = Object.freeze({ stampAt: (t: number) => t, steadyFromWall: (t: number) => t, wallAt: (t: number) => t });
