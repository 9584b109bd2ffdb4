import { afterEach, describe, expect, it } from 'vitest';
import { CallTimeoutError, ErrorCode, MonitorError } from '../../src/errors.js';
import { type Behaviour, type MessageSchema, OtpSystem, type Pid, startServer } from '../../src/otp/index.js';
import { memoryLogger } from '../helpers.js';

/** A server whose `wait` calls are answered only when a `release` call settles them. */
interface GateProtocol {
  call: { type: 'wait'; tag: string } | { type: 'release'; fail?: boolean } | { type: 'log' };
  replies: { wait: string; release: number; log: string[] };
  cast: { type: 'noop' };
  info: { type: 'noop' };
}

interface GateState {
  waiting: { resolve: (v: string) => void; reject: (e: Error) => void; tag: string }[];
  log: string[];
}

const GATE_MESSAGES = {
  call: { wait: { tag: 'required' }, release: { fail: 'optional' }, log: {} },
  cast: { noop: {} },
  info: { noop: {} },
} as const satisfies MessageSchema<GateProtocol>;

const gate: Behaviour<GateState, GateProtocol> = {
  name: 'gate',
  messages: GATE_MESSAGES,
  init: () => ({ waiting: [], log: [] }),
  handleCall(msg, state) {
    state.log.push(msg.type);
    switch (msg.type) {
      case 'wait': {
        const defer = new Promise<string>((resolve, reject) => state.waiting.push({ resolve, reject, tag: msg.tag }));
        return { defer, state };
      }
      case 'release': {
        const waiting = state.waiting.splice(0);
        for (const w of waiting) {
          if (msg.fail === true) w.reject(new MonitorError(ErrorCode.StoreFailed, `commit failed for ${w.tag}`));
          else w.resolve(`done ${w.tag}`);
        }
        return { reply: waiting.length, state };
      }
      case 'log':
        return { reply: [...state.log], state };
    }
  },
};

const systems: OtpSystem[] = [];
afterEach(() => {
  for (const system of systems.splice(0)) system.close();
});

async function start(): Promise<Pid<GateProtocol>> {
  const system = new OtpSystem({ logger: memoryLogger() });
  systems.push(system);
  return startServer(system, gate, undefined);
}

describe('GenServer deferred replies', () => {
  it('handles the next messages while a deferred call waits, and answers it when its promise resolves', async () => {
    const pid = await start();
    const a = pid.call({ type: 'wait', tag: 'a' });
    const b = pid.call({ type: 'wait', tag: 'b' });
    // Both waits were handled (neither blocked the mailbox), so one release settles both.
    expect(await pid.call({ type: 'release' })).toBe(2);
    expect(await Promise.all([a, b])).toEqual(['done a', 'done b']);
    expect(await pid.call({ type: 'log' })).toEqual(['wait', 'wait', 'release', 'log']);
  });

  it('rejects the caller with the deferred promise rejection and keeps serving', async () => {
    const pid = await start();
    const a = pid.call({ type: 'wait', tag: 'a' }).catch((e: unknown) => e);
    await pid.call({ type: 'release', fail: true });
    expect(await a).toMatchObject({ code: ErrorCode.StoreFailed, message: 'commit failed for a' });
    expect(pid.alive).toBe(true);
  });

  it('keeps the call timeout of a deferred call', async () => {
    const pid = await start();
    const err = await pid.call({ type: 'wait', tag: 'a' }, 30).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallTimeoutError);
    expect(await pid.call({ type: 'release' })).toBe(1);
  });

  it('rejects a deferred call with EMON_SERVER_EXITED when the server stops before it settles', async () => {
    const pid = await start();
    const a = pid.call({ type: 'wait', tag: 'a' }).catch((e: unknown) => e);
    await pid.call({ type: 'log' });
    await pid.stop();
    expect(await a).toMatchObject({ code: ErrorCode.ServerExited });
  });
});
