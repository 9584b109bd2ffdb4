/**
 * Every error this package throws or rejects with is a {@link MonitorError} carrying a stable
 * {@link ErrorCode}. Callers branch on `code` (or on a subclass), never on the message text,
 * which is written for people: it names what was wrong and what is allowed.
 */

/** Stable error codes. The string values are part of the public API. */
export enum ErrorCode {
  /** A supervisor child spec has a bad or missing field. */
  InvalidChildSpec = 'EMON_INVALID_CHILD_SPEC',
  /** Supervisor flags (strategy, intensity, period) are out of range. */
  InvalidSupervisorFlags = 'EMON_INVALID_SUPERVISOR_FLAGS',
  /** A call or stop was addressed to a process that is not alive (or a name nobody holds). */
  NoProc = 'EMON_NOPROC',
  /** A call got no reply within its timeout. */
  CallTimeout = 'EMON_CALL_TIMEOUT',
  /** The server exited while a call to it was pending; `reason` says why. */
  ServerExited = 'EMON_SERVER_EXITED',
  /** A behaviour callback threw or its promise rejected; the original error is the `cause`. */
  CallbackFailed = 'EMON_CALLBACK_FAILED',
  /** A behaviour callback returned something that is not one of its documented result shapes. */
  BadReturnValue = 'EMON_BAD_RETURN_VALUE',
  /** A supervisor saw more restarts than its intensity allows within its period and gave up. */
  MaxRestartIntensity = 'EMON_MAX_RESTART_INTENSITY',
  /** `init` threw, rejected or timed out, so the process was never started. */
  InitFailed = 'EMON_INIT_FAILED',
  /** A name given to a process is already registered to a live process. */
  NameTaken = 'EMON_NAME_TAKEN',
  /** A timer was asked for with a delay that is not a finite number of milliseconds in range. */
  InvalidTimer = 'EMON_INVALID_TIMER',
  /** A message did not match the receiver's protocol (unknown `type` or bad fields). */
  BadMessage = 'EMON_BAD_MESSAGE',
  /** An option passed to a public function is invalid. */
  InvalidOption = 'EMON_INVALID_OPTION',
  /** A metric or label name does not match the allowed pattern. */
  InvalidName = 'EMON_INVALID_NAME',
  /** A metric update carried a value that is not allowed (NaN, Infinity, non-number, negative increment). */
  InvalidValue = 'EMON_INVALID_VALUE',
  /** A metric name that was never registered. */
  UnknownMetric = 'EMON_UNKNOWN_METRIC',
  /** Labels do not match the metric's label names (unknown, missing, or a value of the wrong type). */
  InvalidLabels = 'EMON_INVALID_LABELS',
  /** A name is already registered as another metric type or with other label names. */
  MetricConflict = 'EMON_METRIC_CONFLICT',
  /** A config file, environment override or programmatic override failed validation. */
  InvalidConfig = 'EMON_INVALID_CONFIG',
  /** The metric store could not open, read or commit (or it is closed, or open read-only for a write); see `cause`. */
  StoreFailed = 'EMON_STORE_FAILED',
  /** A store read or maintenance argument (series id, time range, point count, `nowMs`) is out of range. */
  InvalidQuery = 'EMON_INVALID_QUERY',
  /** A series definition, point or current value handed to the store is malformed; nothing was written. */
  InvalidRecord = 'EMON_INVALID_RECORD',
  /** An alert rule has a bad or missing field, or its name is already taken. */
  InvalidRule = 'EMON_INVALID_RULE',
  /** A silence has bad matchers, times, author or comment. */
  InvalidSilence = 'EMON_INVALID_SILENCE',
  /** An alert (send_alert or a signal) has a bad severity, message or labels. */
  InvalidAlert = 'EMON_INVALID_ALERT',
  /** No alert, rule or silence has the id or name given. */
  NotFound = 'EMON_NOT_FOUND',
  /** The alerting process holds as many alerts or silences as it allows; a new one was refused. */
  AlertLimit = 'EMON_ALERT_LIMIT',
  /** A notification handed to the outbox is malformed (id, reason, alert fields); nothing was queued. */
  InvalidNotification = 'EMON_INVALID_NOTIFICATION',
  /** The notification outbox is closed (or closing) and takes no more notifications. */
  OutboxClosed = 'EMON_OUTBOX_CLOSED',
  /** A message holds more than a limit allows (updates per batch, bad updates in one batch); what is past the limit was not applied. */
  LimitExceeded = 'EMON_LIMIT_EXCEEDED',
  /** Another store (in this or another process, on any host sharing the directory) holds the data dir's writer lock. */
  StoreLocked = 'EMON_STORE_LOCKED',
  /** The dashboard could not bind `dashboard.host`:`dashboard.port` (in use, not permitted, not a local address). */
  ListenFailed = 'EMON_LISTEN_FAILED',
  /** A supervisor was asked to restart or delete a child that is running (terminate it first). */
  ChildRunning = 'EMON_CHILD_RUNNING',
  /** A supervisor has no child with the id given. */
  ChildNotFound = 'EMON_CHILD_NOT_FOUND',
  /** A supervisor's child is between a failed restart and its next attempt (OTP's `restarting`). */
  ChildRestarting = 'EMON_CHILD_RESTARTING',
}

/** Base class of every error raised by erlmcp-monitor. */
export class MonitorError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MonitorError';
    this.code = code;
  }
}

/** The process addressed is not alive, or the name is not registered. */
export class NoProcError extends MonitorError {
  constructor(target: string, message = `noproc: no live process ${target}`) {
    super(ErrorCode.NoProc, message);
    this.name = 'NoProcError';
  }
}

/** A `call` did not get its reply within `timeoutMs`. */
export class CallTimeoutError extends MonitorError {
  readonly timeoutMs: number;

  constructor(target: string, requestType: string, timeoutMs: number) {
    super(ErrorCode.CallTimeout, `call ${requestType} to ${target} got no reply within ${timeoutMs} ms`);
    this.name = 'CallTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/** Turns anything thrown into an Error, keeping the original as `cause` when it was not one. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(`non-Error thrown: ${describeValue(thrown)}`, { cause: thrown });
}

/** A short, safe description of an arbitrary value for error messages. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of ${value.length}`;
  return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
}
