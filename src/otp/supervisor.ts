/**
 * supervisor: a process that starts, watches and restarts child processes. Like supervisor.erl it
 * is itself a gen_server callback module, so child exits and calls are handled one at a time.
 *
 * Strategies (`one_for_one`, `one_for_all`, `rest_for_one`), restart types and intensity follow
 * OTP (defaults `one_for_one`, 1 restart in 5000 ms); past the intensity it reports, stops its
 * children in reverse order and exits `shutdown`. Restarts go through the mailbox so a stop can
 * get in between attempts. Full rules: docs/design-notes.md.
 */
import { ErrorCode, MonitorError, toError } from '../errors.js';
import {
  type Behaviour,
  initCause,
  type MessageSchema,
  type ServerContext,
  startServer,
  type StartOptions,
} from './gen-server.js';
import type { Pid, Protocol } from './pid.js';
import { type ExitReason, formatExitReason, isOrderlyExit, type ProcessRef, type ShutdownTimeout } from './process.js';
import type { OtpSystem } from './system.js';

export type Strategy = 'one_for_one' | 'one_for_all' | 'rest_for_one';
export type RestartType = 'permanent' | 'transient' | 'temporary';
export type ChildType = 'worker' | 'supervisor';

export interface ChildSpec {
  /** Unique among the supervisor's children. */
  id: string;
  /** Starts the child and resolves with its process once it is running (its init done). */
  start: (system: OtpSystem) => Promise<ProcessRef | 'ignore'>;
  /** Default `'permanent'`. */
  restart?: RestartType;
  /** Default 5000 ms for workers, `'infinity'` for supervisors. */
  shutdown?: ShutdownTimeout;
  /** Default `'worker'`. */
  type?: ChildType;
}

export interface SupervisorFlags {
  /** Default `'one_for_one'`. */
  strategy?: Strategy;
  /** Max restarts within `period` (default 1). */
  intensity?: number;
  /** ms (default 5000). */
  period?: number;
}

export interface SupervisorSpec {
  flags?: SupervisorFlags;
  children: readonly ChildSpec[];
}

/** One row of `which_children`. */
export interface ChildInfo {
  id: string;
  /** The running incarnation's process id, `'restarting'` between restart attempts, or undefined while stopped. */
  pid: number | 'restarting' | undefined;
  type: ChildType;
  restart: RestartType;
}

export interface SupervisorProtocol {
  call:
    | { type: 'which_children' }
    | { type: 'start_child'; spec: ChildSpec }
    | { type: 'terminate_child'; id: string }
    | { type: 'restart_child'; id: string }
    | { type: 'delete_child'; id: string }
    | { type: 'count_children' }
    | { type: 'get_childspec'; id: string };
  replies: {
    which_children: ChildInfo[];
    /** `pid` undefined: the start function returned `'ignore'`. */
    start_child: { ok: true; pid: number | undefined } | { ok: false; error: MonitorError };
    terminate_child: { ok: true } | { ok: false; error: MonitorError };
    restart_child: { ok: true; pid: number | undefined } | { ok: false; error: MonitorError };
    delete_child: { ok: true } | { ok: false; error: MonitorError };
    count_children: ChildCounts;
    get_childspec: { ok: true; spec: Required<ChildSpec> } | { ok: false; error: MonitorError };
  };
  cast: never;
  info: { type: 'EXIT'; id: string; pid: ProcessRef; reason: ExitReason } | { type: 'try_again_restart'; id: string };
}

/** OTP's count_children: child specs, running children, and specs of each type. */
export interface ChildCounts {
  specs: number;
  active: number;
  supervisors: number;
  workers: number;
}

export type SupervisorPid = Pid<SupervisorProtocol>;

type CheckedChild = Required<ChildSpec>;
type CheckedFlags = Required<SupervisorFlags>;

const STRATEGIES: readonly Strategy[] = ['one_for_one', 'one_for_all', 'rest_for_one'];
const RESTARTS: readonly RestartType[] = ['permanent', 'transient', 'temporary'];
const TYPES: readonly ChildType[] = ['worker', 'supervisor'];

function childSpecError(id: unknown, message: string): MonitorError {
  const who = typeof id === 'string' ? `child "${id}"` : 'child';
  return new MonitorError(ErrorCode.InvalidChildSpec, `${who}: ${message}`);
}

