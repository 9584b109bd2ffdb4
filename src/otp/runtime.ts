/**
 * The one place that imports nact. nact 7.6.2 is used only as a mailbox and scheduler: each
 * process incarnation is one top-level nact actor whose handler never throws, and everything nact
 * would otherwise decide (supervision, restarts, timers, hierarchy) is done by this layer instead.
 *
 * nact 7.6.2 defects this contains, and how:
 * - Children of a stopped actor are not stopped (`Actor.stop` only removes the child from the
 *   parent's map): every actor here is spawned flat under the system; the process hierarchy is
 *   kept by `Supervisor`, which stops its children itself, in reverse start order.
 * - Timers are not cancelled (nact has none tied to an actor's life): `TimerSet` owns every timer
 *   of one incarnation and cancels them all when it exits or restarts.
 * - No restart limit (`reset` restarts forever): restarts are decided by `Supervisor`, which
 *   counts them against intensity/period; nact's `onCrash` is never consulted.
 * - `reset`/`resume`/`escalate`/`stopAll` can run two handlers at once (a reset re-enters
 *   `processNext` while the old handler's promise is pending) or kill the process with an
 *   unhandled rejection (`handleFault` is async and nobody awaits it; `escalate` at the top calls
 *   `parent.handleFault` on the system, which `stop`s and logs to console): the handler installed
 *   here catches everything, so nact's fault path is unreachable and none of those actions is used.
 *   A restart is a brand-new actor, never a reset of an old one.
 * - Message types are unchecked (`dispatch(ref, any)`): the typed `Pid<P>` API in front of this
 *   module is the only way to send, so a message outside an actor's protocol does not compile.
 */
import nact from 'nact';
import type { ActorSystemRef, Ref } from 'nact';

/** An opaque handle on one nact actor. */
export interface Mailbox<M> {
  readonly name: string;
  post(message: M): void;
}

let nextActorId = 0;

class NactMailbox<M> implements Mailbox<M> {
  constructor(
    readonly name: string,
    readonly ref: Ref<M>,
  ) {}

  post(message: M): void {
    nact.dispatch(this.ref, message);
  }
}

/** One nact actor system, holding the mailboxes of every process started in an `OtpSystem`. */
export class Runtime {
  #system: ActorSystemRef | undefined = nact.start();

  /**
   * Creates a mailbox whose messages are handed to `handle` one at a time, in order; a returned
   * promise is awaited before the next message. `handle` must never throw or reject.
   */
  spawn<M>(name: string, handle: (message: M) => void | Promise<void>): Mailbox<M> {
    const system = this.#system;
    if (system === undefined) throw new Error('runtime is stopped');
    // nact accepts only RFC 1738-safe path segments.
    const actorName = `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${++nextActorId}`;
    return new NactMailbox(
      actorName,
      // nact types a stateless actor's ref by its parent, not its message type.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
      nact.spawnStateless(system, (message: M) => handle(message), actorName) as Ref<M>,
    );
  }

  /** Stops one mailbox: messages still queued are dropped (the owner settles them first). */
  close(mailbox: Mailbox<unknown>): void {
    if (this.#system !== undefined && mailbox instanceof NactMailbox) nact.stop(mailbox.ref);
  }

  /** Stops the whole nact system. Idempotent. */
  stop(): void {
    if (this.#system === undefined) return;
    nact.stop(this.#system);
    this.#system = undefined;
  }
}
