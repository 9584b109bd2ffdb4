/**
 * An `OtpSystem` is the context every process of one tree lives in: the nact runtime (mailboxes),
 * the name registry (so `system.ref('collector')` reaches the current incarnation after a
 * restart), the logger and the monotonic clock used for restart intensity. There is no global
 * default: each tree creates its own, so tests and embedded copies never share state.
 */
import { ErrorCode, MonitorError, NoProcError } from '../errors.js';
import { createLogger, type Logger } from '../logger.js';
import type { Pid, Protocol, ReplyTo, ServerRef } from './pid.js';
import type { ExitReason, ProcessRef } from './process.js';
import { Runtime } from './runtime.js';

export interface SystemOptions {
  /** Where process and supervisor reports go (default: JSON lines on stderr at `info`). */
  logger?: Logger;
  /** Monotonic clock in ms, used for restart intensity (default `performance.now`). */
  now?: () => number;
}

/**
 * A supervisor's report that it gave up (OTP's supervisor_report with errorContext `shutdown` and
 * reason `reached_max_restart_intensity`), made by the supervisor itself just before it stops its
 * children and exits `shutdown`.
 */
export interface SupervisorReport {
  /** The supervisor's name. */
  readonly supervisor: string;
  readonly reason: 'reached_max_restart_intensity';
  /** The child whose exit spent the intensity (OTP's offender) and why it exited. */
  readonly child: string;
  readonly childReason: ExitReason;
  /** One sentence: the limit and the last exit. */
  readonly message: string;
}

export type SupervisorReportListener = (report: SupervisorReport) => void;

let nextProcessId = 0;

export class OtpSystem {
  /** @internal The mailboxes (nact); only gen_server uses it. */
  readonly runtime = new Runtime();
  readonly log: Logger;
  readonly now: () => number;
  readonly #names = new Map<string, ProcessRef>();
  readonly #reportListeners = new Set<SupervisorReportListener>();

  constructor(options: SystemOptions = {}) {
    this.log = options.logger ?? createLogger();
    this.now = options.now ?? (() => performance.now());
  }

  /** A fresh process id. */
  nextId(): number {
    return ++nextProcessId;
  }

  /**
   * Registers `name` for `proc`.
   * @throws {MonitorError} `EMON_NAME_TAKEN` if a live process holds the name
   */
  register(name: string, proc: ProcessRef): void {
    const holder = this.#names.get(name);
    if (holder !== undefined && holder !== proc && holder.alive) {
      throw new MonitorError(
        ErrorCode.NameTaken,
        `name "${name}" is already registered to a live process (id ${holder.id})`,
      );
    }
    this.#names.set(name, proc);
  }

  /** Removes `name` if it still points at `proc` (a successor may already hold it). */
  unregister(name: string, proc: ProcessRef): void {
    if (this.#names.get(name) === proc) this.#names.delete(name);
  }

  /** The live process registered under `name`, if any. */
  whereis(name: string): ProcessRef | undefined {
    const proc = this.#names.get(name);
    return proc?.alive ? proc : undefined;
  }

  /**
   * A reference that resolves `name` at every send, so it keeps working across restarts. The
   * protocol type is the caller's promise about what runs under that name.
   */
  ref<P extends Protocol>(name: string): ServerRef<P> {
    const lookup = () => this.whereis(name) as Pid<P> | undefined;
    return {
      call<M extends P['call']>(msg: M, timeout?: number): Promise<ReplyTo<P, M>> {
        const pid = lookup();
        return pid
          ? pid.call(msg, timeout)
          : Promise.reject(new NoProcError(`"${name}"`, `noproc: no live process registered as "${name}"`));
      },
      cast(msg: P['cast']): void {
        lookup()?.cast(msg);
      },
      send(msg: P['info']): void {
        lookup()?.send(msg);
      },
    };
  }

  /** Calls `listener` with every supervisor report of this system. Returns the unsubscribe function. */
  onSupervisorReport(listener: SupervisorReportListener): () => void {
    this.#reportListeners.add(listener);
    return () => this.#reportListeners.delete(listener);
  }

  /** Logs a supervisor report (error level) and tells the listeners. */
  supervisorReport(report: SupervisorReport): void {
    const { supervisor, reason, child, message } = report;
    this.log.error(
      { supervisor, errorContext: 'shutdown', reason, offender: child, detail: message },
      'supervisor gave up: reached_max_restart_intensity',
    );
    for (const listener of [...this.#reportListeners]) {
      try {
        listener(report);
      } catch (thrown) {
        this.log.error(
          { supervisor, err: thrown instanceof Error ? thrown : new Error(String(thrown)) },
          'supervisor report listener threw',
        );
      }
    }
  }

  /** Stops the runtime. Call after the tree has stopped; live processes are not stopped here. */
  close(): void {
    this.runtime.stop();
  }
}
