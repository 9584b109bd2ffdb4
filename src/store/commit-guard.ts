/**
 * `guardCommits`: keeps a failed LMDB commit from ever becoming an unhandled rejection in the host.
 *
 * **Why.** When lmdb-js (3.5) fails a commit (a full disk: `ENOSPC`, or `EIO` for a short write),
 * `rejectCommit` in its `write.js` rejects the promise of every write in the transaction with
 * `Commit failed (see commitError for details)`, and then rejects `error.commitError`, a promise
 * nobody can hold before that error exists, with the real cause (lmdb-js issue #368). Worse, the
 * first write of an event turn makes lmdb-js queue a batch start of its own (`writeBatchStart`,
 * run from its `setImmediate`), and the commit promise that start creates is thrown away: its
 * rejection can be handled by nobody. On a full 8 MiB tmpfs the unguarded tree got 55-70 such
 * rejections in 25 s (14 MB ext4: 56-64), and under Node's default `--unhandled-rejections=throw`
 * the first one kills the host (exit code 1).
 *
 * **How.** lmdb-js calls its `aftercommit` listeners at the start of `rejectCommit`, with the
 * resolutions it is about to reject (`next` up to, not including, `last`, whose flag says
 * `TXN_FAILED`, as lmdb-js checks it). Each resolution's `meta.reject` is the reject function of
 * a write's promise. The guard replaces it before it is called: the promise then RESOLVES with a
 * {@link CommitFailed} value instead of rejecting (so no promise of the env, held or not, ever
 * rejects for a failed commit), and `commitError` gets a handler at once, which also gives the
 * real cause. Every write this project awaits goes through {@link committed}, which turns that
 * value back into a thrown `MonitorError`. A write promise lmdb-js chains on itself (`transaction`)
 * would lose the value: use `batch` or a single put/remove, whose promise is the commit's.
 *
 * This relies on the internals named above (checked against lmdb 3.5.6); if lmdb-js stops calling
 * `aftercommit` that way, the guard does nothing and failures reject again as before.
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
    if (/MDB_MAP_FULL/.test(message)) return 'MDB_MAP_FULL';
    if (/read-only file system/i.test(message)) return 'EROFS';
  }
  return 'other';
}
