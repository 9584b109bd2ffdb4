/**
 * The OTP documentation's supervisor examples (Design Principles, "Supervisor Behaviour", and
 * supervisor(3)), each a behaviour sentence asserting the start/stop trace OTP produces: which
 * init and terminate calls happen, in which order, with which reason.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import {
  type ChildSpec,
  type ExitReason,
  OtpSystem,
  type ServerRef,
  startSupervisor,
  type SupervisorFlags,
  supervisorChild,
  type SupervisorPid,
  type SupervisorReport,
} from '../../src/otp/index.js';
import { flushImmediates, memoryLogger, until } from '../helpers.js';
import { type WorkerProtocol, workers } from './worker-fixture.js';

const systems: OtpSystem[] = [];
const supervisors: SupervisorPid[] = [];

afterEach(async () => {
  for (const sup of supervisors.splice(0)) await sup.stop('shutdown', 'infinity');
  for (const system of systems.splice(0)) system.close();
});

/** A system with a hand-moved clock (for intensity/period), its log and its supervisor reports. */
function newSystem() {
  const logger = memoryLogger();
  const clock = { now: 0 };
  const system = new OtpSystem({ logger, now: () => clock.now });
  const reports: SupervisorReport[] = [];
  system.onSupervisorReport((r) => reports.push(r));
  systems.push(system);
  return { system, logger, clock, reports };
}

async function start(system: OtpSystem, flags: SupervisorFlags, children: ChildSpec[]) {
  const sup = await startSupervisor(system, { flags: { period: 60_000, ...flags }, children });
  supervisors.push(sup);
  return sup;
}

const w = (system: OtpSystem, id: string): ServerRef<WorkerProtocol> => system.ref<WorkerProtocol>(id);

/** The events after the first `from`, once there are at least `count` of them. */
async function trace(events: string[], from: number, count: number) {
  await until(() => expect(events.length - from).toBeGreaterThanOrEqual(count));
  await flushImmediates();
  return events.slice(from);
}

describe('restart types (a child exits with each kind of reason)', () => {
  const reasons: [string, ExitReason][] = [
    ['normal', 'normal'],
    ['shutdown', 'shutdown'],
    ['{shutdown, Term}', { shutdown: 'drained' }],
    ['a custom reason', { exit: 'lost_connection' }],
  ];

  it.each(reasons)('a permanent child is restarted after %s', async (_name, reason) => {
    const { system } = newSystem();
    const events: string[] = [];
    await start(system, { intensity: 5 }, workers(events, ['p']));
    w(system, 'p').cast({ type: 'exit', reason });
    expect((await trace(events, 1, 2))[1]).toBe('start:p#2');
  });

  it.each([
    ...reasons.slice(0, 3).map(([n, r]) => [n, r, false] as const),
    [reasons[3]![0], reasons[3]![1], true] as const,
  ])('a transient child after %s: restarted only for an abnormal reason (%s)', async (_name, reason, restarted) => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { intensity: 5 }, workers(events, ['t'], { restart: 'transient' }));
    w(system, 't').cast({ type: 'exit', reason });
    await until(async () => expect((await sup.call({ type: 'count_children' })).active).toBe(restarted ? 1 : 0));
    await flushImmediates();
    expect(events.filter((e) => e.startsWith('start:'))).toEqual(
      restarted ? ['start:t#1', 'start:t#2'] : ['start:t#1'],
    );
    // Not restarted, it keeps its spec (OTP: the child stays in the list with pid undefined).
    expect((await sup.call({ type: 'which_children' })).map((c) => c.id)).toEqual(['t']);
  });

  it('a temporary child is never restarted and is forgotten, even after a crash (reported as child_terminated)', async () => {
    const { system, logger } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { intensity: 5 }, workers(events, ['tmp'], { restart: 'temporary' }));
    w(system, 'tmp').cast({ type: 'exit', reason: { exit: 'oops' } });
    await until(async () =>
      expect(await sup.call({ type: 'count_children' })).toEqual({ specs: 0, active: 0, supervisors: 0, workers: 0 }),
    );
    expect(events).toEqual(['start:tmp#1', 'stop:tmp#1:oops']);
    expect(logger.records.filter((r) => r.fields.child === 'tmp').map((r) => [r.level, r.msg])).toEqual([
      ['error', 'child terminated: not restarted (temporary)'],
    ]);
  });
});