function validId(id: unknown): void {
  if (typeof id !== 'string' || id.length === 0)
    throw childSpecError(undefined, `invalid id: ${JSON.stringify(id)} (a non-empty string)`);
}

function validStart(id: string, start: unknown): void {
  if (typeof start !== 'function')
    throw childSpecError(id, `invalid start: expected a function returning a promise of the child process`);
}

function validRestart(id: string, restart: unknown): void {
  if (!RESTARTS.includes(restart as RestartType))
    throw childSpecError(id, `invalid restart: ${JSON.stringify(restart)} (allowed: ${RESTARTS.join(', ')})`);
}

function validShutdown(id: string, shutdown: unknown): void {
  const ok =
    shutdown === 'infinity' || shutdown === 'brutal_kill' || (Number.isInteger(shutdown) && (shutdown as number) >= 0);
  if (!ok)
    throw childSpecError(
      id,
      `invalid shutdown: ${JSON.stringify(shutdown)} (a non-negative integer of ms, 'infinity' or 'brutal_kill')`,
    );
}

function validType(id: string, type: unknown): void {
  if (!TYPES.includes(type as ChildType))
    throw childSpecError(id, `invalid type: ${JSON.stringify(type)} (allowed: ${TYPES.join(', ')})`);
}

/** Fills in defaults and validates one child spec. */
export function checkChildSpec(input: ChildSpec): CheckedChild {
  validId(input?.id);
  const type = input.type ?? 'worker';
  const spec: CheckedChild = {
    restart: 'permanent',
    shutdown: type === 'supervisor' ? 'infinity' : 5000,
    type,
    ...input,
  };
  validStart(spec.id, spec.start);
  validRestart(spec.id, spec.restart);
  validShutdown(spec.id, spec.shutdown);
  validType(spec.id, spec.type);
  return spec;
}

/**
 * Validates a list of child specs (defaults filled in).
 * @throws {MonitorError} `EMON_INVALID_CHILD_SPEC` naming the child and the field
 */
export function checkChildSpecs(specs: readonly ChildSpec[]): CheckedChild[] {
  if (!Array.isArray(specs)) throw childSpecError(undefined, 'children must be an array of child specs');
  const seen = new Set<string>();
  return (specs as readonly ChildSpec[]).map((input) => {
    const spec = checkChildSpec(input);
    if (seen.has(spec.id)) throw childSpecError(spec.id, 'duplicate id');
    seen.add(spec.id);
    return spec;
  });
}

/**
 * Fills in defaults and validates supervisor flags.
 * @throws {MonitorError} `EMON_INVALID_SUPERVISOR_FLAGS`
 */
export function checkFlags(input: SupervisorFlags = {}): CheckedFlags {
  const flags: CheckedFlags = { strategy: 'one_for_one', intensity: 1, period: 5000, ...input };
  if (!STRATEGIES.includes(flags.strategy)) {
    throw new MonitorError(
      ErrorCode.InvalidSupervisorFlags,
      `invalid strategy: ${JSON.stringify(flags.strategy)} (allowed: ${STRATEGIES.join(', ')})`,
    );
  }
  if (!Number.isInteger(flags.intensity) || flags.intensity < 0) {
    throw new MonitorError(
      ErrorCode.InvalidSupervisorFlags,
      `invalid intensity: ${JSON.stringify(flags.intensity)} (a non-negative integer)`,
    );
  }
  if (!Number.isInteger(flags.period) || flags.period < 1) {
    throw new MonitorError(
      ErrorCode.InvalidSupervisorFlags,
      `invalid period: ${JSON.stringify(flags.period)} (a positive integer of ms)`,
    );
  }
  return flags;
}

interface ChildRecord {
  spec: CheckedChild;
  pid: ProcessRef | undefined;
  unlink: (() => void) | undefined;
  /** A restart attempt failed and another is queued (OTP's `restarting` pid). */
  restarting: boolean;
  /** While `restarting`: why the last start failed, for the give-up report (OTP names the child's failure, not `killed`). */
  startFailure?: ExitReason;
}

interface SupState {
  flags: CheckedFlags;
  children: ChildRecord[];
  /** Monotonic timestamps of recent restarts (OTP's add_restart list). */
  restarts: number[];
}

type Ctx = ServerContext<SupervisorProtocol>;

function isProcess(value: unknown): value is ProcessRef {
  const p = value as ProcessRef | null;
  return typeof p?.link === 'function' && typeof p.stop === 'function' && typeof p.id === 'number';
}

