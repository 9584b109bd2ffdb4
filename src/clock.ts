/**
 * MonitorClock: the tree's one source of time. Every duration runs on the monotonic clock
 * ({@link MonitorClock.steadyMs}: epoch units, never jumps); the wall clock only stamps what is
 * written or shown ({@link MonitorClock.stampMs}), clamped so a stamp is never before the previous
 * one nor ahead of monotonic progress, until a forward step has lasted {@link ACCEPT_FORWARD_STEP_MS}.
 * Alerting, the outbox and the dashboard convert at the boundary ({@link Timeline}), so no steady time
 * is shown, sent or stored. How each direction converts: docs/design-notes.md.
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
export const SAME_TIMELINE: Timeline = Object.freeze({
  stampAt: (t: number) => t,
  steadyFromWall: (t: number) => t,
  wallAt: (t: number) => t,
});
