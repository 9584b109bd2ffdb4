/**
 * The one place that imports nact (7.6.2), used only as a mailbox and scheduler: each process
 * incarnation is one flat top-level actor whose handler never throws; this layer does the rest.
 * nact 7.6.2 defects this contains (details in docs/design-notes.md):
 * - children of a stopped actor are not stopped: `Supervisor` stops its own children;
 * - timers are not cancelled: `TimerSet` cancels an incarnation's timers when it exits;
 * - no restart limit: `Supervisor` counts restarts; `onCrash` is never consulted;
 * - `reset`/`resume`/`escalate`/`stopAll` can run two handlers at once or crash on an unhandled
 *   rejection: never used (a restart is a brand-new actor);
 * - message types are unchecked: the typed `Pid<P>` API is the only way to send.
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
