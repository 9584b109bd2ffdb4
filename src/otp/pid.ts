/**
 * Typed process references. A `Protocol` lists the messages a server accepts: `call` requests
 * (each answered with the reply type named in `replies`), `cast` messages (no reply) and `info`
 * messages (timers, plain sends). A `Pid<P>` or `ServerRef<P>` only accepts those, so a message
 * outside the protocol is a compile error rather than a runtime surprise.
 * Example protocol: docs/design-notes.md.
 */
import type { ProcessRef } from './process.js';

/** Every message is a plain object discriminated by a string `type`. */
export interface Message {
  readonly type: string;
}

export interface Protocol {
  call: Message;
  /** The reply type for each `call` type. */
  replies: Record<string, unknown>;
  cast: Message;
  info: Message;
}

/** The reply type for call request `M` of protocol `P`. */
export type ReplyTo<P extends Protocol, M extends P['call']> = M['type'] extends keyof P['replies']
  ? P['replies'][M['type']]
  : never;

/** Any reply of protocol `P` (what a `handleCall` may return). */
export type AnyReply<P extends Protocol> = P['replies'][P['call']['type']];

/** Default call timeout, as in gen_server. */
export const DEFAULT_CALL_TIMEOUT = 5000;

/** The messaging half of a pid: what `Pid` and `ServerRef` share. */
export interface ServerRef<P extends Protocol> {
  /**
   * Sends a request and waits for its reply.
   * @param timeout ms to wait (default 5000)
   * @throws {NoProcError} (rejects) the server is not alive or the name is not registered
   * @throws {CallTimeoutError} (rejects) no reply within `timeout`
   * @throws {MonitorError} (rejects) code `EMON_SERVER_EXITED` when the server exits before replying
   */
  call<M extends P['call']>(msg: M, timeout?: number): Promise<ReplyTo<P, M>>;
  /** Sends a message without waiting. A message to a dead server is dropped, as in OTP. */
  cast(msg: P['cast']): void;
  /** Delivers an info message (what a timer would send). Dropped if the server is dead. */
  send(msg: P['info']): void;
}

/** One incarnation of a server: dead for good once it exits; its restart is a new pid. */
export interface Pid<P extends Protocol> extends ServerRef<P>, ProcessRef {}
