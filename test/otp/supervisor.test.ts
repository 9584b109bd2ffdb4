import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, MonitorError } from '../../src/errors.js';
import {
  type ChildSpec,
  checkChildSpecs,
  checkFlags,
  type ExitReason,
  OtpSystem,
  type Pid,
  type ServerRef,
  startSupervisor,
  type Strategy,
  supervisorChild,
  type SupervisorPid,
} from '../../src/otp/index.js';
import { activeResources, flushImmediates, leakedAfterSettling, memoryLogger, until } from '../helpers.js';
import { type WorkerProtocol, workers } from './worker-fixture.js';

const systems: OtpSystem[] = [];
const supervisors: SupervisorPid[] = [];

function newSystem() {
  const logger = memoryLogger();
  const system = new OtpSystem({ logger });
  systems.push(system);
  return { system, logger };
}

afterEach(async () => {
  for (const sup of supervisors.splice(0)) await sup.stop('shutdown', 'infinity');
  for (const system of systems.splice(0)) system.close();
});

async function start(system: OtpSystem, strategy: Strategy, children: ChildSpec[], intensity = 10) {
  const sup = await startSupervisor(system, { flags: { strategy, intensity, period: 60_000 }, children });
  supervisors.push(sup);
  return sup;
}

function worker(system: OtpSystem, id: string): ServerRef<WorkerProtocol> {
  return system.ref<WorkerProtocol>(id);
}

/** Events after the initial starts, once `expected` have all happened. */
async function eventsAfter(events: string[], from: number, expectedLength: number) {
  await until(() => expect(events.length - from).toBeGreaterThanOrEqual(expectedLength));
  await flushImmediates();
  return events.slice(from);
}

