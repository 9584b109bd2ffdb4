/** A test worker whose life events are recorded, with messages that crash it in every way. */
import {
  type Behaviour,
  type ChildSpec,
  crashOf,
  type ExitReason,
  formatExitReason,
  type MessageSchema,
  type ServerContext,
  workerChild,
} from '../../src/otp/index.js';

export interface WorkerProtocol {
  call: { type: 'ping' } | { type: 'count' } | { type: 'hang' } | { type: 'crash_in_call' };
  replies: { ping: 'pong'; count: number; hang: never; crash_in_call: never };
  cast:
    | { type: 'add'; by: number }
    | { type: 'crash' }
    | { type: 'crash_async' }
    | { type: 'exit'; reason: ExitReason }
    | { type: 'bad_return' }
    | { type: 'crash_after'; ms: number }
    | { type: 'tick_every'; ms: number };
  info: { type: 'tick' } | { type: 'boom' };
}

export const WORKER_MESSAGES = {
  call: { ping: {}, count: {}, hang: {}, crash_in_call: {} },
  cast: {
    add: { by: 'required' },
    crash: {},
    crash_async: {},
    exit: { reason: 'required' },
    bad_return: {},
    crash_after: { ms: 'required' },
    tick_every: { ms: 'required' },
  },
  info: { tick: {}, boom: {} },
} as const satisfies MessageSchema<WorkerProtocol>;

export interface WorkerState {
  id: string;
  incarnation: number;
  count: number;
}

export interface WorkerOptions {
  /** Throw from init (for failed-start tests). */
  failInit?: () => boolean;
  /** Start an interval timer in init. */
  tickEvery?: number;
  /** Schedule a one-shot `tick` from init. */
  tickAfter?: number;
  /** Make terminate hang forever. */
  hangInTerminate?: boolean;
}

const incarnations = new Map<string, number>();

/** Events look like `start:a#1`, `stop:a#1:shutdown`, `tick:a#1`. */
export function recordingWorker(
  events: string[],
  options: WorkerOptions = {},
): Behaviour<WorkerState, WorkerProtocol, string> {
  const tag = (s: WorkerState) => `${s.id}#${s.incarnation}`;
  return {
    name: 'test-worker',
    messages: WORKER_MESSAGES,
    init(id, ctx: ServerContext<WorkerProtocol>) {
      if (options.failInit?.()) throw new Error(`init of ${id} refused`);
      const key = `${id}@${eventsId(events)}`;
      const incarnation = (incarnations.get(key) ?? 0) + 1;
      incarnations.set(key, incarnation);
      const state = { id, incarnation, count: 0 };
      events.push(`start:${tag(state)}`);
      if (options.tickEvery !== undefined) ctx.interval(options.tickEvery, { type: 'tick' });
      if (options.tickAfter !== undefined) ctx.sendAfter(options.tickAfter, { type: 'tick' });
      return state;
    },
    handleCall(msg, state) {
      switch (msg.type) {
        case 'ping':
          return { reply: 'pong', state };
        case 'count':
          return { reply: state.count, state };
        case 'hang':
          return new Promise(() => {});
        case 'crash_in_call':
          throw new Error(`${state.id} crashed in a call`);
      }
    },
    async handleCast(msg, state, ctx) {
      switch (msg.type) {
        case 'add':
          state.count += msg.by;
          return { state };
        case 'crash':
          throw new Error(`${state.id} crashed`);
        case 'crash_async':
          await Promise.resolve();
          return Promise.reject(new Error(`${state.id} rejected`));
        case 'exit':
          return { stop: msg.reason, state };
        case 'bad_return':
          return 42 as never;
        case 'crash_after':
          ctx.sendAfter(msg.ms, { type: 'boom' });
          return { state };
        case 'tick_every':
          ctx.interval(msg.ms, { type: 'tick' });
          return { state };
      }
    },
    handleInfo(msg, state) {
      if (msg.type === 'boom') throw new Error(`${state.id} crashed in a timer message`);
      events.push(`tick:${tag(state)}`);
      return { state };
    },
    terminate(reason, state, _ctx, signal) {
      events.push(`stop:${tag(state)}:${crashOf(reason)?.code ?? formatExitReason(reason)}`);
      if (options.hangInTerminate) {
        // Hangs until cut off; the abort is recorded so a test can see terminate was told.
        return new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => {
            events.push(`aborted:${tag(state)}:${formatExitReason(signal.reason as ExitReason)}`);
            resolve();
          }),
        );
      }
    },
  };
}

const ids = new WeakMap<string[], number>();
let nextEventsId = 0;
function eventsId(events: string[]): number {
  let id = ids.get(events);
  if (id === undefined) ids.set(events, (id = ++nextEventsId));
  return id;
}

/** Recording workers, one per id (registered under its id), with `extra` spec fields. */
export function workers(
  events: string[],
  ids: string[],
  extra: Partial<ChildSpec> = {},
  options: WorkerOptions = {},
): ChildSpec[] {
  return ids.map((id) => ({ ...workerChild(id, recordingWorker(events, options), id, { name: id }), ...extra }));
}