/** Starts `rec`'s child; undefined when its start function returned `'ignore'`. */
async function startChild(rec: ChildRecord, ctx: Ctx): Promise<ProcessRef | undefined> {
  const pid: unknown = await rec.spec.start(ctx.system);
  if (pid === 'ignore') {
    // A child that resolved 'ignore' is not restarting: it is stopped, as OTP keeps it (no pid).
    rec.restarting = false;
    rec.startFailure = undefined;
    return undefined;
  }
  if (!isProcess(pid))
    throw new Error(`start of child "${rec.spec.id}" returned ${typeof pid}, not a process or 'ignore'`);
  rec.restarting = false;
  rec.startFailure = undefined;
  rec.pid = pid;
  rec.unlink = pid.link((reason) => ctx.self.send({ type: 'EXIT', id: rec.spec.id, pid, reason }));
  return pid;
}

async function stopChild(rec: ChildRecord): Promise<void> {
  const pid = rec.pid;
  rec.unlink?.();
  rec.pid = undefined;
  rec.unlink = undefined;
  rec.restarting = false;
  if (pid !== undefined) await pid.stop('shutdown', rec.spec.shutdown);
}

function shouldRestart(restart: RestartType, reason: ExitReason): boolean {
  return restart === 'permanent' || (restart === 'transient' && !isOrderlyExit(reason));
}

/** OTP's add_restart: record now, forget restarts older than the period, check the intensity. */
function addRestart(state: SupState, now: number): boolean {
  const { intensity, period } = state.flags;
  state.restarts = state.restarts.filter((t) => t > now - period);
  state.restarts.push(now);
  return state.restarts.length <= intensity;
}

/** The children that restart together with `rec` under the strategy, in start order. */
function restartGroup(state: SupState, rec: ChildRecord): ChildRecord[] {
  switch (state.flags.strategy) {
    case 'one_for_one':
      return [rec];
    case 'one_for_all':
      return state.children;
    case 'rest_for_one':
      return state.children.slice(state.children.indexOf(rec));
  }
}

async function restart(state: SupState, rec: ChildRecord, reason: ExitReason, ctx: Ctx) {
  if (!addRestart(state, ctx.system.now())) {
    const { intensity, period } = state.flags;
    const message = `${ctx.self.name}: more than ${intensity} restart(s) within ${period} ms; last: child "${rec.spec.id}" exited with ${formatExitReason(reason)}`;
    ctx.system.supervisorReport({
      supervisor: ctx.self.name,
      reason: 'reached_max_restart_intensity',
      child: rec.spec.id,
      childReason: reason,
      message,
    });
    return { stop: 'shutdown' as ExitReason, state };
  }
  const group = restartGroup(state, rec);
  for (const sibling of [...group].reverse()) {
    if (sibling !== rec && sibling.pid !== undefined) await stopChild(sibling);
  }
  // Temporary siblings stopped for a group restart are not restarted, as in OTP.
  const toStart = group.filter((c) => c === rec || c.spec.restart !== 'temporary');
  state.children = state.children.filter((c) => !group.includes(c) || toStart.includes(c));
  for (const child of toStart) {
    if (child.pid !== undefined) continue;
    try {
      const pid = await startChild(child, ctx);
      ctx.log.info({ supervisor: ctx.self.name, child: child.spec.id, pid: pid?.id ?? 'ignore' }, 'child restarted');
    } catch (thrown) {
      ctx.log.error(
        { supervisor: ctx.self.name, child: child.spec.id, err: toError(thrown) },
        'child failed to restart: trying again',
      );
      child.restarting = true;
      const error = toError(thrown);
      child.startFailure = {
        crash:
          error instanceof MonitorError
            ? error
            : new MonitorError(ErrorCode.InitFailed, `child "${child.spec.id}" failed to restart: ${error.message}`, {
                cause: thrown,
              }),
      };
      ctx.self.send({ type: 'try_again_restart', id: child.spec.id });
      return { state };
    }
  }
  return { state };
}

function find(state: SupState, id: string): ChildRecord | undefined {
  return state.children.find((c) => c.spec.id === id);
}

function notFound(id: string): { ok: false; error: MonitorError } {
  return { ok: false, error: new MonitorError(ErrorCode.ChildNotFound, `no child with id "${id}"`) };
}