describe('restart intensity (MaxR restarts within MaxT)', () => {
  it('at the limit: intensity restarts within the period are all made and the supervisor stays up', async () => {
    const { system, reports } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { intensity: 3, period: 1000 }, workers(events, ['a']));
    for (let n = 2; n <= 4; n++) {
      w(system, 'a').cast({ type: 'crash' });
      await until(() => expect(events).toContain(`start:a#${n}`));
    }
    expect(sup.alive).toBe(true);
    expect(reports).toEqual([]);
  });

  it('past the limit: it reports reached_max_restart_intensity, stops the rest in reverse order and exits shutdown', async () => {
    const { system, reports } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { intensity: 1, period: 1000 }, workers(events, ['a', 'b', 'c']));
    w(system, 'b').cast({ type: 'crash' });
    await until(() => expect(events).toContain('start:b#2'));
    w(system, 'b').cast({ type: 'crash' });
    expect(await sup.exited).toBe('shutdown');
    expect(events.slice(3)).toEqual([
      'stop:b#1:EMON_CALLBACK_FAILED',
      'start:b#2',
      'stop:b#2:EMON_CALLBACK_FAILED',
      'stop:c#1:shutdown',
      'stop:a#1:shutdown',
    ]);
    expect(reports.map((r) => [r.supervisor, r.reason, r.child])).toEqual([
      [sup.name, 'reached_max_restart_intensity', 'b'],
    ]);
    expect(reports[0]!.message).toMatch(
      /more than 1 restart\(s\) within 1000 ms; last: child "b" exited with EMON_CALLBACK_FAILED/,
    );
  });

  it('restarts older than the period are forgotten: the same crashes spread out never exceed it', async () => {
    const { system, clock, reports } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { intensity: 1, period: 1000 }, workers(events, ['a']));
    for (let n = 2; n <= 5; n++) {
      clock.now += 1001;
      w(system, 'a').cast({ type: 'crash' });
      await until(() => expect(events).toContain(`start:a#${n}`));
    }
    expect(sup.alive).toBe(true);
    expect(reports).toEqual([]);
  });

  it('intensity 0: the first exit to restart is already past the limit', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { intensity: 0 }, workers(events, ['a']));
    w(system, 'a').cast({ type: 'crash' });
    expect(await sup.exited).toBe('shutdown');
    expect(events).toEqual(['start:a#1', 'stop:a#1:EMON_CALLBACK_FAILED']);
  });
});

