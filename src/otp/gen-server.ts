/**
 * gen_server: a generic server loop around a callback module (a `Behaviour`), so each process
 * handles its messages one at a time with OTP's semantics.
 *
 * Constraints: every message is checked against the behaviour's `messages` schema first (a bad
 * message is refused, never a crash); a callback that throws or returns a bad value stops the
 * server; `terminate` runs once per exit except a failed init or a kill (`onKill` then). An async
 * `terminate` cut off at its shutdown timeout cannot be stopped from outside: `signal` is aborted
 * so it can stop its own work. Callback contract and exit details: docs/design-notes.md.
 */
import { checkMessage, type CompiledFields, compileFields, type MessageFields } from '../check-message.js';
import { CallTimeoutError, describeValue, ErrorCode, MonitorError, NoProcError, toError } from '../errors.js';
import type { Logger } from '../logger.js';
import { type AnyReply, DEFAULT_CALL_TIMEOUT, type Message, type Pid, type Protocol, type ReplyTo } from './pid.js';
import {
  type ExitListener,
  type ExitReason,
  formatExitReason,
  isOrderlyExit,
  type ShutdownTimeout,
} from './process.js';
import type { Mailbox } from './runtime.js';
import type { OtpSystem } from './system.js';
import { TimerRef, TimerSet } from './timers.js';

type MaybePromise<T> = T | Promise<T>;

/**
 * What `handleCall` returns: a reply and the new state, optionally stopping after replying; or an
 * `error`, which rejects the caller's promise while the server carries on (a refused request,
 * not a crash); or `defer`, a promise whose outcome answers the caller later (its call timeout
 * still runs, and if the server exits first the caller gets `EMON_SERVER_EXITED`) while the next
 * message is handled now: how a server lets many callers share one slow step, such as a commit.
 */
export type CallResult<S, R> =
  | { reply: R; state: S; stop?: undefined }
  | { error: Error; state: S; stop?: undefined }
  | { defer: Promise<R>; state: S; stop?: undefined }
  | { stop: ExitReason; reply?: R; state: S };

/** What `handleCast` and `handleInfo` return: the new state, optionally stopping. */
export interface NoReplyResult<S> {
  state: S;
  stop?: ExitReason;
}

/** What callbacks can do besides returning: their own pid, timers, the logger. */
export interface ServerContext<P extends Protocol> {
  readonly self: Pid<P>;
  readonly system: OtpSystem;
  readonly log: Logger;
  /** Sends `msg` to this incarnation's `handleInfo` after `ms`. Cancelled if it exits first. */
  sendAfter(ms: number, msg: P['info']): TimerRef;
  /** Sends `msg` to `handleInfo` every `ms` (ticks coalesce while one is queued). */
  interval(ms: number, msg: P['info']): TimerRef;
  cancelTimer(ref: TimerRef): boolean;
}

/**
 * The messages a server takes, per kind: each `type` of the protocol's union and its fields. The
 * type is derived from `P`, so a schema that misses a type or field of the protocol, or lists one
 * it does not have, does not compile.
 */
export interface MessageSchema<P extends Protocol> {
  readonly call: MessageFields<P['call']>;
  readonly cast: MessageFields<P['cast']>;
  readonly info: MessageFields<P['info']>;
}

/** The callback module of a server with state `S`, protocol `P` and start arguments `A`. */
export interface Behaviour<S, P extends Protocol, A = void> {
  /** Used in generated names and log lines, e.g. `'collector'`. */
  readonly name: string;
  /** What the server accepts; anything else is refused with `EMON_BAD_MESSAGE` before a callback runs. */
  readonly messages: MessageSchema<P>;
  init(args: A, ctx: ServerContext<P>): MaybePromise<S>;
  handleCall?(msg: P['call'], state: S, ctx: ServerContext<P>): MaybePromise<CallResult<S, AnyReply<P>>>;
  handleCast?(msg: P['cast'], state: S, ctx: ServerContext<P>): MaybePromise<NoReplyResult<S>>;
  handleInfo?(msg: P['info'], state: S, ctx: ServerContext<P>): MaybePromise<NoReplyResult<S>>;
  /** `signal` aborts when the process is cut off at its shutdown timeout (see the header). */
  terminate?(reason: ExitReason, state: S, ctx: ServerContext<P>, signal: AbortSignal): MaybePromise<void>;
  /**
   * Runs synchronously when the process is killed instead of stopping (`kill()`, `brutal_kill`,
   * or a stop that outran its timeout), where `terminate` does not run: release here what must
   * not outlive the process (a supervisor kills its children, as OTP's links would).
   */
  onKill?(reason: ExitReason, state: S, ctx: ServerContext<P>): void;
  /**
   * Told of each cast the schema refused (it has been dropped; the state is as it was), for a
   * server that counts what it refuses. A throw here is logged, never a crash. Without it, and
   * for refused info messages, the server logs a warning for the first
   * {@link MAX_LOGGED_REFUSALS} distinct refusals of the incarnation.
   */
  refusedCast?(error: MonitorError, state: S, ctx: ServerContext<P>): void;
}