/** OTP's `{error, running}` / `{error, restarting}` for a child that must be stopped first; undefined if it is. */
function notStopped(rec: ChildRecord): { ok: false; error: MonitorError } | undefined {
  if (rec.restarting)
    return {
      ok: false,
      error: new MonitorError(ErrorCode.ChildRestarting, `child "${rec.spec.id}" is restarting (terminate it first)`),
    };
  if (rec.pid !== undefined)
    return {
      ok: false,
      error: new MonitorError(ErrorCode.ChildRunning, `child "${rec.spec.id}" is running (terminate it first)`),
    };
  return undefined;
}

/** What a supervisor accepts; anything else is refused by the gen_server layer and changes nothing. */
export const SUPERVISOR_MESSAGES = {
  call: {
    which_children: {},
    start_child: { spec: 'required' },
    terminate_child: { id: 'required' },
    restart_child: { id: 'required' },
    delete_child: { id: 'required' },
    count_children: {},
    get_childspec: { id: 'required' },
  },
  cast: {},
  info: { EXIT: { id: 'required', pid: 'required', reason: 'required' }, try_again_restart: { id: 'required' } },
} as const satisfies MessageSchema<SupervisorProtocol>;

/**
 * `EMON_INIT_FAILED` for child `id` that failed to start, caused by the child's own error (e.g.
 * the dashboard's `EMON_LISTEN_FAILED`) rather than by the child's `EMON_INIT_FAILED` wrapper of
 * it, so `err.cause.code` says what went wrong however deep in the tree the child sat.
 */
function childStartError(id: string, thrown: unknown): MonitorError {
  const err = toError(thrown);
  return new MonitorError(ErrorCode.InitFailed, `child "${id}" failed to start: ${err.message}`, {
    cause: initCause(err),
  });
}

