/**
 * The OTP layer: typed gen_servers, supervisors and timers on top of nact. This barrel is what the
 * rest of the package imports; nothing outside src/otp imports nact.
 */
export { MAX_LOGGED_REFUSALS, startServer } from './gen-server.js';
export type { Behaviour, CallResult, MessageSchema, NoReplyResult, ServerContext, StartOptions } from './gen-server.js';
export { DEFAULT_CALL_TIMEOUT } from './pid.js';
export type { AnyReply, Message, Pid, Protocol, ReplyTo, ServerRef } from './pid.js';
export { crashOf, formatExitReason, isOrderlyExit } from './process.js';
export type { ExitListener, ExitReason, ProcessRef, ShutdownTimeout } from './process.js';
export { checkChildSpec, checkChildSpecs, checkFlags, startSupervisor, supervisorChild, workerChild } from './supervisor.js';
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
