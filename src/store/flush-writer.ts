/**
 * `FlushWriter`: the thread that queues a flush's LMDB writes, so the main thread only encodes.
 *
 * **Why a thread.** lmdb-js queues each `put` on the calling thread, and that costs ~0.4 µs per put
 * whatever the key and value encoding (100,000 puts: 39 ms with `[id, ts]` array keys and msgpack
 * values, 39-46 ms with pre-encoded 12-byte keys and raw float64 values; measured on the shared
 * 2-vCPU VM). One flush is one transaction, so all its puts run in one synchronous `batch`
 * callback: 10,000 histogram series (60,000 puts) held the event loop ~44 ms, 100,000 counters
 * (200,000 puts) ~114 ms. Here the main thread validates and encodes in chunks with yields, then
 * transfers three or four `ArrayBuffer`s (no copy); this thread runs the one `batch` and waits for
 * the commit to be durable.
 *
 * **Protocol.** `{ type: 'write', seq, ...EncodedFlush }` applies one encoded flush
 * (`flush-apply.ts`: current values, history chunks removed and put) in one transaction;
 * `{ type: 'close', seq }` closes the env. Each is answered `{ seq }` once done (a write: committed
 * and flushed to disk) or `{ seq, error }`. Requests are handled in order.
 *
 * **Lifecycle.** The thread starts with the first write and opens the env itself (lmdb-js shares
 * one LMDB env between the threads of a process). It does not keep the process alive while idle.
 * If it dies, the writes in flight fail and the next write starts a new thread.
 *
 * **One writer, typechecked.** The thread runs {@link writerThread} and {@link applyFlush} (the
 * function the main thread calls for small flushes) from their source text with `eval: true`.
 * Both stand alone, so the same text runs from the compiled package and from the TypeScript
 * sources under vitest (Node 20 cannot load a `.ts` worker file). The alternatives cost more: a
 * worker file next to the compiled module needs a loader hook under vitest (and tests then run
 * another code path than the package), and a separately built worker bundle needs a build step
 * before every test run.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ErrorCode, MonitorError, toError } from '../errors.js';
import { applyFlush, type EncodedFlush, type FlushTarget } from './flush-apply.js';

export type { EncodedFlush } from './flush-apply.js';

type WriterRequest = ({ type: 'write' } & EncodedFlush) | { type: 'close' };
interface WriterReply {
  seq: number;
  error?: string;
}

/** What the writer thread is started with (`workerData`). */
interface WriterData {
  /** The `lmdb` package entry, resolved by the main thread. */
  lmdb: string;
  dataDir: string;
  envOptions: Record<string, unknown>;
}

/** The slice of lmdb-js the thread uses. */
interface ThreadEnv {
  openDB(name: string, options: Record<string, unknown>): FlushTarget['current'] & FlushTarget['history'];
  on(event: 'aftercommit', listener: (info: { next?: ThreadResolution; last?: ThreadResolution }) => void): void;
  batch(write: () => void): Promise<unknown>;
  readonly flushed: Promise<unknown>;
  close(): Promise<void>;
}

interface ThreadResolution {
  next: ThreadResolution | null;
  uint32: Uint32Array | null;
  flagPosition: number;
  meta: { resolve?: (value: unknown) => void; reject?: (err: unknown) => void; guarded?: true } | null;
}

/**
 * The writer thread's main (CommonJS). Like {@link applyFlush}, it runs from its source text, so
 * it stands alone: everything comes in through `load` (the thread's `require`) and `apply`.
 * It carries its own copy of commit-guard.ts's guard (see there why): a failed commit resolves
 * every write promise of the env with a marker instead of rejecting, and the write then fails.
 */
function writerThread(load: (id: string) => unknown, apply: typeof applyFlush): void {
  const threads = load('node:worker_threads') as typeof import('node:worker_threads');
  const port = threads.parentPort!;
  const data = threads.workerData as WriterData;
  const lmdb = load(data.lmdb) as { open(options: Record<string, unknown>): ThreadEnv };
  const env = lmdb.open({ path: data.dataDir, ...data.envOptions });
  const target = {
    current: env.openDB('current', { keyEncoding: 'uint32', encoding: 'binary' }),
    history: env.openDB('history', { keyEncoding: 'binary', encoding: 'binary' }),
  };
  const failedMark = Symbol('commit failed');
  const txnFailed = 0x4000_0000; // lmdb-js write.js TXN_FAILED
  let lastFailed = false;
  env.on('aftercommit', ({ next, last }) => {
    lastFailed = last?.uint32 != null && (last.uint32[last.flagPosition]! & txnFailed) !== 0;
    if (!lastFailed || next === undefined) return;
    let resolution: ThreadResolution | null = next;
    do {
      const meta = resolution.meta;
      if (meta?.reject !== undefined && meta.resolve !== undefined && meta.guarded === undefined) {
        const resolve = meta.resolve;
        meta.guarded = true;
        meta.reject = (err: unknown) => {
          const failed = { [failedMark]: true, cause: err };
          const commitError = (err as { commitError?: Promise<unknown> } | null)?.commitError;
          commitError?.then(undefined, (cause: unknown) => (failed.cause = cause));
          resolve(failed);
        };
      }
      resolution = resolution.next;
    } while (resolution !== null && resolution !== last);
  });
  const check = async (value: unknown): Promise<void> => {
    if (value !== null && typeof value === 'object' && failedMark in value) {
      await new Promise((resolve) => setTimeout(resolve, 1000)); // commitError settles by then, if it does
      throw (value as unknown as { cause: unknown }).cause;
    }
  };
  const write = async (flush: EncodedFlush): Promise<void> => {
    await check(await env.batch(() => apply(target, flush)));
    await check(await env.flushed);
  };
  // After a failed commit lmdb-js never settles its flush promise and env.close() waits for it; an
  // empty batch commits without writing, even on a full disk (see MetricStore's #settleFailedCommit).
  const close = async (): Promise<void> => {
    if (lastFailed) await check(await env.batch(() => undefined)).catch(() => undefined);
    await env.close();
  };
  port.on('message', (request: WriterRequest & { seq: number }) => {
    const done = request.type === 'write' ? write(request) : close();
    done.then(
      () => port.postMessage({ seq: request.seq }),
      (err: unknown) => port.postMessage({ seq: request.seq, error: String((err as Error | null)?.message ?? err) }),
    );
  });
}