const supervisorBehaviour: Behaviour<SupState, SupervisorProtocol, SupervisorSpec> = {
  name: 'supervisor',
  messages: SUPERVISOR_MESSAGES,

  async init(spec, ctx) {
    const flags = checkFlags(spec.flags);
    const state: SupState = {
      flags,
      children: checkChildSpecs(spec.children).map((s) => ({
        spec: s,
        pid: undefined,
        unlink: undefined,
        restarting: false,
      })),
      restarts: [],
    };
    const ignoredTemporary = new Set<ChildRecord>();
    for (const rec of state.children) {
      try {
        if ((await startChild(rec, ctx)) === undefined && rec.spec.restart === 'temporary') ignoredTemporary.add(rec);
      } catch (thrown) {
        for (const started of [...state.children].reverse()) await stopChild(started);
        throw childStartError(rec.spec.id, thrown);
      }
    }
    state.children = state.children.filter((c) => !ignoredTemporary.has(c));
    return state;
  },

  async handleCall(msg, state, ctx) {
    switch (msg.type) {
      case 'which_children':
        return {
          reply: state.children.map((c) => ({
            id: c.spec.id,
            pid: c.restarting ? 'restarting' : c.pid?.id,
            type: c.spec.type,
            restart: c.spec.restart,
          })),
          state,
        };
      case 'count_children': {
        const supervisors = state.children.filter((c) => c.spec.type === 'supervisor').length;
        const active = state.children.filter((c) => c.pid !== undefined).length;
        return {
          reply: { specs: state.children.length, active, supervisors, workers: state.children.length - supervisors },
          state,
        };
      }
      case 'get_childspec': {
        const rec = find(state, msg.id);
        return { reply: rec ? { ok: true, spec: { ...rec.spec } } : notFound(msg.id), state };
      }
      case 'start_child': {
        let spec: CheckedChild;
        try {
          spec = checkChildSpec(msg.spec);
          if (find(state, spec.id)) throw childSpecError(spec.id, 'duplicate id');
        } catch (err) {
          return { reply: { ok: false, error: err as MonitorError }, state };
        }
        const rec: ChildRecord = { spec, pid: undefined, unlink: undefined, restarting: false };
        try {
          const pid = await startChild(rec, ctx);
          if (pid !== undefined || spec.restart !== 'temporary') state.children.push(rec);
          return { reply: { ok: true, pid: pid?.id }, state };
        } catch (thrown) {
          const error = childStartError(spec.id, thrown);
          return { reply: { ok: false, error }, state };
        }
      }
      case 'terminate_child': {
        const rec = find(state, msg.id);
        if (!rec) return { reply: notFound(msg.id), state };
        await stopChild(rec);
        if (rec.spec.restart === 'temporary') state.children = state.children.filter((c) => c !== rec);
        return { reply: { ok: true }, state };
      }
      case 'restart_child': {
        const rec = find(state, msg.id);
        if (!rec) return { reply: notFound(msg.id), state };
        const busy = notStopped(rec);
        if (busy) return { reply: busy, state };
        try {
          const pid = await startChild(rec, ctx);
          return { reply: { ok: true, pid: pid?.id }, state };
        } catch (thrown) {
          const error = childStartError(msg.id, thrown);
          return { reply: { ok: false, error }, state };
        }
      }
      case 'delete_child': {
        const rec = find(state, msg.id);
        if (!rec) return { reply: notFound(msg.id), state };
        const busy = notStopped(rec);
        if (busy) return { reply: busy, state };
        state.children = state.children.filter((c) => c !== rec);
        return { reply: { ok: true }, state };
      }
    }
  },

  async handleInfo(msg, state, ctx) {
    switch (msg.type) {
      case 'EXIT': {
        const rec = find(state, msg.id);
        // A stale exit: the child was already stopped or replaced by this supervisor.
        if (rec === undefined || rec.pid !== msg.pid) return { state };
        rec.pid = undefined;
        rec.unlink = undefined;
        const fields = { supervisor: ctx.self.name, child: msg.id, reason: formatExitReason(msg.reason) };
        if (!shouldRestart(rec.spec.restart, msg.reason)) {
          // OTP reports a temporary child's abnormal exit as child_terminated; an orderly one quietly.
          if (isOrderlyExit(msg.reason)) ctx.log.info(fields, 'child exited: not restarted');
          else ctx.log.error(fields, 'child terminated: not restarted (temporary)');
          if (rec.spec.restart === 'temporary') state.children = state.children.filter((c) => c !== rec);
          return { state };
        }
        ctx.log.error(fields, 'child terminated: restarting');
        return restart(state, rec, msg.reason, ctx);
      }
      case 'try_again_restart': {
        const rec = find(state, msg.id);
        if (!rec?.restarting) return { state };
        return restart(state, rec, rec.startFailure ?? 'killed', ctx);
      }
    }
  },

  async terminate(_reason, state) {
    for (const rec of [...state.children].reverse()) await stopChild(rec);
  },

  // Killed: OTP's links carry `killed` to every child at once, and an exit-trapping child (every
  // process here has a terminate) runs terminate(killed). No parent is left to cut off a child
  // that hangs in terminate, so its own shutdown time bounds it here.
  onKill(_reason, state) {
    for (const rec of [...state.children].reverse()) {
      const pid = rec.pid;
      rec.unlink?.();
      rec.pid = undefined;
      rec.unlink = undefined;
      rec.restarting = false;
      void pid?.stop('killed', rec.spec.shutdown === 'brutal_kill' ? 'infinity' : rec.spec.shutdown);
    }
  },
};

/**
 * Starts a supervisor and its children (in order). Resolves once all are running.
 * @throws {MonitorError} (rejects) `EMON_INIT_FAILED` if a spec is invalid or a child fails to
 *   start; children already started are stopped first, in reverse order
 */
export function startSupervisor(
  system: OtpSystem,
  spec: SupervisorSpec,
  options: StartOptions = {},
): Promise<SupervisorPid> {
  // A supervisor's init is as long as its children's starts; they have their own timeouts.
  return startServer(system, supervisorBehaviour, spec, { initTimeout: 2 ** 31 - 1, ...options });
}

/** A child spec for a nested supervisor. */
export function supervisorChild(
  id: string,
  spec: SupervisorSpec,
  extra: Omit<ChildSpec, 'id' | 'start' | 'type'> = {},
): ChildSpec {
  return { id, type: 'supervisor', start: (system) => startSupervisor(system, spec), ...extra };
}

/** A child spec for a gen_server worker. */
export function workerChild<S, P extends Protocol, A>(
  id: string,
  behaviour: Behaviour<S, P, A>,
  args: A,
  extra: Omit<ChildSpec, 'id' | 'start' | 'type'> & { name?: string } = {},
): ChildSpec {
  const { name, ...rest } = extra;
  return {
    id,
    type: 'worker',
    start: (system) => startServer(system, behaviour, args, name === undefined ? {} : { name }),
    ...rest,
  };
}
