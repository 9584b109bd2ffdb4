import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import { OtpSystem, startSupervisor, workerChild } from '../../src/otp/index.js';
import { TimerSet } from '../../src/otp/timers.js';
import { memoryLogger, until } from '../helpers.js';
import { recordingWorker, type WorkerProtocol } from './worker-fixture.js';

// setImmediate stays real: it is nact's scheduler.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('TimerSet', () => {
  it('delivers sendAfter once, and cancel prevents delivery', () => {
    const got: string[] = [];
    const timers = new TimerSet<string>((m) => got.push(m));
    timers.sendAfter(100, 'a');
    const b = timers.sendAfter(100, 'b');
    expect(timers.cancel(b)).toBe(true);
    expect(timers.cancel(b)).toBe(false);
    vi.advanceTimersByTime(1000);
    expect(got).toEqual(['a']);
    expect(timers.size).toBe(0);
  });

  it('coalesces interval ticks while the previous one is unhandled', () => {
    const handled: (() => void)[] = [];
    const timers = new TimerSet<string>((_m, onHandled) => handled.push(onHandled!));
    timers.interval(10, 'tick');
    vi.advanceTimersByTime(100);
    expect(handled).toHaveLength(1);
    handled[0]!();
    vi.advanceTimersByTime(10);
    expect(handled).toHaveLength(2);
    timers.cancelAll();
  });

  it('cancelAll clears every timer and refuses new ones', () => {
    const got: string[] = [];
    const timers = new TimerSet<string>((m) => got.push(m));
    timers.sendAfter(5, 'a');
    timers.interval(5, 'b');
    timers.cancelAll();
    timers.sendAfter(5, 'c');
    vi.advanceTimersByTime(100);
    expect(got).toEqual([]);
    expect(timers.size).toBe(0);
  });

  it.each([[-1], [Number.NaN], [Infinity], [2 ** 31]])('rejects delay %s with EMON_INVALID_TIMER', (ms) => {
    const timers = new TimerSet<string>(() => {});
    expect(() => timers.sendAfter(ms, 'x')).toThrow(MonitorError);
    try {
      timers.sendAfter(ms, 'x');
    } catch (err) {
      expect((err as MonitorError).code).toBe(ErrorCode.InvalidTimer);
      expect((err as Error).message).toMatch(
        /sendAfter: delay must be a finite number of milliseconds in 0\.\.2147483647/,
      );
    }
  });
});

describe('timers across restarts', () => {
  it("never delivers an earlier incarnation's timer messages to the restarted one", async () => {
    const system = new OtpSystem({ logger: memoryLogger() });
    const events: string[] = [];
    const sup = await startSupervisor(system, {
      flags: { intensity: 10, period: 60_000 },
      children: [
        workerChild('w', recordingWorker(events, { tickEvery: 10_000, tickAfter: 5_000 }), 'w', { name: 'w' }),
      ],
    });
    system.ref<WorkerProtocol>('w').cast({ type: 'crash' });
    await until(() => expect(events).toContain('start:w#2'));
    // (vi.waitFor advances fake time a little on each poll: keep margins wide.)
    vi.advanceTimersByTime(4_000);
    system.ref<WorkerProtocol>('w').cast({ type: 'crash' });
    await until(() => expect(events).toContain('start:w#3'));
    vi.advanceTimersByTime(50_000);
    await until(() => expect(events).toContain('tick:w#3'));
    expect(events.filter((e) => e.startsWith('tick:w#1') || e.startsWith('tick:w#2'))).toEqual([]);
    await sup.stop();
    system.close();
  });
});