describe('nested supervisors', () => {
  function nested(events: string[], restart: 'permanent' | 'transient') {
    return [
      ...workers(events, ['before']),
      supervisorChild(
        'inner',
        { flags: { intensity: 0, period: 60_000 }, children: workers(events, ['x', 'y']) },
        { restart },
      ),
      ...workers(events, ['after']),
    ];
  }

  it('start in depth-first spec order and stop in the reverse, inner children before the inner supervisor', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, {}, nested(events, 'permanent'));
    expect(events).toEqual(['start:before#1', 'start:x#1', 'start:y#1', 'start:after#1']);
    await sup.stop();
    expect(events.slice(4)).toEqual([
      'stop:after#1:shutdown',
      'stop:y#1:shutdown',
      'stop:x#1:shutdown',
      'stop:before#1:shutdown',
    ]);
  });

  it('a transient supervisor that gives up exits shutdown and stays down; its parent and siblings carry on', async () => {
    const { system, reports } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { intensity: 5 }, nested(events, 'transient'));
    w(system, 'x').cast({ type: 'crash' });
    await until(async () => expect((await sup.call({ type: 'count_children' })).active).toBe(2));
    await flushImmediates();
    expect(events.slice(4)).toEqual(['stop:x#1:EMON_CALLBACK_FAILED', 'stop:y#1:shutdown']);
    expect(reports.map((r) => r.child)).toEqual(['x']);
    expect((await sup.call({ type: 'which_children' })).map((c) => [c.id, c.pid === undefined])).toEqual([
      ['before', false],
      ['inner', true],
      ['after', false],
    ]);
    expect(sup.alive).toBe(true);
  });

  it('a permanent supervisor that gives up is restarted by its parent, which counts it as one restart', async () => {
    const { system, reports } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { intensity: 5 }, nested(events, 'permanent'));
    w(system, 'x').cast({ type: 'crash' });
    expect(await trace(events, 4, 4)).toEqual([
      'stop:x#1:EMON_CALLBACK_FAILED',
      'stop:y#1:shutdown',
      'start:x#2',
      'start:y#2',
    ]);
    expect(reports.map((r) => r.child)).toEqual(['x']);
    expect(sup.alive).toBe(true);
  });

  it('a killed supervisor takes its children with it: each runs terminate(killed), as exit-trapping gen_servers do', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const inner: ChildSpec = {
      id: 'inner',
      type: 'supervisor',
      restart: 'temporary',
      start: (sys) => startSupervisor(sys, { children: workers(events, ['x', 'y']) }, { name: 'inner-sup' }),
    };
    const sup = await start(system, {}, [inner]);
    const [x, y] = [system.whereis('x')!, system.whereis('y')!];
    system.whereis('inner-sup')!.kill();
    expect(await Promise.all([x.exited, y.exited])).toEqual(['killed', 'killed']);
    expect(events.slice(2).sort()).toEqual(['stop:x#1:killed', 'stop:y#1:killed']);
    // Its parent saw `killed`; a temporary child is not restarted and is forgotten.
    await until(async () => expect((await sup.call({ type: 'count_children' })).specs).toBe(0));
  });
});

describe('restart strategies (the trace OTP gives when the second of three children crashes)', () => {
  it.each([
    ['one_for_one', ['stop:b#1:EMON_CALLBACK_FAILED', 'start:b#2']],
    [
      'one_for_all',
      [
        'stop:b#1:EMON_CALLBACK_FAILED',
        'stop:c#1:shutdown',
        'stop:a#1:shutdown',
        'start:a#2',
        'start:b#2',
        'start:c#2',
      ],
    ],
    ['rest_for_one', ['stop:b#1:EMON_CALLBACK_FAILED', 'stop:c#1:shutdown', 'start:b#2', 'start:c#2']],
  ] as const)('%s', async (strategy, expected) => {
    const { system } = newSystem();
    const events: string[] = [];
    await start(system, { strategy, intensity: 5 }, workers(events, ['a', 'b', 'c']));
    w(system, 'b').cast({ type: 'crash' });
    expect(await trace(events, 3, expected.length)).toEqual(expected);
  });

  it('one_for_all: a temporary sibling stopped for the group restart is not started again', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, { strategy: 'one_for_all', intensity: 5 }, [
      ...workers(events, ['a']),
      ...workers(events, ['tmp'], { restart: 'temporary' }),
    ]);
    w(system, 'a').cast({ type: 'crash' });
    expect(await trace(events, 2, 3)).toEqual(['stop:a#1:EMON_CALLBACK_FAILED', 'stop:tmp#1:shutdown', 'start:a#2']);
    expect((await sup.call({ type: 'which_children' })).map((c) => c.id)).toEqual(['a']);
  });
});