describe('Supervisor', () => {
  it('starts children in order and stops them in reverse order', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await startSupervisor(system, { children: workers(events, ['a', 'b', 'c']) });
    expect(events).toEqual(['start:a#1', 'start:b#1', 'start:c#1']);
    await sup.stop();
    expect(events.slice(3)).toEqual(['stop:c#1:shutdown', 'stop:b#1:shutdown', 'stop:a#1:shutdown']);
  });

  it('restarts only the crashed child under one_for_one', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, 'one_for_one', workers(events, ['a', 'b', 'c']));
    const before = await sup.call({ type: 'which_children' });
    worker(system, 'b').cast({ type: 'crash' });
    expect(await eventsAfter(events, 3, 2)).toEqual(['stop:b#1:EMON_CALLBACK_FAILED', 'start:b#2']);
    const after = await sup.call({ type: 'which_children' });
    expect(after.map((c) => c.pid === before.find((b) => b.id === c.id)!.pid)).toEqual([true, false, true]);
    expect(await worker(system, 'b').call({ type: 'ping' })).toBe('pong');
  });

  it('restarts all children under one_for_all: stop the others in reverse, start all in order', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    await start(system, 'one_for_all', workers(events, ['a', 'b', 'c']));
    worker(system, 'b').cast({ type: 'crash' });
    expect(await eventsAfter(events, 3, 6)).toEqual([
      'stop:b#1:EMON_CALLBACK_FAILED',
      'stop:c#1:shutdown',
      'stop:a#1:shutdown',
      'start:a#2',
      'start:b#2',
      'start:c#2',
    ]);
  });

  it('restarts the crashed child and those started after it under rest_for_one', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    await start(system, 'rest_for_one', workers(events, ['a', 'b', 'c', 'd']));
    worker(system, 'b').cast({ type: 'crash' });
    expect(await eventsAfter(events, 4, 6)).toEqual([
      'stop:b#1:EMON_CALLBACK_FAILED',
      'stop:d#1:shutdown',
      'stop:c#1:shutdown',
      'start:b#2',
      'start:c#2',
      'start:d#2',
    ]);
  });

  it('does not restart a transient child that exits normally, but restarts it after a crash', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, 'one_for_one', workers(events, ['t', 'u'], { restart: 'transient' }));
    worker(system, 't').cast({ type: 'exit', reason: 'normal' });
    worker(system, 'u').cast({ type: 'crash' });
    await until(() => expect(events).toContain('start:u#2'));
    const children = await sup.call({ type: 'which_children' });
    expect(children.find((c) => c.id === 't')!.pid).toBeUndefined();
    expect(events.filter((e) => e.startsWith('start:t'))).toEqual(['start:t#1']);
  });

  it('never restarts a temporary child and forgets it', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, 'one_for_one', [
      ...workers(events, ['p']),
      ...workers(events, ['tmp'], { restart: 'temporary' }),
    ]);
    worker(system, 'tmp').cast({ type: 'crash' });
    await until(async () => expect((await sup.call({ type: 'which_children' })).map((c) => c.id)).toEqual(['p']));
    expect(events.filter((e) => e.startsWith('start:tmp'))).toEqual(['start:tmp#1']);
  });

  it('turns sync throws, async rejections, timer-message crashes and bad returns into restarts', async () => {
    const { system, logger } = newSystem();
    const events: string[] = [];
    await start(system, 'one_for_one', workers(events, ['w']));
    const crashes: [WorkerProtocol['cast'], string][] = [
      [{ type: 'crash' }, 'start:w#2'],
      [{ type: 'crash_async' }, 'start:w#3'],
      [{ type: 'crash_after', ms: 1 }, 'start:w#4'],
      [{ type: 'bad_return' }, 'start:w#5'],
    ];
    for (const [msg, restarted] of crashes) {
      worker(system, 'w').cast(msg);
      await until(() => expect(events).toContain(restarted));
    }
    const reasons = events.filter((e) => e.startsWith('stop:'));
    expect(reasons).toEqual([
      'stop:w#1:EMON_CALLBACK_FAILED',
      'stop:w#2:EMON_CALLBACK_FAILED',
      'stop:w#3:EMON_CALLBACK_FAILED',
      'stop:w#4:EMON_BAD_RETURN_VALUE',
    ]);
    const reports = logger.records
      .filter((r) => r.msg === 'child terminated: restarting')
      .map((r) => String(r.fields.reason));
    expect(reports[0]).toMatch(/handleCast\(crash\) threw: w crashed/);
    expect(reports[1]).toMatch(/handleCast\(crash_async\) threw: w rejected/);
    expect(reports[2]).toMatch(/handleInfo\(boom\) threw: w crashed in a timer message/);
    expect(reports[3]).toMatch(/handleCast\(bad_return\) returned 42/);
  });

  // Was: the give-up exited `{ crash: EMON_MAX_RESTART_INTENSITY }` and only the parent logged it.
  // OTP's supervisor reports reached_max_restart_intensity itself and exits `shutdown`.
  it('reports reaching its intensity itself, stops the subtree in reverse order, exits shutdown and leaves no timer', async () => {
    const resourcesBefore = activeResources();
    const { system, logger } = newSystem();
    const events: string[] = [];
    // Each worker holds an interval timer, so a leaked incarnation would show up as a Timeout.
    const inner = supervisorChild('inner', {
      flags: { strategy: 'one_for_one', intensity: 2, period: 60_000 },
      children: workers(events, ['x', 'y', 'z'], {}, { tickEvery: 60_000 }),
    });
    const root = await startSupervisor(system, { flags: { intensity: 0, period: 60_000 }, children: [inner] });
    const rootExit: ExitReason[] = [];
    root.link((reason) => rootExit.push(reason));
    expect(activeResources().filter((r) => r === 'Timeout')).toHaveLength(
      3 + resourcesBefore.filter((r) => r === 'Timeout').length,
    );

    worker(system, 'y').cast({ type: 'crash' });
    await until(() => expect(events).toContain('start:y#2'));
    worker(system, 'y').cast({ type: 'crash' });
    await until(() => expect(events).toContain('start:y#3'));
    worker(system, 'y').cast({ type: 'crash' });
    const reason = await root.exited;

    expect(events.slice(-3)).toEqual(['stop:y#3:EMON_CALLBACK_FAILED', 'stop:z#1:shutdown', 'stop:x#1:shutdown']);
    expect(rootExit).toEqual([reason]);
    expect(reason).toBe('shutdown');
    // The inner supervisor gave up first and exited shutdown; its permanent restart by the root
    // (intensity 0) spent the root's intensity, so the root gave up too: each reports itself.
    const reports = logger.records.filter((r) => r.fields.reason === 'reached_max_restart_intensity');
    expect(reports.map((r) => [r.level, r.msg, r.fields.offender])).toEqual([
      ['error', 'supervisor gave up: reached_max_restart_intensity', 'y'],
      ['error', 'supervisor gave up: reached_max_restart_intensity', 'inner'],
    ]);
    expect(String(reports[0]!.fields.detail)).toMatch(
      /more than 2 restart\(s\) within 60000 ms; last: child "y" exited with EMON_CALLBACK_FAILED/,
    );
    expect(String(reports[1]!.fields.detail)).toMatch(
      /more than 0 restart\(s\) within 60000 ms; last: child "inner" exited with shutdown$/,
    );
    system.close();
    await flushImmediates();
    expect(await leakedAfterSettling(resourcesBefore)).toEqual([]);
  });

  it('fails start, stopping the children already started, when a child fails init', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const children = [...workers(events, ['a', 'b']), ...workers(events, ['bad'], {}, { failInit: () => true })];
    const err = await startSupervisor(system, { children }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MonitorError);
    expect((err as MonitorError).code).toBe(ErrorCode.InitFailed);
    expect((err as MonitorError).message).toMatch(/child "bad" failed to start: .*init of bad refused/);
    expect(events).toEqual(['start:a#1', 'start:b#1', 'stop:b#1:shutdown', 'stop:a#1:shutdown']);
    expect(system.whereis('a')).toBeUndefined();
  });

  it('retries a child whose restart fails, through its mailbox, until the intensity is spent', async () => {
    const { system, logger } = newSystem();
    const events: string[] = [];
    let refuse = false;
    const sup = await start(system, 'one_for_one', workers(events, ['f'], {}, { failInit: () => refuse }), 3);
    refuse = true;
    worker(system, 'f').cast({ type: 'crash' });
    expect(await sup.exited).toBe('shutdown');
    expect(
      logger.records.filter((r) => r.fields.reason === 'reached_max_restart_intensity').map((r) => r.fields.offender),
    ).toEqual(['f']);
  });

  it('kills a child that does not stop within its shutdown time', async () => {
    const { system, logger } = newSystem();
    const events: string[] = [];
    const children = workers(events, ['slow'], { shutdown: 20 }, { hangInTerminate: true });
    const sup = await startSupervisor(system, { children });
    const slow = system.whereis('slow') as Pid<WorkerProtocol>;
    await sup.stop();
    expect(await slow.exited).toBe('killed');
    expect(logger.records.some((r) => r.msg.includes('killed'))).toBe(true);
  });

  // Was: a killed supervisor killed its children without their terminate. OTP's links carry
  // `killed` to exit-trapping children, whose terminate(killed) runs.
  it('takes its whole subtree down when it is killed or brutally stopped: children run terminate(killed)', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const before = activeResources();
    const inner = {
      ...supervisorChild('inner', { children: workers(events, ['w'], {}, { tickEvery: 5 }) }),
      shutdown: 'brutal_kill' as const,
    };
    const top = await startSupervisor(system, { children: [inner] });
    const w = system.whereis('w')!;
    await top.stop();
    expect(await w.exited).toBe('killed');
    expect(events.filter((e) => e.startsWith('stop:'))).toEqual(['stop:w#1:killed']);

    const again = await startSupervisor(system, { children: workers(events, ['x', 'y'], {}, { tickEvery: 5 }) });
    const [x, y] = [system.whereis('x')!, system.whereis('y')!];
    again.kill();
    expect(await Promise.all([x.exited, y.exited])).toEqual(['killed', 'killed']);
    expect(
      events
        .filter((e) => e.startsWith('stop:'))
        .slice(1)
        .sort(),
    ).toEqual(['stop:x#1:killed', 'stop:y#1:killed']);
    await flushImmediates();
    expect(await leakedAfterSettling(before)).toEqual([]);
  });

  it('manages children at run time: start_child, terminate_child, restart_child, delete_child', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, 'one_for_one', []);
    const [extra] = workers(events, ['late']);
    expect((await sup.call({ type: 'start_child', spec: extra! })).ok).toBe(true);
    const dup = await sup.call({ type: 'start_child', spec: extra! });
    expect(!dup.ok && dup.error.code).toBe(ErrorCode.InvalidChildSpec);
    expect(await sup.call({ type: 'terminate_child', id: 'late' })).toEqual({ ok: true });
    expect((await sup.call({ type: 'which_children' }))[0]!.pid).toBeUndefined();
    expect((await sup.call({ type: 'restart_child', id: 'late' })).ok).toBe(true);
    expect(await worker(system, 'late').call({ type: 'ping' })).toBe('pong');
    await sup.call({ type: 'terminate_child', id: 'late' });
    expect(await sup.call({ type: 'delete_child', id: 'late' })).toEqual({ ok: true });
    expect(await sup.call({ type: 'which_children' })).toEqual([]);
    const missing = await sup.call({ type: 'delete_child', id: 'nope' });
    expect(!missing.ok && missing.error.message).toBe('no child with id "nope"');
    expect(!missing.ok && missing.error.code).toBe(ErrorCode.ChildNotFound);
  });
});

