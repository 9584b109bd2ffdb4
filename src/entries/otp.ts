/**
 * `erlmcp-monitor/otp`: the OTP layer on its own, typed gen_servers, supervisors and timers, for
 * processes of your own (`extraChildren`) or a tree of your own. Every export here is public API.
 */
export {
  OtpSystem,
  startServer,
  startSupervisor,
  supervisorChild,
  workerChild,
  checkChildSpecs,
  checkFlags,
  isOrderlyExit,
  formatExitReason,
  TimerRef,
  DEFAULT_CALL_TIMEOUT,
} from '../otp/index.js';

export type {
  Behaviour,
  CallResult,
  MessageSchema,
  NoReplyResult,
  ServerContext,
  StartOptions,
  Pid,
  Protocol,
  ReplyTo,
  ServerRef,
  ExitReason,
  ProcessRef,
  ShutdownTimeout,
  ChildSpec,
  ChildInfo,
  RestartType,
  Strategy,
  SupervisorFlags,
  SupervisorPid,
  SupervisorProtocol,
  SupervisorSpec,
  SystemOptions,
  ChildCounts,
  SupervisorReport,
} from '../otp/index.js';
export type { FieldRule, FieldsOf, MessageFields } from '../check-message.js';