describe('shutdown', () => {
  it('a number of ms: terminate runs; past the time the child is killed and its AbortSignal fires', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, {}, [
      ...workers(events, ['quick']),
      ...workers(events, ['slow'], { shutdown: 20 }, { hangInTerminate: true }),
    ]);
    const slow = system.whereis('slow')!;
    await sup.stop();
    expect(await slow.exited).toBe('killed');
    // terminate ran (stop:), was told it was cut off (aborted:), and the next child stopped after.
    expect(events.slice(2)).toEqual(['stop:slow#1:shutdown', 'aborted:slow#1:killed', 'stop:quick#1:shutdown']);
  });

  it('brutal_kill: the child is cut off at once, its terminate never runs', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, {}, [
      ...workers(events, ['a']),
      ...workers(events, ['brutal'], { shutdown: 'brutal_kill' }),
    ]);
    const brutal = system.whereis('brutal')!;
    await sup.stop();
    expect(await brutal.exited).toBe('killed');
    expect(events.slice(2)).toEqual(['stop:a#1:shutdown']);
  });

  it("infinity (a supervisor child's default): its whole subtree stops in order before the next sibling", async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, {}, [
      ...workers(events, ['a']),
      supervisorChild('inner', { children: workers(events, ['x', 'y']) }),
    ]);
    await sup.stop();
    expect(events.slice(3)).toEqual(['stop:y#1:shutdown', 'stop:x#1:shutdown', 'stop:a#1:shutdown']);
  });
});