/** Distinct refused casts and info messages a server logs before going quiet (casts: without `refusedCast`). */
export const MAX_LOGGED_REFUSALS = 20;

export interface StartOptions {
  /** Register under this name (see `OtpSystem.ref`). */
  name?: string;
  /** ms `init` may take before the start fails (default 30000). */
  initTimeout?: number;
  /** ms `terminate` may take after a crash before the process is cut off (default 5000). */
  terminateTimeout?: number;
}

type Envelope<P extends Protocol> =
  | { kind: 'call'; msg: P['call']; pending: PendingCall }
  | { kind: 'cast'; msg: P['cast'] }
  | { kind: 'info'; msg: P['info']; onHandled?: () => void }
  | { kind: 'stop'; reason: ExitReason };

/** One outstanding `call`: settled exactly once, by the reply, the timeout, or the server's exit. */
class PendingCall {
  timer: NodeJS.Timeout | undefined;
  #settled = false;

  constructor(
    readonly type: string,
    readonly owner: Set<PendingCall>,
    private readonly onResolve: (value: unknown) => void,
    private readonly onReject: (err: Error) => void,
  ) {}

  resolve(value: unknown): void {
    if (this.#settle()) this.onResolve(value);
  }

  reject(err: Error): void {
    if (this.#settle()) this.onReject(err);
  }

  #settle(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    clearTimeout(this.timer);
    this.owner.delete(this);
    return true;
  }
}

/**
 * What an `EMON_INIT_FAILED` for `err` names as its cause: `err`, unless `err` is itself an
 * `EMON_INIT_FAILED` wrapper (a supervisor's init reporting a child that failed to start), whose
 * cause is passed up instead, so a start failure's `cause` is the failing process's own error at
 * every level of the tree, not a chain of wrappers.
 */
export function initCause(err: Error): unknown {
  return err instanceof MonitorError && err.code === ErrorCode.InitFailed && err.cause !== undefined ? err.cause : err;
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function typeOf(msg: unknown): string {
  try {
    const type = (msg as Message | null)?.type;
    return typeof type === 'string' ? type : describeValue(msg);
  } catch {
    // A getter or proxy trap that throws: the schema check refuses the message later.
    return 'an unreadable message';
  }
}

/**
 * Starts a server: registers its name, runs `init`, and resolves with its pid once `init` is done.
 * @throws {MonitorError} (rejects) `EMON_INIT_FAILED` when init throws, rejects or times out, with
 *   what init threw as its `cause` (see `initCause`: a failed child's own error, for a supervisor);
 *   `EMON_NAME_TAKEN` when the name is held by a live process; `EMON_INVALID_OPTION` when the
 *   behaviour's `messages` schema is missing or malformed (a plain JS behaviour can get wrong
 *   what the type requires)
 */
export async function startServer<S, P extends Protocol, A>(
  system: OtpSystem,
  behaviour: Behaviour<S, P, A>,
  args: A,
  options: StartOptions = {},
): Promise<Pid<P>> {
  checkSchema(behaviour);
  // Before the server exists (its constructor registers the name): a bad schema leaves nothing behind.
  compiledSchema(behaviour.messages);
  const server = new GenServer<S, P, A>(system, behaviour, options);
  await server.start(args, options.initTimeout ?? 30_000);
  return server;
}

class GenServer<S, P extends Protocol, A> implements Pid<P> {
  readonly id: number;
  readonly name: string;
  readonly exited: Promise<ExitReason>;

  readonly #system: OtpSystem;
  readonly #behaviour: Behaviour<S, P, A>;
  readonly #mailbox: Mailbox<Envelope<P>>;
  readonly #timers: TimerSet<P['info']>;
  readonly #pending = new Set<PendingCall>();
  readonly #links = new Set<ExitListener>();
  readonly #ctx: ServerContext<P>;
  readonly #terminateTimeout: number;
  #resolveExited!: (reason: ExitReason) => void;
  #state!: S;
  #initialized = false;
  #alive = true;
  #exitReason: ExitReason | undefined;
  #stopRequested = false;
  /** Aborted when the process is killed while `terminate` runs. */
  readonly #terminating = new AbortController();
  /** Messages sent while `init` runs; `undefined` once started. */
  #early: Envelope<P>[] | undefined = [];
  /** Refusal messages already logged (bounded by MAX_LOGGED_REFUSALS). */
  readonly #loggedRefusals = new Set<string>();
  readonly #schema: Record<'call' | 'cast' | 'info', CompiledFields>;

  constructor(system: OtpSystem, behaviour: Behaviour<S, P, A>, options: StartOptions) {
    this.#system = system;
    this.#behaviour = behaviour;
    this.id = system.nextId();
    this.name = options.name ?? `${behaviour.name}#${this.id}`;
    this.#terminateTimeout = options.terminateTimeout ?? 5000;
    this.#schema = compiledSchema(behaviour.messages);
    this.exited = new Promise((resolve) => (this.#resolveExited = resolve));
    if (options.name !== undefined) system.register(options.name, this);
    this.#mailbox = system.runtime.spawn(behaviour.name, (env: Envelope<P>) => this.#handle(env));
    this.#timers = new TimerSet((msg, onHandled) => {
      if (this.#alive) this.#post({ kind: 'info', msg, onHandled });
    });
    const timers = this.#timers;
    this.#ctx = {
      self: this,
      system,
      log: system.log,
      sendAfter: (ms, msg) => timers.sendAfter(ms, msg),
      interval: (ms, msg) => timers.interval(ms, msg),
      cancelTimer: (ref) => timers.cancel(ref),
    };
  }

  get alive(): boolean {
    return this.#alive;
  }

  async start(args: A, initTimeout: number): Promise<void> {
    try {
      let state = this.#behaviour.init(args, this.#ctx);
      if (isThenable(state))
        state = await withTimeout(state, initTimeout, `init did not finish within ${initTimeout} ms`);
      this.#state = state;
      this.#initialized = true;
      const killed = this.#exitReason;
      if (killed !== undefined) {
        this.#runOnKill(killed);
        throw new Error(`killed (${formatExitReason(killed)}) while init was running`);
      }
    } catch (thrown) {
      const err = toError(thrown);
      const failure = new MonitorError(ErrorCode.InitFailed, `${this.name}: init failed: ${err.message}`, {
        cause: initCause(err),
      });
      this.#alive = false;
      this.#timers.cancelAll();
      this.#finish({ crash: failure });
      throw failure;
    }
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const env of early) this.#mailbox.post(env);
  }

  call<M extends P['call']>(msg: M, timeout: number = DEFAULT_CALL_TIMEOUT): Promise<ReplyTo<P, M>> {
    if (!this.#alive) return Promise.reject(new NoProcError(this.name));
    if (!Number.isFinite(timeout) || timeout <= 0) {
      return Promise.reject(
        new MonitorError(
          ErrorCode.InvalidOption,
          `call timeout must be a positive number of ms, got ${String(timeout)}`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const type = typeOf(msg);
      const pending = new PendingCall(type, this.#pending, resolve as (v: unknown) => void, reject);
      pending.timer = setTimeout(() => pending.reject(new CallTimeoutError(this.name, type, timeout)), timeout);
      this.#pending.add(pending);
      this.#post({ kind: 'call', msg, pending });
    });
  }

  cast(msg: P['cast']): void {
    if (this.#alive) this.#post({ kind: 'cast', msg });
  }

  send(msg: P['info']): void {
    if (this.#alive) this.#post({ kind: 'info', msg });
  }

  link(listener: ExitListener): () => void {
    const reason = this.#exitReason;
    if (reason !== undefined) {
      queueMicrotask(() => listener(reason));
      return () => {};
    }
    this.#links.add(listener);
    return () => this.#links.delete(listener);
  }

  stop(reason: ExitReason = 'shutdown', timeout: ShutdownTimeout = 5000): Promise<ExitReason> {
    if (timeout === 'brutal_kill') {
      this.#kill(false);
      return this.exited;
    }
    if (this.#alive && !this.#stopRequested) {
      this.#stopRequested = true;
      this.#post({ kind: 'stop', reason });
    }
    if (this.#exitReason === undefined && timeout !== 'infinity') {
      const killer = setTimeout(() => this.#kill(), timeout);
      void this.exited.then(() => clearTimeout(killer));
    }
    return this.exited;
  }

  #post(env: Envelope<P>): void {
    if (this.#early !== undefined) this.#early.push(env);
    else this.#mailbox.post(env);
  }

  /** The mailbox handler. It never throws: every failure becomes this server's exit. */
  async #handle(env: Envelope<P>): Promise<void> {
    if (!this.#alive) {
      if (env.kind === 'call') env.pending.reject(new NoProcError(this.name));
      return;
    }
    if (env.kind === 'stop') return this.#exit(env.reason, 'stop');
    if (env.kind === 'info') env.onHandled?.();
    const refusal = this.#check(env.kind, env.msg);
    if (refusal !== undefined) {
      if (env.kind === 'call') env.pending.reject(refusal);
      else this.#refused(env.kind, refusal);
      return;
    }
    const b = this.#behaviour;
    let where = '';
    let result: unknown;
    try {
      switch (env.kind) {
        case 'call':
          where = `handleCall(${typeOf(env.msg)})`;
          if (b.handleCall === undefined) throw new Error(`unexpected call: ${b.name} has no handleCall`);
          result = b.handleCall(env.msg, this.#state, this.#ctx);
          break;
        case 'cast':
          where = `handleCast(${typeOf(env.msg)})`;
          if (b.handleCast === undefined) throw new Error(`unexpected cast: ${b.name} has no handleCast`);
          result = b.handleCast(env.msg, this.#state, this.#ctx);
          break;
        case 'info':
          where = `handleInfo(${typeOf(env.msg)})`;
          if (b.handleInfo === undefined) {
            this.#system.log.warn(
              { server: this.name, message: typeOf(env.msg) },
              'unexpected info message dropped: no handleInfo',
            );
            return;
          }
          result = b.handleInfo(env.msg, this.#state, this.#ctx);
          break;
      }
      if (isThenable(result)) result = await result;
    } catch (thrown) {
      const err = toError(thrown);
      return this.#exit(
        {
          crash: new MonitorError(ErrorCode.CallbackFailed, `${this.name}: ${where} threw: ${err.message}`, {
            cause: err,
          }),
        },
        'crash',
      );
    }
    // Killed while an async callback was pending: its result belongs to nobody.
    if (!this.#alive) return;
    if (!isResult(result, env.kind === 'call')) {
      const expected =
        env.kind === 'call'
          ? '{ reply, state }, { error, state }, { defer, state } or { stop, state }'
          : '{ state } or { stop, state }';
      const failure = new MonitorError(
        ErrorCode.BadReturnValue,
        `${this.name}: ${where} returned ${describeValue(result)}; expected ${expected}`,
      );
      return this.#exit({ crash: failure }, 'crash');
    }
    this.#state = result.state as S;
    if (env.kind === 'call') {
      if ('reply' in result) env.pending.resolve(result.reply);
      else if (result.error instanceof Error) env.pending.reject(result.error);
      else if (isThenable(result.defer)) {
        const pending = env.pending;
        result.defer.then(
          (value) => pending.resolve(value),
          (err: unknown) => pending.reject(toError(err)),
        );
      }
    }
    if (result.stop !== undefined) return this.#exit(result.stop, 'stop');
  }

  /** The schema's refusal of `msg`, or undefined when it is well-formed. */
  #check(kind: 'call' | 'cast' | 'info', msg: unknown): MonitorError | undefined {
    try {
      checkMessage(kind, msg, this.#schema[kind], `${this.name}: `);
      return undefined;
    } catch (err) {
      if (err instanceof MonitorError) return err;
      // A getter or proxy trap that throws while the message is read: still just a bad message.
      return new MonitorError(
        ErrorCode.BadMessage,
        `${this.name}: ${kind} could not be read: ${toError(err).message}`,
        { cause: err },
      );
    }
  }

  #refused(kind: 'cast' | 'info', error: MonitorError): void {
    const refused = kind === 'cast' ? this.#behaviour.refusedCast : undefined;
    if (refused !== undefined) {
      try {
        refused.call(this.#behaviour, error, this.#state, this.#ctx);
      } catch (thrown) {
        this.#system.log.error({ server: this.name, err: toError(thrown) }, 'refusedCast threw');
      }
      return;
    }
    if (this.#loggedRefusals.size >= MAX_LOGGED_REFUSALS || this.#loggedRefusals.has(error.message)) return;
    this.#loggedRefusals.add(error.message);
    this.#system.log.warn({ server: this.name, err: error }, `${kind} message refused`);
  }

  /** Begins exiting: no more messages or timers; runs `terminate`; then finishes. */
  async #exit(reason: ExitReason, how: 'stop' | 'crash'): Promise<void> {
    if (!this.#alive) return;
    this.#alive = false;
    this.#timers.cancelAll();
    if (!isOrderlyExit(reason)) {
      this.#system.log.error({ server: this.name, reason: formatExitReason(reason) }, 'server terminating abnormally');
    }
    const terminate = this.#behaviour.terminate;
    if (terminate !== undefined) {
      try {
        const done = terminate.call(this.#behaviour, reason, this.#state, this.#ctx, this.#terminating.signal);
        if (isThenable(done)) {
          // After a stop request the stopper's timeout bounds terminate; after a crash, ours does.
          await (how === 'crash'
            ? withTimeout(done, this.#terminateTimeout, 'terminate timed out', () => this.#terminating.abort('killed'))
            : done);
        }
      } catch (thrown) {
        this.#system.log.error({ server: this.name, err: toError(thrown) }, 'terminate failed');
      }
    }
    this.#finish(reason);
  }

  kill(reason: ExitReason = 'killed'): void {
    this.#kill(false, reason);
  }

  #kill(timedOut = true, reason: ExitReason = 'killed'): void {
    if (this.#exitReason !== undefined) return;
    this.#alive = false;
    this.#timers.cancelAll();
    if (timedOut) this.#system.log.warn({ server: this.name }, 'did not stop within its shutdown time: killed');
    if (this.#initialized) this.#runOnKill(reason);
    this.#finish(reason);
    this.#terminating.abort(reason);
  }

  #runOnKill(reason: ExitReason): void {
    try {
      this.#behaviour.onKill?.(reason, this.#state, this.#ctx);
    } catch (thrown) {
      this.#system.log.error({ server: this.name, err: toError(thrown) }, 'onKill failed');
    }
  }

  #finish(reason: ExitReason): void {
    if (this.#exitReason !== undefined) return;
    this.#exitReason = reason;
    this.#early = undefined;
    this.#system.runtime.close(this.#mailbox);
    this.#system.unregister(this.name, this);
    for (const pending of [...this.#pending]) {
      pending.reject(
        new MonitorError(
          ErrorCode.ServerExited,
          `${this.name} exited (${formatExitReason(reason)}) before replying to ${pending.type}`,
        ),
      );
    }
    this.#resolveExited(reason);
    const links = [...this.#links];
    this.#links.clear();
    for (const listener of links) {
      try {
        listener(reason);
      } catch (thrown) {
        this.#system.log.error({ server: this.name, err: toError(thrown) }, 'exit listener threw');
      }
    }
  }
}

const compiled = new WeakMap<object, Record<'call' | 'cast' | 'info', CompiledFields>>();

/** A behaviour's schema prepared once, shared by its incarnations. */
function compiledSchema(messages: MessageSchema<Protocol>): Record<'call' | 'cast' | 'info', CompiledFields> {
  let schema = compiled.get(messages);
  if (schema === undefined) {
    const kind = (k: 'call' | 'cast' | 'info') => compileFields(messages[k], `messages.${k}`);
    schema = { call: kind('call'), cast: kind('cast'), info: kind('info') };
    compiled.set(messages, schema);
  }
  return schema;
}

function checkSchema(behaviour: { readonly name?: unknown; readonly messages?: unknown }): void {
  const messages: unknown = behaviour?.messages;
  const isTable = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (
    !isTable(messages) ||
    !(['call', 'cast', 'info'] as const).every((k) => isTable((messages as Record<string, unknown>)[k]))
  ) {
    const name = typeof behaviour?.name === 'string' ? `"${behaviour.name}"` : describeValue(behaviour?.name);
    throw new MonitorError(
      ErrorCode.InvalidOption,
      `behaviour ${name}: messages must be { call, cast, info }, each mapping the message types it takes to their fields ({ field: 'required' | 'optional' }), got ${describeValue(messages)}`,
    );
  }
}

function isResult(
  value: unknown,
  needsReply: boolean,
): value is { state: unknown; reply?: unknown; error?: unknown; defer?: unknown; stop?: ExitReason } {
  if (typeof value !== 'object' || value === null || !('state' in value)) return false;
  const r = value as { stop?: unknown; error?: unknown; defer?: unknown };
  return !needsReply || 'reply' in value || r.error instanceof Error || isThenable(r.defer) || r.stop !== undefined;
}

function withTimeout<T>(promise: PromiseLike<T>, ms: number, message: string, onTimeout?: () => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout?.();
      reject(new Error(message));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
