import { afterEach, describe, expect, it } from 'vitest';
import { CallTimeoutError, ErrorCode, MonitorError, NoProcError } from '../../src/errors.js';
import { type Behaviour, crashOf, OtpSystem, type Pid, startServer } from '../../src/otp/index.js';
import { memoryLogger, until } from '../helpers.js';
import { recordingWorker, WORKER_MESSAGES, type WorkerProtocol } from './worker-fixture.js';

const systems: OtpSystem[] = [];
const pids: Pid<WorkerProtocol>[] = [];

function newSystem() {
  const logger = memoryLogger();
  const system = new OtpSystem({ logger });
  systems.push(system);
  return { system, logger };
}

async function startWorker(system: OtpSystem, events: string[], name?: string) {
  const pid = await startServer(system, recordingWorker(events), name ?? 'w', name === undefined ? {} : { name });
  pids.push(pid);
  return pid;
}

afterEach(async () => {
  for (const pid of pids.splice(0)) await pid.stop('shutdown', 100);
  for (const system of systems.splice(0)) system.close();
});

describe('GenServer', () => {
  it('answers calls with typed replies and applies casts in order', async () => {
    const { system } = newSystem();
    const pid = await startWorker(system, []);
    pid.cast({ type: 'add', by: 2 });
    pid.cast({ type: 'add', by: 3 });
    const count: number = await pid.call({ type: 'count' });
    expect(count).toBe(5);
    expect(await pid.call({ type: 'ping' })).toBe('pong');
  });

  it('rejects a call to a stopped server with a typed noproc error', async () => {
    const { system } = newSystem();
    const pid = await startWorker(system, []);
    await pid.stop();
    const err = await pid.call({ type: 'ping' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProcError);
    expect((err as NoProcError).code).toBe(ErrorCode.NoProc);
    expect((err as NoProcError).message).toBe(`noproc: no live process ${pid.name}`);
  });

  it('rejects a call to an unregistered name with noproc', async () => {
    const { system } = newSystem();
    const err = await system
      .ref<WorkerProtocol>('nobody')
      .call({ type: 'ping' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NoProcError);
    expect((err as Error).message).toBe('noproc: no live process registered as "nobody"');
  });

  it('rejects a call that gets no reply in time with a typed timeout error', async () => {
    const { system } = newSystem();
    const pid = await startWorker(system, []);
    const err = await pid.call({ type: 'hang' }, 25).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CallTimeoutError);
    expect((err as CallTimeoutError).code).toBe(ErrorCode.CallTimeout);
    expect((err as CallTimeoutError).timeoutMs).toBe(25);
    expect((err as Error).message).toBe(`call hang to ${pid.name} got no reply within 25 ms`);
  });

  it('rejects pending calls with EMON_SERVER_EXITED when the server crashes', async () => {
    const { system } = newSystem();
    const pid = await startWorker(system, []);
    const inFlight = pid.call({ type: 'crash_in_call' }).catch((e: unknown) => e);
    const queued = pid.call({ type: 'ping' }).catch((e: unknown) => e);
    for (const err of [await inFlight, await queued]) {
      expect(err).toBeInstanceOf(MonitorError);
      expect((err as MonitorError).code).toBe(ErrorCode.ServerExited);
      expect((err as MonitorError).message).toMatch(
        /exited \(EMON_CALLBACK_FAILED .*crashed in a call\) before replying/,
      );
    }
    const reason = await pid.exited;
    expect(crashOf(reason)?.cause).toBeInstanceOf(Error);
  });

  it('rejects the caller with a returned error and keeps serving', async () => {
    const { system } = newSystem();
    const picky: Behaviour<number, WorkerProtocol> = {
      name: 'picky',
      messages: WORKER_MESSAGES,
      init: () => 0,
      handleCall: (msg, state) =>
        msg.type === 'count'
          ? { error: new MonitorError(ErrorCode.BadMessage, 'count is not allowed'), state }
          : { reply: 'pong', state },
    };
    const pid = await startServer(system, picky, undefined);
    pids.push(pid);
    await expect(pid.call({ type: 'count' })).rejects.toThrow('count is not allowed');
    expect(await pid.call({ type: 'ping' })).toBe('pong');
    expect(pid.alive).toBe(true);
  });

  it('reports a failing init to the starter and leaves nothing registered', async () => {
    const { system } = newSystem();
    const bad: Behaviour<null, WorkerProtocol> = {
      name: 'bad',
      messages: WORKER_MESSAGES,
      init(_args, ctx) {
        ctx.interval(10, { type: 'tick' });
        throw new Error('no config');
      },
    };
    const err = await startServer(system, bad, undefined, { name: 'bad' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MonitorError);
    expect((err as MonitorError).code).toBe(ErrorCode.InitFailed);
    expect((err as MonitorError).message).toBe('bad: init failed: no config');
    expect(system.whereis('bad')).toBeUndefined();
    // The name can be taken again: nothing of the failed start is left.
    await startWorker(system, [], 'bad');
  });

  it('times out an async init that never finishes', async () => {
    const { system } = newSystem();
    const stuck: Behaviour<null, WorkerProtocol> = {
      name: 'stuck',
      messages: WORKER_MESSAGES,
      init: () => new Promise(() => {}),
    };
    const err = await startServer(system, stuck, undefined, { initTimeout: 20 }).catch((e: unknown) => e);
    expect((err as MonitorError).code).toBe(ErrorCode.InitFailed);
    expect((err as Error).message).toMatch(/init did not finish within 20 ms/);
  });

  it('fails the start when killed during an async init, releasing what init took through onKill', async () => {
    const { system } = newSystem();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const released: string[] = [];
    const slow: Behaviour<string, WorkerProtocol> = {
      name: 'slow-init',
      messages: WORKER_MESSAGES,
      async init() {
        await gate;
        return 'socket';
      },
      onKill: (_reason, state) => void released.push(state),
    };
    const starting = startServer(system, slow, undefined, { name: 'slow-init' }).catch((e: unknown) => e);
    system.whereis('slow-init')!.kill();
    release();
    const err = await starting;
    expect((err as MonitorError).code).toBe(ErrorCode.InitFailed);
    expect((err as Error).message).toBe('slow-init: init failed: killed (killed) while init was running');
    expect(released).toEqual(['socket']);
  });

  it('handles messages sent during an async init after it, in order', async () => {
    const { system } = newSystem();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const seen: number[] = [];
    const slow: Behaviour<number[], WorkerProtocol> = {
      name: 'slow',
      messages: WORKER_MESSAGES,
      async init(_a, ctx) {
        ctx.self.cast({ type: 'add', by: 1 });
        await gate;
        return seen;
      },
      handleCast(msg, state) {
        if (msg.type === 'add') state.push(msg.by);
        return { state };
      },
      handleCall(_msg, state) {
        return { reply: state.length, state };
      },
    };
    const starting = startServer(system, slow, undefined, { name: 'slow' });
    const pid = system.ref<WorkerProtocol>('slow');
    pid.cast({ type: 'add', by: 2 });
    release();
    const started = await starting;
    pids.push(started);
    expect(await started.call({ type: 'count' })).toBe(2);
    expect(seen).toEqual([1, 2]);
  });

  it('refuses a second live process under the same name', async () => {
    const { system } = newSystem();
    await startWorker(system, [], 'dup');
    const err = await startWorker(system, [], 'dup').catch((e: unknown) => e);
    expect((err as MonitorError).code).toBe(ErrorCode.NameTaken);
  });

  it('logs and drops an info message when there is no handleInfo', async () => {
    const { system, logger } = newSystem();
    const plain: Behaviour<number, WorkerProtocol> = {
      name: 'plain',
      messages: WORKER_MESSAGES,
      init: () => 0,
      handleCall: (_m, state) => ({ reply: 'pong', state }),
    };
    const pid = await startServer(system, plain, undefined);
    pids.push(pid);
    pid.send({ type: 'tick' });
    expect(await pid.call({ type: 'ping' })).toBe('pong');
    expect(logger.records.some((r) => r.level === 'warn' && r.msg.includes('no handleInfo'))).toBe(true);
  });

  it('runs terminate with the reason on an orderly stop and on a stop requested by the server', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const a = await startWorker(system, events, 'a');
    const b = await startWorker(system, events, 'b');
    expect(await a.stop()).toBe('shutdown');
    b.cast({ type: 'exit', reason: 'normal' });
    expect(await b.exited).toBe('normal');
    expect(events.filter((e) => e.startsWith('stop:'))).toEqual(['stop:a#1:shutdown', 'stop:b#1:normal']);
    expect(a.alive).toBe(false);
  });

  it('treats {shutdown, Term} as orderly and a custom reason as abnormal, as gen_server does', async () => {
    const { system, logger } = newSystem();
    const events: string[] = [];
    const orderly = await startWorker(system, events);
    orderly.cast({ type: 'exit', reason: { shutdown: 'drained' } });
    expect(await orderly.exited).toEqual({ shutdown: 'drained' });
    const custom = await startWorker(system, events);
    custom.cast({ type: 'exit', reason: { exit: 'lost_upstream' } });
    expect(await custom.exited).toEqual({ exit: 'lost_upstream' });
    expect(events.filter((e) => e.startsWith('stop:'))).toEqual([
      'stop:w#1:{shutdown, drained}',
      'stop:w#2:lost_upstream',
    ]);
    const abnormal = logger.records
      .filter((r) => r.msg === 'server terminating abnormally')
      .map((r) => r.fields.reason);
    expect(abnormal).toEqual(['lost_upstream']);
  });

  it("aborts terminate's signal when a crash's terminate outruns terminateTimeout", async () => {
    const { system } = newSystem();
    const events: string[] = [];
    let signal: AbortSignal | undefined;
    const base = recordingWorker(events);
    const hanging: typeof base = {
      ...base,
      terminate(_reason, _state, _ctx, s) {
        signal = s;
        return new Promise<void>((resolve) => s.addEventListener('abort', () => resolve()));
      },
    };
    const pid = await startServer(system, hanging, 'h', { terminateTimeout: 10 });
    pid.cast({ type: 'crash' });
    await pid.exited;
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe('killed');
  });

  it('kill ends a server at once: no terminate, the reason goes to its links', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const pid = await startWorker(system, events, 'victim');
    const seen: unknown[] = [];
    pid.link((r) => seen.push(r));
    pid.kill();
    expect(await pid.exited).toBe('killed');
    expect(seen).toEqual(['killed']);
    expect(events.filter((e) => e.startsWith('stop:'))).toEqual([]);
    await expect(pid.call({ type: 'ping' })).rejects.toBeInstanceOf(NoProcError);
  });

  it('follows a restarted server through a name reference', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const first = await startWorker(system, events, 'named');
    const ref = system.ref<WorkerProtocol>('named');
    first.cast({ type: 'add', by: 7 });
    expect(await ref.call({ type: 'count' })).toBe(7);
    await first.stop();
    await startWorker(system, events, 'named');
    await until(async () => expect(await ref.call({ type: 'count' })).toBe(0));
  });

  it('refuses a malformed call, cast or info message before any callback runs, and carries on unchanged', async () => {
    const { system, logger } = newSystem();
    const events: string[] = [];
    const pid = await startWorker(system, events, 'strict');
    const anyPid = pid as unknown as {
      call(m: unknown): Promise<unknown>;
      cast(m: unknown): void;
      send(m: unknown): void;
    };
    const refusal = (m: unknown) => anyPid.call(m).catch((e: unknown) => e as MonitorError);
    expect(await refusal({ type: 'nope' })).toMatchObject({
      code: ErrorCode.BadMessage,
      message: 'strict: unknown call type "nope" (allowed: ping, count, hang, crash_in_call)',
    });
    expect(await refusal(null)).toMatchObject({
      code: ErrorCode.BadMessage,
      message: expect.stringContaining('strict: call must be an object { type, ... }, got null'),
    });
    expect(await refusal({ type: 'ping', extra: 1 })).toMatchObject({
      code: ErrorCode.BadMessage,
      message: 'strict: call ping: unknown field "extra" (no other fields)',
    });
    // Each of these would crash the worker if its callback ran (a missing `by` adds NaN; `crash` throws).
    anyPid.cast({ type: 'add' });
    anyPid.cast({ type: 'add', by: 1, times: 2 });
    anyPid.cast({ type: 'crash', now: true });
    anyPid.cast([{ type: 'crash' }]);
    anyPid.send({ type: 'boom', x: 1 });
    anyPid.send('boom');
    pid.cast({ type: 'add', by: 2 });
    expect(await pid.call({ type: 'count' })).toBe(2);
    expect(pid.alive).toBe(true);
    expect(events).toEqual(['start:strict#1']);
    const warned = logger.records
      .filter((r) => r.level === 'warn')
      .map((r) => `${r.msg}: ${(r.fields.err as Error).message}`);
    expect(warned).toEqual([
      'cast message refused: strict: cast add: missing field "by" (allowed: by)',
      'cast message refused: strict: cast add: unknown field "times" (allowed: by)',
      'cast message refused: strict: cast crash: unknown field "now" (no other fields)',
      'cast message refused: strict: cast must be an object { type, ... }, got an array of 1 (allowed types: add, crash, crash_async, exit, bad_return, crash_after, tick_every)',
      'info message refused: strict: info boom: unknown field "x" (no other fields)',
      'info message refused: strict: info must be an object { type, ... }, got "boom" (allowed types: tick, boom)',
    ]);
  });

  it('logs at most 20 distinct refusals per incarnation, then drops quietly', async () => {
    const { system, logger } = newSystem();
    const pid = await startWorker(system, [], 'noisy');
    for (let i = 0; i < 1000; i++) (pid as unknown as { cast(m: unknown): void }).cast({ type: `nope_${i % 50}` });
    expect(await pid.call({ type: 'count' })).toBe(0);
    expect(logger.records.filter((r) => r.msg === 'cast message refused')).toHaveLength(20);
  });

  it('refuses to start a behaviour without a messages schema (a plain JS one can omit it)', async () => {
    const { system } = newSystem();
    const untyped = { name: 'untyped', init: () => 0 } as unknown as Behaviour<number, WorkerProtocol>;
    const err = await startServer(system, untyped, undefined, { name: 'untyped' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MonitorError);
    expect((err as MonitorError).code).toBe(ErrorCode.InvalidOption);
    expect((err as MonitorError).message).toMatch(/^behaviour "untyped": messages must be \{ call, cast, info \}/);
    expect(system.whereis('untyped')).toBeUndefined();
    // The old array form of a field list is refused by name, not read as fields "0", "1".
    const arrays = {
      name: 'arrays',
      init: () => 0,
      messages: { call: { ping: ['x'] }, cast: {}, info: {} },
    } as unknown as Behaviour<number, WorkerProtocol>;
    const err2 = await startServer(system, arrays, undefined, { name: 'arrays' }).catch((e: unknown) => e);
    expect(err2).toMatchObject({
      code: ErrorCode.InvalidOption,
      message: `messages.call.ping must be 'any' or { field: 'required' | 'optional', ... }, got an array of 1`,
    });
    expect(system.whereis('arrays')).toBeUndefined();
  });
});
