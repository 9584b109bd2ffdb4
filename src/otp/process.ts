/**
 * What every process (a gen_server incarnation or a supervisor) looks like from outside: an
 * identity, whether it is alive, how to be told when it exits (a link), and how to stop it.
 *
 * Exit reasons follow OTP: `'normal'` and `'shutdown'` are orderly; `'killed'` means it did not
 * stop within its shutdown time and was cut off; `{ crash }` carries the error that ended it.
 */
import type { MonitorError } from '../errors.js';

export type ExitReason = 'normal' | 'shutdown' | 'killed' | { readonly crash: MonitorError };

/**
 * How long `stop` waits for `terminate` before cutting the process off: ms, `'infinity'`, or
 * `'brutal_kill'` (cut off at once, `terminate` does not run).
 */
export type ShutdownTimeout = number | 'infinity' | 'brutal_kill';

export type ExitListener = (reason: ExitReason) => void;

export interface ProcessRef {
  /** Unique within the host process; a restarted child gets a new id. */
  readonly id: number;
  /** The registered name, or a generated one (`<behaviour>#<id>`). */
  readonly name: string;
  /** False from the moment the process starts exiting. */
  readonly alive: boolean;
  /** Settles (never rejects) with the exit reason once the process has fully exited. */
  readonly exited: Promise<ExitReason>;
  /**
   * Calls `listener` once when the process exits; if it has already exited, on the next
   * microtask. Returns the unlink function.
   */
  link(listener: ExitListener): () => void;
  /**
   * Asks the process to stop with `reason`: it finishes the message in hand, runs `terminate`, and
   * exits. If that takes longer than `timeout` ms it is killed (`'killed'`). Resolves with the
   * actual exit reason; stopping a dead process resolves with its old reason.
   */
  stop(reason?: ExitReason, timeout?: ShutdownTimeout): Promise<ExitReason>;
  /**
   * Ends the process at once with `reason` (default `'killed'`), like erlang:exit(Pid, Reason) to
   * a process that does not trap exits: no further message is handled and `terminate` does not
   * run. Its supervisor sees the reason. For fault injection and last resorts.
   */
  kill(reason?: ExitReason): void;
}

/** OTP's rule: `normal` and `shutdown` are orderly exits; anything else is abnormal. */
export function isOrderlyExit(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown';
}

/** A one-line description of an exit reason for logs. */
export function formatExitReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  const cause = reason.crash.cause instanceof Error ? `: ${reason.crash.cause.message}` : '';
  return `${reason.crash.code} ${reason.crash.message}${cause}`;
}