describe('checkChildSpecs / checkFlags', () => {
  const start = async () => {
    throw new Error('not started in this test');
  };

  it('fills in OTP defaults', () => {
    expect(checkChildSpecs([{ id: 'a', start }])[0]).toMatchObject({
      restart: 'permanent',
      shutdown: 5000,
      type: 'worker',
    });
    expect(checkChildSpecs([{ id: 's', start, type: 'supervisor' }])[0]).toMatchObject({ shutdown: 'infinity' });
    expect(checkFlags()).toEqual({ strategy: 'one_for_one', intensity: 1, period: 5000 });
  });

  it.each([
    [{ id: '', start }, 'invalid id: ""'],
    [{ id: 'a', start: 'x' }, 'child "a": invalid start'],
    [
      { id: 'a', start, restart: 'always' },
      'child "a": invalid restart: "always" (allowed: permanent, transient, temporary)',
    ],
    [{ id: 'a', start, shutdown: -1 }, 'child "a": invalid shutdown: -1'],
    [{ id: 'a', start, type: 'daemon' }, 'child "a": invalid type: "daemon" (allowed: worker, supervisor)'],
  ])('rejects %o with a message naming the child and field', (spec, message) => {
    const call = () => checkChildSpecs([spec as unknown as ChildSpec]);
    expect(call).toThrow(MonitorError);
    expect(call).toThrow(message);
    try {
      call();
    } catch (err) {
      expect((err as MonitorError).code).toBe(ErrorCode.InvalidChildSpec);
    }
  });

  it('rejects duplicate ids and bad flags', () => {
    expect(() =>
      checkChildSpecs([
        { id: 'a', start },
        { id: 'a', start },
      ]),
    ).toThrow('child "a": duplicate id');
    expect(() => checkFlags({ strategy: 'simple_one_for_one' as Strategy })).toThrow(/invalid strategy/);
    expect(() => checkFlags({ intensity: -1 })).toThrow(/invalid intensity: -1/);
    expect(() => checkFlags({ period: 0 })).toThrow(/invalid period: 0/);
  });
});
