/**
 * Every export here is public API. Named exports only; types are exported separately.
 */
import { MONITOR_SUP_NAME, startMonitorSup } from '../actors/monitor-sup.js';
import { ErrorCode, MonitorError } from './errors.js';
import { createLogger, type Logger } from './logger.js';
import { type ChildSpec, type ExitReason, formatExitReason, isOrderlyExit, OtpSystem, type SupervisorPid } from './otp/index.js';

export interface MonitoringOptions {
  /** Where reports go (default: JSON lines on stderr). A pino logger fits. */
  logger?: Logger;
  /** Called once when the tree stops, whether by `stop()` or by giving up after too many crashes. */
  onStop?: (reason: ExitReason) => void;
  /**
   * Your own processes to supervise in the monitoring tree, started after the built-in children
   * (and stopped before them). They share the tree's restart intensity (10 in 60 s).
   */
  extraChildren?: readonly ChildSpec[];
}

/** The running monitoring tree. */
export interface Monitor {
  /** The top supervisor (`erlmcp_monitor_sup`). */
  readonly supervisor: SupervisorPid;
  /** The OTP system the tree runs in (name registry, logger). */
  readonly system: OtpSystem;
  /** Settles with the tree's exit reason when it stops, for whatever reason. Never rejects. */
  readonly stopped: Promise<ExitReason>;
  /** Orderly shutdown: children stop in reverse order, timers are cancelled. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts the monitoring supervision tree.
 *
 * If the tree exceeds its restart intensity it stops itself, logs one error line and calls
 * `onStop`; it never throws into the host application.
 *
 * @throws {MonitorError} (rejects) `EMON_INIT_FAILED` if a child fails to start (nothing is left running)
 */
export async function startMonitoring(options: MonitoringOptions = {}): Promise<Monitor> {
  if (options.onStop !== undefined && typeof options.onStop !== 'function') {
    throw new MonitorError(ErrorCode.InvalidOption, 'onStop must be a function');
  }
  const log = options.logger ?? createLogger();
  const system = new OtpSystem({ logger: log });
  let supervisor: SupervisorPid;
  try {
    supervisor = await startMonitorSup(system, [...(options.extraChildren ?? [])]);
  } catch (err) {
    system.close();
    throw err;
  }
  let stopping = false;
  const stopped = supervisor.exited.then((reason) => {
    if (!stopping && !isOrderlyExit(reason)) {
      log.error({ supervisor: MONITOR_SUP_NAME, reason: formatExitReason(reason) }, 'monitoring tree stopped: the host application keeps running without monitoring');
    }
    system.close();
    try {
      options.onStop?.(reason);
    } catch (err) {
      log.error({ err }, 'onStop callback threw');
    }
    return reason;
  });
  return {
    supervisor,
    system,
    stopped,
    async stop() {
      stopping = true;
      await supervisor.stop('shutdown', 'infinity');
      await stopped;
    },
  };
}

export { ErrorCode, MonitorError, NoProcError, CallTimeoutError } from './errors.js';
export { createLogger } from './logger.js';
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
} from './otp/index.js';

export type { Logger, LogLevel } from './logger.js';
export type {
  Behaviour,
  CallResult,
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
} from './otp/index.js';