/** The thread's program: the two functions above, from their own text. */
const WRITER_SOURCE = `'use strict';\nconst applyFlush = (${applyFlush.toString()});\n(${writerThread.toString()})(require, applyFlush);\n`;

let lmdbEntry: string | undefined;

/**
 * The writer thread of one writable store. Writes are answered in the order they were sent.
 */
export class FlushWriter {
  readonly #dataDir: string;
  readonly #envOptions: Record<string, unknown>;
  #worker: Worker | undefined;
  #seq = 0;
  readonly #pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();

  /**
   * Starts nothing yet: the thread starts with the first write.
   * @param dataDir the env directory (already created and opened by the caller)
   * @param envOptions the options every opener of the env shares (structured-cloneable)
   */
  constructor(dataDir: string, envOptions: Record<string, unknown>) {
    this.#dataDir = dataDir;
    this.#envOptions = envOptions;
  }

  /**
   * Writes one flush in one transaction, in the writer thread; transfers the buffers of `flush`.
   * @returns resolves once the transaction is committed and flushed to disk
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if the commit fails or the thread dies
   * @throws {Error} (rejects) the thread's own error if it cannot start (e.g. the env does not open)
   */
  write(flush: EncodedFlush): Promise<void> {
    const buffers = [flush.currentIds, flush.currentEnds, flush.currentBytes, flush.removeKeys, flush.putKeys, flush.putEnds, flush.putBytes].map((a) => a.buffer as ArrayBuffer);
    const transfer = [...new Set(buffers)];
    return this.#request({ type: 'write', ...flush }, transfer);
  }

  /**
   * Closes the thread's env and ends the thread; a no-op if it never started. Call it only after
   * every write has settled.
   * @throws {MonitorError} (rejects) `EMON_STORE_FAILED` if the thread fails to close the env
   */
  async close(): Promise<void> {
    const worker = this.#worker;
    if (worker === undefined) return;
    try {
      await this.#request({ type: 'close' }, []);
    } finally {
      this.#worker = undefined;
      await worker.terminate();
    }
  }

  #request(request: WriterRequest, transfer: ArrayBuffer[]): Promise<void> {
    const worker = this.#worker ?? this.#start();
    const seq = ++this.#seq;
    const reply = new Promise<void>((resolve, reject) => this.#pending.set(seq, { resolve, reject }));
    if (this.#pending.size === 1) worker.ref(); // keep the process alive until the commit is durable
    try {
      worker.postMessage({ ...request, seq }, transfer);
    } catch (err) {
      this.#pending.delete(seq);
      if (this.#pending.size === 0) worker.unref();
      return Promise.reject(toError(err));
    }
    return reply;
  }

  #start(): Worker {
    lmdbEntry ??= createRequire(import.meta.url).resolve('lmdb');
    const worker = new Worker(WRITER_SOURCE, {
      eval: true,
      workerData: { lmdb: lmdbEntry, dataDir: this.#dataDir, envOptions: this.#envOptions },
    });
    worker.unref();
    worker.on('message', (reply: WriterReply) => this.#settle(reply));
    worker.on('error', (err) => this.#lost(worker, err));
    worker.on('exit', (code) => this.#lost(worker, new MonitorError(ErrorCode.StoreFailed, `the store's writer thread exited (code ${code})`)));
    this.#worker = worker;
    return worker;
  }

  #settle(reply: WriterReply): void {
    const pending = this.#pending.get(reply.seq);
    if (pending === undefined) return;
    this.#pending.delete(reply.seq);
    if (this.#pending.size === 0) this.#worker?.unref();
    if (reply.error === undefined) pending.resolve();
    else pending.reject(new MonitorError(ErrorCode.StoreFailed, reply.error));
  }

  /** The thread died (failed to start, threw, or exited): fail what it had, start anew next time. */
  #lost(worker: Worker, err: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    for (const pending of this.#pending.values()) pending.reject(err);
    this.#pending.clear();
  }
}
