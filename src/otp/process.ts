/**
 * What every process (a gen_server incarnation or a supervisor) looks like from outside: an
 * identity, whether it is alive, how to be told when it exits (a link), and how to stop it.
 *
 * Exit reasons follow OTP: `'normal'`, `'shutdown'` and `{ shutdown: term }` (OTP's
 * `{shutdown, Term}`) are orderly; `'killed'` means it did not stop within its shutdown time and
 * was cut off; `{ crash }` carries the error that ended it; `{ exit: term }` is any other reason a
 * callback stops with (OTP's custom exit reasons), abnormal like a crash.
 */
import type { MonitorError } from '../errors.js';

export type ExitReason =
  | 'normal'
  | 'shutdown'
  | 'killed'
  | { readonly shutdown: unknown }
  | { readonly crash: MonitorError }
  | { readonly exit: unknown };

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

/** OTP's rule: `normal`, `shutdown` and `{ shutdown: term }` are orderly exits; anything else is abnormal. */
export function isOrderlyExit(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown' || (typeof reason === 'object' && 'shutdown' in reason);
}

/** The error of a `{ crash }` reason, or undefined for any other reason. */
export function crashOf(reason: ExitReason): MonitorError | undefined {
  return typeof reason === 'object' && 'crash' in reason ? reason.crash : undefined;
}

function formatTerm(term: unknown): string {
  if (typeof term === 'string') return term;
  try {
    return JSON.stringify(term) ?? String(term);
  } catch {
    return String(term);
  }
}

/** A one-line description of an exit reason for logs. */
export function formatExitReason(reason: ExitReason): string {
  if (typeof reason === 'string') return reason;
  if ('shutdown' in reason) return `{shutdown, ${formatTerm(reason.shutdown)}}`;
  if ('exit' in reason) return formatTerm(reason.exit);
  const cause = reason.crash.cause instanceof Error ? `: ${reason.crash.cause.message}` : '';
  return `${reason.crash.code} ${reason.crash.message}${cause}`;
}
