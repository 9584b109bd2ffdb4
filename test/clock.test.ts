import { describe, expect, it } from 'vitest';
import { ACCEPT_FORWARD_STEP_MS, type ClockSource, MonitorClock, STEP_TOLERANCE_MS } from '../src/clock.js';

const W0 = 1_800_000_000_000;
const H = 3_600_000;

/** Wall and monotonic time moved by hand. */
function source(): ClockSource & { advance(ms: number): void; step(ms: number): void } {
  let wall = W0;
  let mono = 5_000;
  return {
    wallMs: () => wall,
    monoMs: () => mono,
    advance(ms) {
      wall += ms;
      mono += ms;
    },
    step(ms) {
      wall += ms;
    },
  };
}

describe('MonitorClock', () => {
  it('measures steady time on the monotonic clock from the wall time at its start', () => {
    const s = source();
    const clock = new MonitorClock(s);
    expect(clock.startedAt).toBe(W0);
    s.advance(1500);
    s.step(24 * H);
    expect(clock.steadyMs()).toBe(W0 + 1500);
    s.step(-25 * H);
    s.advance(500);
    expect(clock.steadyMs()).toBe(W0 + 2000);
  });

  it('stamps with the wall clock while it agrees with monotonic progress (within the tolerance)', () => {
    const s = source();
    const clock = new MonitorClock(s);
    s.advance(1000);
    expect(clock.stampMs()).toBe(W0 + 1000);
    s.step(STEP_TOLERANCE_MS); // slew-sized drift is followed
    expect(clock.stampMs()).toBe(W0 + 1000 + STEP_TOLERANCE_MS);
    expect(clock.clamp).toBe('none');
  });

  it('holds stamps to monotonic progress after a step forward, and follows the wall clock again when it comes back', () => {
    const s = source();
    const clock = new MonitorClock(s);
    s.step(24 * H);
    s.advance(2000);
    expect(clock.stampMs()).toBe(W0 + 2000);
    expect(clock.clamp).toBe('ahead');
    s.advance(3000);
    expect(clock.stampMs()).toBe(W0 + 5000);
    s.step(-24 * H);
    s.advance(1000);
    expect(clock.stampMs()).toBe(W0 + 6000);
    expect(clock.clamp).toBe('none');
  });

  it('takes a step forward that lasts an hour as a correction', () => {
    const s = source();
    const clock = new MonitorClock(s);
    s.step(24 * H);
    expect(clock.stampMs()).toBe(W0);
    s.advance(ACCEPT_FORWARD_STEP_MS - 1);
    expect(clock.stampMs()).toBe(W0 + ACCEPT_FORWARD_STEP_MS - 1);
    expect(clock.clamp).toBe('ahead');
    s.advance(1);
    expect(clock.stampMs()).toBe(W0 + 24 * H + ACCEPT_FORWARD_STEP_MS);
    expect(clock.clamp).toBe('none');
  });

  it('never stamps before the last stamp after a step back: holds until the wall clock catches up', () => {
    const s = source();
    const clock = new MonitorClock(s);
    s.advance(10_000);
    expect(clock.stampMs()).toBe(W0 + 10_000);
    s.step(-H);
    s.advance(1000);
    expect(clock.stampMs()).toBe(W0 + 10_000);
    expect(clock.clamp).toBe('behind');
    s.advance(H - 1000 + 5000);
    expect(clock.stampMs()).toBe(W0 + 15_000);
    expect(clock.clamp).toBe('none');
    // Jitter below the tolerance is held silently.
    s.step(-500);
    expect(clock.stampMs()).toBe(W0 + 15_000);
    expect(clock.clamp).toBe('none');
  });

  it('converts at the boundary: steady times out as stamps, a user wall time in by the wall clock offset now', () => {
    const s = source();
    const clock = new MonitorClock(s);
    s.advance(1000);
    s.step(8 * H);
    const steady = clock.steadyMs();
    expect(steady).toBe(W0 + 1000);
    // Out: a stamp, held to monotonic progress while the step is new.
    expect(clock.stampAt(steady - 500)).toBe(W0 + 500);
    // In: an hour after the wall clock as it reads is an hour after steady now, whatever the step.
    expect(clock.steadyFromWall(s.wallMs() + H)).toBe(steady + H);
    expect(clock.wallAt(steady + H)).toBe(s.wallMs() + H);
    // Once the step is taken as a correction, stamps of steady times follow it.
    s.advance(ACCEPT_FORWARD_STEP_MS);
    clock.stampMs();
    expect(clock.stampAt(clock.steadyMs())).toBe(s.wallMs());
  });
});
