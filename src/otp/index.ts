/**
 * The OTP layer: typed gen_servers, supervisors and timers on top of nact. This barrel is what the
 * rest of the package imports; nothing outside src/otp imports nact.
 *
 * Supervisors follow supervisor.erl (strategies, restart types, intensity, give-up report and
 * `shutdown` exit, `ignore`, `restarting`, count_children, get_childspec). Where JS cannot do
 * what Erlang does: a process cannot be stopped from outside while its code runs, so a
 * `terminate` that outruns its shutdown time is cut off from the tree (it is `killed`: exited,
 * name released, links told) but its promise runs on; its AbortSignal fires then, and it should
 * stop its own work. There is no `simple_one_for_one` and no trap_exit flag: every process
 * behaves as an exit-trapping gen_server (a parent's `killed` runs its terminate).
 */
export { MAX_LOGGED_REFUSALS, startServer } from './gen-server.js';
export type { Behaviour, CallResult, MessageSchema, NoReplyResult, ServerContext, StartOptions } from './gen-server.js';
export { DEFAULT_CALL_TIMEOUT } from './pid.js';
export type { AnyReply, Message, Pid, Protocol, ReplyTo, ServerRef } from './pid.js';
export { crashOf, formatExitReason, isOrderlyExit } from './process.js';
export type { ExitListener, ExitReason, ProcessRef, ShutdownTimeout } from './process.js';
export {
  checkChildSpec,
  checkChildSpecs,
  checkFlags,
  startSupervisor,
  supervisorChild,
  workerChild,
} from './supervisor.js';
export type {
  ChildCounts,
  ChildInfo,
  ChildSpec,
  ChildType,
  RestartType,
  Strategy,
  SupervisorFlags,
  SupervisorPid,
  SupervisorProtocol,
  SupervisorSpec,
} from './supervisor.js';
export { OtpSystem } from './system.js';
export type { SupervisorReport, SupervisorReportListener, SystemOptions } from './system.js';
export { TimerRef } from './timers.js';
