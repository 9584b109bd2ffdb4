/**
 * `guardCommits`: keeps a failed LMDB commit (ENOSPC, EIO) from ever becoming an unhandled rejection,
 * which under Node's default `--unhandled-rejections=throw` kills the host. lmdb-js 3.5 rejects
 * promises nobody can hold (`commitError`, its own batch start: lmdb-js issue #368); the guard hooks
 * its `aftercommit` listeners so those promises resolve with a {@link CommitFailed} value instead,
 * and {@link committed} turns that back into a thrown `MonitorError`. Await writes through it and use
 * `batch` or a single put/remove, not `transaction`. Relies on lmdb-js 3.5.6 internals: how and why,
 * docs/design-notes.md.
 */
import { ErrorCode, MonitorError, toError } from '../errors.js';

/** How long a failed write waits for lmdb-js to report the real cause. */
const CAUSE_WAIT_MS = 1000;

/** What a guarded write promise resolves to when its commit failed. */
export class CommitFailed {
  /** The real cause (lmdb-js `commitError`), once known; the generic error until then. */
  #cause: Error;
  readonly #settled: Promise<void>;

  constructor(error: Error & { commitError?: Promise<unknown> }) {
    this.#cause = error;
    const commitError = error.commitError;
    if (commitError === undefined || typeof commitError.then !== 'function') {
      this.#settled = Promise.resolve();
      return;
    }
    // lmdb-js rejects commitError in the callback that failed the writes, or, when a later put
    // saw the failure first, once its writer thread reports it: wait a bounded while for it.
    this.#settled = Promise.race([
      commitError.then(
        () => undefined,
        (cause: unknown) => {
          this.#cause = toError(cause);
        },
      ),
      new Promise<void>((resolve) => setTimeout(resolve, CAUSE_WAIT_MS).unref()),
    ]);
  }

  /** The cause: the real one (e.g. `No space left on device`) when lmdb-js reported it in time. */
  async cause(): Promise<Error> {
    await this.#settled;
    return this.#cause;
  }
}

interface Resolution {
  next: Resolution | null;
  uint32: Uint32Array | null;
  flagPosition: number;
  meta: { resolve?: (value: unknown) => void; reject?: (err: unknown) => void; guarded?: true } | null;
}

interface AfterCommit {
  next?: Resolution;
  last?: Resolution;
  txnId?: number;
}

/** lmdb-js write.js: the flag its writer thread sets on a transaction that failed to commit. */
const TXN_FAILED = 0x4000_0000;

/** Guarded envs, and whether the last commit each saw failed. */
const lastFailed = new WeakMap<object, boolean>();

/**
 * Installs the guard on an lmdb-js root env (once per env; later calls do nothing).
 * @param env the object `open()` returned
 */
export function guardCommits(env: { on(event: string, callback: (info: AfterCommit) => void): void }): void {
  if (lastFailed.has(env)) return;
  lastFailed.set(env, false);
  env.on('aftercommit', ({ next, last }: AfterCommit) => {
    // `txnId` is no sign: a commit's id can read as undefined too. lmdb-js decides as here.
    const failed = last?.uint32 != null && (last.uint32[last.flagPosition]! & TXN_FAILED) !== 0;
    lastFailed.set(env, failed);
    if (!failed || next === undefined) return;
    // The same walk as lmdb-js rejectCommit: from `next` up to, not including, `last`.
    let resolution: Resolution | null = next;
    do {
      const meta = resolution.meta;
      if (meta?.reject !== undefined && meta.resolve !== undefined && meta.guarded === undefined) {
        const resolve = meta.resolve;
        meta.guarded = true;
        meta.reject = (err: unknown) => resolve(new CommitFailed(toError(err)));
      }
      resolution = resolution.next;
    } while (resolution !== null && resolution !== last);
  });
}

/**
 * Whether the last commit of a guarded env failed. lmdb-js then never settles that commit's flush
 * promise, and `env.close()` waits for it (see `MetricStore`'s `#settleFailedCommit`).
 */
export function lastCommitFailed(env: object): boolean {
  return lastFailed.get(env) === true;
}

/**
 * Awaits an lmdb-js write of a guarded env and throws if its commit failed.
 * @param write a put/remove/batch/clearAsync promise (or `env.flushed`)
 * @param what what was written, for the message (`flush`, `rooms.put`, ...)
 * @returns what the write resolved to (`true`, or `false` for a failed condition)
 * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` naming `what` and the cause; `cause` is the lmdb-js error
 */
export async function committed<T>(write: PromiseLike<T>, what: string): Promise<T> {
  let value: T | CommitFailed;
  try {
    value = await write;
  } catch (err) {
    const error = toError(err) as Error & { commitError?: Promise<unknown> };
    // Not guarded (another env, or lmdb-js changed): still hold commitError and report its cause.
    const failed = new CommitFailed(error);
    const cause = await failed.cause();
    throw new MonitorError(ErrorCode.StoreFailed, `${what}: the commit failed: ${cause.message}`, { cause });
  }
  if (value instanceof CommitFailed) {
    const cause = await value.cause();
    throw new MonitorError(ErrorCode.StoreFailed, `${what}: the commit failed: ${cause.message}`, { cause });
  }
  return value;
}

/**
 * A short, bounded name for why a write failed, for a metric label: the errno name lmdb-js gave
 * (`ENOSPC`, `EIO`, `EDQUOT`, ...), `MDB_MAP_FULL`, or `other`.
 */
export function failureReason(err: unknown): string {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    const message = e.message;
    if (/no space left/i.test(message)) return 'ENOSPC';
    if (/input\/output error/i.test(message)) return 'EIO';
    if (/quota/i.test(message)) return 'EDQUOT';
    if (message.includes('MDB_MAP_FULL')) return 'MDB_MAP_FULL';
    if (/read-only file system/i.test(message)) return 'EROFS';
  }
  return 'other';
}