describe('managing children (supervisor(3))', () => {
  it("terminate_child, restart_child and delete_child with their trace and OTP's errors: running, not_found", async () => {
    const { system } = newSystem();
    const events: string[] = [];
    const sup = await start(system, {}, workers(events, ['a', 'b']));
    const running = await sup.call({ type: 'restart_child', id: 'a' });
    expect(!running.ok && running.error.code).toBe(ErrorCode.ChildRunning);
    const runningDelete = await sup.call({ type: 'delete_child', id: 'a' });
    expect(!runningDelete.ok && runningDelete.error.code).toBe(ErrorCode.ChildRunning);
    expect(await sup.call({ type: 'terminate_child', id: 'a' })).toEqual({ ok: true });
    expect(await sup.call({ type: 'count_children' })).toEqual({ specs: 2, active: 1, supervisors: 0, workers: 2 });
    expect((await sup.call({ type: 'restart_child', id: 'a' })).ok).toBe(true);
    expect(await sup.call({ type: 'terminate_child', id: 'a' })).toEqual({ ok: true });
    expect(await sup.call({ type: 'delete_child', id: 'a' })).toEqual({ ok: true });
    for (const type of ['terminate_child', 'restart_child', 'delete_child', 'get_childspec'] as const) {
      const reply = await sup.call({ type, id: 'a' });
      expect(!reply.ok && reply.error.code).toBe(ErrorCode.ChildNotFound);
    }
    expect(events).toEqual(['start:a#1', 'start:b#1', 'stop:a#1:shutdown', 'start:a#2', 'stop:a#2:shutdown']);
  });

  it("get_childspec returns the spec with OTP's defaults filled in", async () => {
    const { system } = newSystem();
    const sup = await start(system, {}, [
      ...workers([], ['a'], { restart: 'transient' }),
      supervisorChild('s', { children: [] }),
    ]);
    const a = await sup.call({ type: 'get_childspec', id: 'a' });
    expect(a.ok && { id: a.spec.id, restart: a.spec.restart, shutdown: a.spec.shutdown, type: a.spec.type }).toEqual({
      id: 'a',
      restart: 'transient',
      shutdown: 5000,
      type: 'worker',
    });
    const s = await sup.call({ type: 'get_childspec', id: 's' });
    expect(s.ok && [s.spec.type, s.spec.shutdown]).toEqual(['supervisor', 'infinity']);
    expect(await sup.call({ type: 'count_children' })).toEqual({ specs: 2, active: 2, supervisors: 1, workers: 1 });
  });

  it('which_children shows a child whose restart failed as restarting, and restart_child/delete_child refuse it', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    let refuse = false;
    const sup = await start(system, { intensity: 1_000_000 }, workers(events, ['f'], {}, { failInit: () => refuse }));
    refuse = true;
    w(system, 'f').cast({ type: 'crash' });
    await until(async () => expect((await sup.call({ type: 'which_children' }))[0]!.pid).toBe('restarting'));
    const restart = await sup.call({ type: 'restart_child', id: 'f' });
    expect(!restart.ok && restart.error.code).toBe(ErrorCode.ChildRestarting);
    const del = await sup.call({ type: 'delete_child', id: 'f' });
    expect(!del.ok && del.error.code).toBe(ErrorCode.ChildRestarting);
    // terminate_child ends the retries; the child is then simply stopped.
    expect(await sup.call({ type: 'terminate_child', id: 'f' })).toEqual({ ok: true });
    expect((await sup.call({ type: 'which_children' }))[0]!.pid).toBeUndefined();
    refuse = false;
    expect((await sup.call({ type: 'restart_child', id: 'f' })).ok).toBe(true);
    expect(events).toEqual(['start:f#1', 'stop:f#1:EMON_CALLBACK_FAILED', 'start:f#2']);
  });

  it('a child whose failed restart is followed by ignore is stopped, not restarting: restart_child starts it', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    let mode: 'start' | 'fail' | 'ignore' = 'start';
    const [real] = workers(events, ['g']);
    const g: ChildSpec = {
      ...real!,
      start: (sys) =>
        mode === 'fail'
          ? Promise.reject(new Error('no database'))
          : mode === 'ignore'
            ? Promise.resolve('ignore' as const)
            : real!.start(sys),
    };
    const sup = await start(system, { intensity: 1_000_000 }, [g]);
    mode = 'fail';
    w(system, 'g').cast({ type: 'crash' });
    await until(async () => expect((await sup.call({ type: 'which_children' }))[0]!.pid).toBe('restarting'));
    mode = 'ignore';
    await until(async () => expect((await sup.call({ type: 'which_children' }))[0]!.pid).toBeUndefined());
    mode = 'start';
    expect((await sup.call({ type: 'restart_child', id: 'g' })).ok).toBe(true);
    expect(events.filter((e) => e.startsWith('start:'))).toEqual(['start:g#1', 'start:g#2']);
  });

  it('a supervisor that gives up while a restart keeps failing reports the failed start, not killed', async () => {
    const { system, reports } = newSystem();
    const events: string[] = [];
    let refuse = false;
    const sup = await start(system, { intensity: 3 }, workers(events, ['f'], {}, { failInit: () => refuse }));
    refuse = true;
    w(system, 'f').cast({ type: 'crash' });
    expect(await sup.exited).toBe('shutdown');
    expect(reports).toHaveLength(1);
    const reason = reports[0]!.childReason;
    expect(typeof reason === 'object' && 'crash' in reason && reason.crash.message).toMatch(/init|start|restart/i);
  });

  it('ignore from a start function: the child is not started, keeps its spec with no pid, and restart_child starts it', async () => {
    const { system } = newSystem();
    const events: string[] = [];
    let ignore = true;
    const [real] = workers(events, ['maybe']);
    const maybe: ChildSpec = {
      ...real!,
      start: (sys) => (ignore ? Promise.resolve('ignore' as const) : real!.start(sys)),
    };
    const tmp: ChildSpec = { ...maybe, id: 'tmp', restart: 'temporary' };
    const sup = await start(system, {}, [...workers(events, ['a']), maybe, tmp]);
    // A temporary child that returns ignore is not kept (OTP drops it).
    expect((await sup.call({ type: 'which_children' })).map((c) => [c.id, c.pid === undefined])).toEqual([
      ['a', false],
      ['maybe', true],
    ]);
    expect(await sup.call({ type: 'start_child', spec: { ...maybe, id: 'late' } })).toEqual({
      ok: true,
      pid: undefined,
    });
    ignore = false;
    const restarted = await sup.call({ type: 'restart_child', id: 'maybe' });
    expect(restarted.ok && typeof restarted.pid).toBe('number');
    expect(events).toEqual(['start:a#1', 'start:maybe#1']);
  });
});
